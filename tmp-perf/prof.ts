// Scratch: CPU profile of only the measured loop of one contestant (ONLY=id, Q=q1|q2).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { generatePoll, modelOf } from '../bench/lib/data.js';
import { openSqlite, REDIS_URL } from '../bench/lib/databases.js';
import { CACHED_INSTANCES_VARIANTS, createCachedInstances } from '../bench/variants/cached-instances.js';
import { createFloor } from '../bench/variants/floor.js';
import { createLayeredLoader } from '../bench/variants/layered-loader.js';

const data = generatePoll(Number(process.env.SCALE ?? 0.1));
const model = modelOf(data);
const records = data.users.length + data.questions.length + data.choices.length;
const id = process.env.ONLY ?? 'gci-redis-l1';
const q = (process.env.Q ?? 'q2') as 'q1' | 'q2';
const n = Number(process.env.N ?? 5000);
let c;
if (id === 'floor') c = await createFloor(model);
else if (id === 'llr') c = await createLayeredLoader(await openSqlite(data), 'redis', `prof-${process.pid}`);
else if (id === 'llm') c = await createLayeredLoader(await openSqlite(data), 'memory-redis', `prof-${process.pid}`);
else {
  const v = CACHED_INSTANCES_VARIANTS.find((x) => x.id === id)!;
  c = await createCachedInstances(v, await openSqlite(data), { redisUrl: REDIS_URL, namespace: `prof-${process.pid}`, records });
}
const ids = data.questions.map((x) => x.id);
const vars = (i: number) => (q === 'q1' ? { first: 50, voters: 5 } : { id: String(ids[(i * 7919) % ids.length]) });
for (let i = 0; i < 500; i++) await c.request(q, vars(i), false);
for (let i = 0; i < ids.length; i++) await c.request(q, { id: String(ids[i]) }, false);
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
const t0 = performance.now();
for (let i = 0; i < n; i++) await c.request(q, vars(i), false);
const ms = (performance.now() - t0) / n;
const { profile } = await session.post('Profiler.stop');
writeFileSync(`/tmp/prof/${id}-${q}.cpuprofile`, JSON.stringify(profile));
console.log(`${q} ${id} ${ms.toFixed(3)} ms/req`);
await c.close();
process.exit(0);
