// Scratch: Q1/Q2 per-request time of the floor vs library variants, in-process, SQLite + memory/Redis.
import { generatePoll, modelOf } from '../bench/lib/data.js';
import { openSqlite, REDIS_URL } from '../bench/lib/databases.js';
import { CACHED_INSTANCES_VARIANTS, createCachedInstances } from '../bench/variants/cached-instances.js';
import { createFloor } from '../bench/variants/floor.js';
import { createLayeredLoader } from '../bench/variants/layered-loader.js';

const data = generatePoll(Number(process.env.SCALE ?? 0.1));
const model = modelOf(data);
const records = data.users.length + data.questions.length + data.choices.length;
const only = (process.env.ONLY ?? 'floor,gci-memory,gci-redis,gci-redis-l1,gci-redis-l1-lists,llr,llm').split(
  ',',
);
const n = Number(process.env.N ?? 300);
const contestants = [];
if (only.includes('floor')) contestants.push(await createFloor(model));
for (const v of CACHED_INSTANCES_VARIANTS) {
  if (!only.includes(v.id)) continue;
  contestants.push(
    await createCachedInstances(v, await openSqlite(data), {
      redisUrl: REDIS_URL,
      namespace: `micro-${process.pid}-${v.id}`,
      records,
    }),
  );
}
if (only.includes('llr'))
  contestants.push(await createLayeredLoader(await openSqlite(data), 'redis', `micro-${process.pid}-llr`));
if (only.includes('llm'))
  contestants.push(
    await createLayeredLoader(await openSqlite(data), 'memory-redis', `micro-${process.pid}-llm`),
  );
const ids = data.questions.map((q) => q.id);
for (const q of (process.env.Q ?? 'q1,q2').split(',') as ('q1' | 'q2')[]) {
  for (const c of contestants) {
    const vars = (i: number) =>
      q === 'q1' ? { first: 50, voters: 5 } : { id: String(ids[(i * 7919) % ids.length]) };
    for (let i = 0; i < Math.max(50, n / 5); i++) await c.request(q, vars(i), false);
    for (let i = 0; i < ids.length && q === 'q2'; i++) await c.request(q, { id: String(ids[i]) }, false);
    (globalThis as { gc?: () => void }).gc?.();
    const N = q === 'q1' ? n : n * 10;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await c.request(q, vars(i), false);
    const ms = (performance.now() - t0) / N;
    console.log(`${q} ${c.id.padEnd(22)} ${ms.toFixed(3)} ms/req  ${(1000 / ms).toFixed(0)} req/s`);
  }
}
for (const c of contestants) await c.close();
process.exit(0);
