/**
 * The benchmark (bench/run.ts starts it with --expose-gc and NODE_ENV=production): every contestant
 * in this one process, on its own copy of the same data, verified against the floor, warmed, timed
 * on Q1 and Q2 (sequential and concurrent, cache-control off and on) in interleaved rounds, counted
 * (SQL, Redis round trips and keys), then run through the mixed read/write workload. Prints the
 * report; a full run also writes bench/results/latest.{json,md}. See bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { probeTcp } from '../test/support/probe-tcp.js';
import { contestantDefinitions } from './contestants.js';
import { Q1_VARIABLES } from './lib/apollo.js';
import { assembleReport } from './lib/assemble.js';
import type { Contestant, Skipped } from './lib/contestant.js';
import { generatePoll, modelOf } from './lib/data.js';
import {
  POSTGRES_POOL_MAX,
  POSTGRES_URL,
  PostgresDatabases,
  REDIS_URL,
  safeUrl,
  sqliteVersion,
} from './lib/databases.js';
import { q1Expected, q2Expected } from './lib/expected.js';
import { machineFacts } from './lib/machine.js';
import { retainedHeap, type Summary } from './lib/measure.js';
import { MixedWorkload } from './lib/mixed.js';
import { parseOptions } from './lib/options.js';
import {
  q2Ids,
  type Reference,
  type Scenario,
  sampleRedis,
  timeScenario,
  verify,
  warmUp,
} from './lib/phases.js';
import { RedisMonitor } from './lib/redis-monitor.js';
import { type ContestantReport, toMarkdown } from './lib/report.js';
import type { RequestCounts } from './lib/targets.js';

const started = performance.now();
const log = (line: string) => process.stderr.write(`${line}\n`);
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const options = parseOptions(process.argv.slice(2));
const machine = machineFacts();
const runTag = `${process.pid}_${Date.now().toString(36)}`;
const redisPrefix = `gci-bench-${runTag.replace('_', '-')}`;
log(
  `bench: Node ${machine.node} (NODE_ENV=${machine.nodeEnv}), ${machine.cpus} CPU (${machine.cpuModel}), load ` +
    `${machine.loadAverageAtStart.join(' / ')}${options.quick ? ' — quick run, never saved' : ''}`,
);

const contestants: Contestant[] = [];
const skipped: Skipped[] = [];
const services: Record<string, string> = {};
let postgres: PostgresDatabases | undefined;
let monitor: RedisMonitor | undefined;
let cleaning: Promise<void> | undefined;

/** Closes every contestant, drops the run's databases and deletes the run's Redis keys. Runs once. */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of contestants.splice(0).reverse())
      await c.close().catch((e: Error) => log(`bench: close ${c.id}: ${e.message}`));
    await monitor?.close();
    const removed: string[] = [];
    if (postgres) {
      const failed = await postgres.dropAll();
      if (failed.length > 0) log(`bench: could not drop ${failed.join(', ')}: drop them by hand`);
      removed.push(`Postgres databases gci_bench_${runTag}*`);
    }
    if (services.redis?.startsWith('Redis')) {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      let deleted = 0;
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) deleted += await redis.unlink(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
      removed.push(`${deleted} Redis keys under ${redisPrefix}*`);
    }
    if (removed.length > 0) log(`bench: cleaned up: ${removed.join(', ')}`);
  })();
  return cleaning;
}
// Ctrl-C reaches both the launcher and this process, and the launcher forwards it: act once.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`bench: ${signal}, cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

let exitCode = 0;
try {
  // ── Data and services ──────────────────────────────────────────────────────────────────────
  const data = generatePoll(options.scale);
  const model = modelOf(data);
  const questionIds = data.questions.map((q) => q.id);
  const require = process.env.REQUIRE_SERVICES === '1';
  let postgresDown: string | undefined;
  try {
    await probeTcp(POSTGRES_URL, 5432);
    postgres = await PostgresDatabases.create(data, runTag);
    services.postgres = `${postgres.version} at ${safeUrl(POSTGRES_URL)}, pool of ${POSTGRES_POOL_MAX} per contestant`;
  } catch (error) {
    postgresDown = `PostgreSQL at ${safeUrl(POSTGRES_URL)} does not answer (${(error as Error).message.split('\n')[0]})`;
    services.postgres = 'not available';
  }
  let redisDown: string | undefined;
  try {
    await probeTcp(REDIS_URL, 6379);
    const probe = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
    await probe.connect();
    const info = await probe.info('server');
    probe.disconnect();
    services.redis = `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'} at ${safeUrl(REDIS_URL)}`;
  } catch (error) {
    redisDown = `Redis at ${safeUrl(REDIS_URL)} does not answer (${(error as Error).message})`;
    services.redis = 'not available';
  }
  for (const down of [postgresDown, redisDown]) {
    if (down && require) throw new Error(`bench: ${down}, and REQUIRE_SERVICES=1`);
    if (down) log(`bench: ${down}: its contestants are skipped`);
  }
  const mainKind = postgres ? 'postgres' : 'sqlite';
  log(
    `bench: ${data.users.length} users, ${data.questions.length} questions, ${data.choices.length} choices, ${data.votes.length} votes generated and seeded (${elapsed()}); contestants read ${mainKind}`,
  );

  // ── Contestants, in creation order ─────────────────────────────────────────────────────────
  const definitions = contestantDefinitions({ data, model, postgres, postgresDown, redisDown, redisPrefix });
  const wanted = definitions.filter(
    (d) => d.id === 'floor' || options.only.length === 0 || options.only.some((part) => d.id.includes(part)),
  );

  const now = new Date();
  const verifyIds = [...q2IdsList(questionIds, 10), questionIds.length + 1];
  const reference: Reference = {
    q1: q1Expected(model, Q1_VARIABLES.first, Q1_VARIABLES.voters, now),
    q2: new Map(verifyIds.map((id) => [id, q2Expected(model, id, now)])),
  };
  const reports: ContestantReport[] = [];
  for (const definition of wanted) {
    if (definition.down) {
      skipped.push({ id: definition.id, reason: definition.down });
      continue;
    }
    const before = retainedHeap();
    const contestant = await definition.make();
    contestants.push(contestant);
    // Cold: the first Q1 and Q2 this contestant ever answers, then the full verification.
    let t = performance.now();
    await contestant.request('q1', Q1_VARIABLES, false);
    const coldQ1 = performance.now() - t;
    t = performance.now();
    await contestant.request('q2', { id: String(verifyIds[0]) }, false);
    const coldQ2 = performance.now() - t;
    // The floor's own answers are checked against the data too: the mixed workload's checker is then right.
    await verify(contestant, reference, 'cold');
    const warm = await warmUp(contestant, questionIds, {
      ...(contestant.slow
        ? { q1: Math.ceil(options.warmup.q1 / 10), q2: Math.ceil(options.warmup.q2 / 10), seconds: 0 }
        : options.warmup),
      modes: options.cacheControl,
    });
    const misses = await verify(contestant, reference, 'warm');
    if (contestant.caches && misses > 0)
      throw new Error(`bench: ${contestant.id} still misses ${misses} records after its warm-up`);
    reports.push({
      id: contestant.id,
      label: contestant.label,
      database: contestant.database,
      store: contestant.store,
      notes: contestant.notes,
      retainedHeapMB: (retainedHeap() - before) / 2 ** 20,
      coldMs: { q1: coldQ1, q2: coldQ2 },
      warmup: warm,
    });
    log(
      `bench: ${contestant.id} verified and warm (${warm.q1} Q1, ${warm.q2} Q2, ${warm.seconds.toFixed(1)} s) (${elapsed()})`,
    );
  }
  for (const s of skipped) log(`bench: skipped ${s.id}: ${s.reason}`);
  const sqlite = contestants.find((c) => c.database === 'sqlite' && c.db)?.db;
  if (sqlite) services.sqlite = await sqliteVersion(sqlite);

  // A smoke run verifies the naive resolvers but does not wait for them.
  const timed = options.quick ? contestants.filter((c) => !c.slow) : contestants;
  for (const c of contestants) {
    if (!timed.includes(c))
      skipped.push({ id: c.id, reason: 'verified but not timed: too slow for --quick' });
  }

  // ── Exact counts: Redis MONITOR sample ─────────────────────────────────────────────────────
  const counted = new Map<string, { q1: RequestCounts['redis']; q2: RequestCounts['redis'] }>();
  const redisContestants = timed.filter((c) => c.redisPrefix);
  if (redisContestants.length > 0) {
    try {
      monitor = await RedisMonitor.start(REDIS_URL);
    } catch (error) {
      log(`bench: Redis refused MONITOR (${(error as Error).message}): no Redis counts in this run`);
    }
  }
  for (const contestant of monitor ? redisContestants : []) {
    const q1 = await sampleRedis(
      monitor!,
      contestant,
      'q1',
      () => ({ ...Q1_VARIABLES }),
      options.monitorSample.q1,
    );
    const q2 = await sampleRedis(monitor!, contestant, 'q2', q2Ids(questionIds, 5), options.monitorSample.q2);
    for (const [name, x] of [
      ['Q1', q1],
      ['Q2', q2],
    ] as const) {
      if (x.libraryRoundTrips !== null && x.libraryRoundTrips !== x.redis.roundTrips) {
        log(
          `bench: warning: ${contestant.id} ${name}: MONITOR saw ${x.redis.roundTrips} round trips, the library counted ${x.libraryRoundTrips}`,
        );
      }
    }
    counted.set(contestant.id, { q1: q1.redis, q2: q2.redis });
  }
  await monitor?.close();
  monitor = undefined;

  // ── Timed scenarios ────────────────────────────────────────────────────────────────────────
  const scenarios: Scenario[] = [];
  for (const cacheControl of options.cacheControl) {
    for (const query of ['q1', 'q2'] as const) {
      for (const concurrency of [1, options.concurrency]) {
        const mode = concurrency === 1 ? 'seq' : `c${concurrency}`;
        scenarios.push({
          id: `${query}-${mode}-cc-${cacheControl ? 'on' : 'off'}`,
          query,
          concurrency,
          cacheControl,
        });
      }
    }
  }
  const chunkMs = (options.budgetSeconds * 1000) / options.rounds;
  log(
    `bench: timing ${timed.length} contestants × ${scenarios.length} scenarios, ${options.rounds} rounds of ${chunkMs.toFixed(0)} ms chunks (${elapsed()})`,
  );
  const measured = new Map<string, Map<string, Summary>>();
  for (const [i, scenario] of scenarios.entries()) {
    measured.set(
      scenario.id,
      await timeScenario(timed, scenario, options.rounds, chunkMs, questionIds, 1000 + i),
    );
    log(`bench: ${scenario.id} done (${elapsed()})`);
  }
  for (const contestant of timed) await verify(contestant, reference, 'after timing');

  // ── Mixed workload ─────────────────────────────────────────────────────────────────────────
  const writers = timed.filter((c) => c.vote);
  const plan = {
    concurrency: options.concurrency,
    writeShare: 0.05,
    q1Share: 0.5,
    q1Variables: Q1_VARIABLES,
  };
  const workloads = new Map(writers.map((c) => [c.id, new MixedWorkload(c, model, plan, now)]));
  const mixedChunkMs = (options.mixedSeconds * 1000) / options.rounds;
  for (let round = 0; round < options.rounds; round += 1) {
    for (let i = 0; i < writers.length; i += 1) {
      await workloads.get(writers[(i + round) % writers.length]!.id)!.runChunk(mixedChunkMs);
    }
  }
  for (const workload of workloads.values()) await workload.checkDatabase();
  log(`bench: mixed workload done (${elapsed()})`);

  // ── Report ─────────────────────────────────────────────────────────────────────────────────
  const report = assembleReport({
    options,
    started,
    machine,
    services,
    model,
    reference,
    timed,
    scenarios,
    measured,
    counted,
    mixed: new Map([...workloads].map(([id, workload]) => [id, workload.result()])),
    contestants: reports,
    skipped,
    chunkMs,
  });
  const markdown = toMarkdown(report);
  if (options.save) {
    const dir = new URL('./results/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    writeFileSync(new URL('latest.json', dir), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(new URL('latest.md', dir), markdown);
  }
  console.log(markdown);
  log(
    `bench: done in ${elapsed()}; ${options.save ? 'wrote bench/results/latest.json and latest.md' : `results not saved (${options.quick ? '--quick' : options.only.length > 0 ? '--only' : '--no-save'})`}`,
  );
} catch (error) {
  exitCode = interrupted ? 130 : 1;
  // After a signal, the cleanup stops servers under the running phase: that failure is not news.
  if (!interrupted) log((error as Error).stack ?? String(error));
} finally {
  await cleanUp();
}
process.exit(exitCode);

/** `n` ids drawn like Q2's (seed 3): the verification ids. */
function q2IdsList(questionIds: readonly number[], n: number): number[] {
  const next = q2Ids(questionIds, 3);
  return Array.from({ length: n }, () => Number(next().id));
}
