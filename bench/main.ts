/**
 * The benchmark itself (bench/run.ts sets NODE_ENV first, then imports this): the same nested
 * GraphQL query on the same seeded poll data, answered by the floor, per-request DataLoaders over
 * MikroORM, graphql-cached-instances, layered-loader and a whole-response cache, all in this one
 * process, verified to return the same JSON, then timed. Writes bench/results/latest.{json,md}.
 * See bench/README.md for how to read it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { probeTcp } from '../test/support/probe-tcp.js';
import { BENCH_QUERY, countFields, SERVER_OPTIONS_NOTE } from './lib/graphql.js';
import { machineFacts, packageVersions } from './lib/machine.js';
import {
  checkOutcome,
  collectGarbage,
  type Measurement,
  planIterations,
  summarize,
  timeVariants,
  warmUp,
} from './lib/measure.js';
import { parseOptions } from './lib/options.js';
import { type BenchReport, resultOf, toMarkdown, type VariantResult } from './lib/report.js';
import { type BenchDatabase, openPostgres, openSqlite, POSTGRES_URL, REDIS_URL } from './lib/services.js';
import type { BenchVariables, Variant } from './lib/variant.js';
import { createCachedInstancesVariant } from './variants/cached-instances.js';
import { createDataLoaderVariant } from './variants/dataloader-orm.js';
import { createFloorVariant } from './variants/floor.js';
import { createHttpVariant } from './variants/http.js';
import { createLayeredLoaderVariant } from './variants/layered-loader.js';
import { createResponseCacheVariant } from './variants/response-cache.js';

const started = performance.now();
const options = parseOptions(process.argv.slice(2));
const log = (line: string) => process.stderr.write(`${line}\n`);
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const safeUrl = (url: string) => url.replace(/\/\/[^@/]*@/, '//');

const machine = machineFacts();
log(
  `bench: Node ${machine.node} (NODE_ENV=${machine.nodeEnv}), ${machine.cpus} CPU (${machine.cpuModel}), ${machine.totalMemoryGiB} GiB, ` +
    `load ${machine.loadAverage1m}${options.quick ? ' — quick run' : ''}`,
);

const variables: BenchVariables = { first: options.seed.questions };
const skipped: { id: string; reason: string }[] = [];
const services: Record<string, string> = {};
const closers: (() => Promise<void>)[] = [];
const wanted = (id: string) =>
  options.only.length === 0 ||
  id === 'floor' ||
  id.startsWith('dataloader-') ||
  options.only.some((part) => id.includes(part));

/** Adds a variant, or records why it was skipped (its service does not answer, or it failed to start). */
async function add(list: Variant[], id: string, make: () => Promise<Variant>, needs?: string): Promise<void> {
  if (!wanted(id)) return;
  if (needs) {
    skipped.push({ id, reason: needs });
    log(`bench: skipping ${id}: ${needs}`);
    return;
  }
  try {
    const variant = await make();
    closers.push(() => variant.close());
    list.push(variant);
  } catch (error) {
    const reason = `could not start: ${(error as Error).message.split('\n')[0]}`;
    skipped.push({ id, reason });
    log(`bench: skipping ${id}: ${reason}`);
  }
}

let exitCode = 0;
const databases: BenchDatabase[] = [];
try {
  const sqlite = await openSqlite(options.seed);
  databases.push(sqlite);
  services.sqlite = sqlite.version;
  let postgres: BenchDatabase | undefined;
  let postgresDown: string | undefined;
  try {
    postgres = await openPostgres(options.seed);
    databases.push(postgres);
    services.postgres = postgres.version;
  } catch (error) {
    postgresDown = `PostgreSQL at ${safeUrl(POSTGRES_URL)} does not answer (${(error as Error).message.split('\n')[0]})`;
    services.postgres = 'not available';
  }
  let redisDown: string | undefined;
  try {
    await probeTcp(REDIS_URL, 6379);
    services.redis = `answering at ${safeUrl(REDIS_URL)}`;
  } catch (error) {
    redisDown = `Redis at ${safeUrl(REDIS_URL)} does not answer (${(error as Error).message})`;
    services.redis = 'not available';
  }
  log(
    `bench: data seeded (${elapsed()}); sqlite${postgres ? ', postgres' : ''}${redisDown ? '' : ', redis'}`,
  );

  const variants: Variant[] = [];
  await add(variants, 'floor', () => createFloorVariant(sqlite, variables));
  await add(variants, 'dataloader-sqlite', () => createDataLoaderVariant(sqlite, variables));
  await add(
    variants,
    'dataloader-postgres',
    () => createDataLoaderVariant(postgres!, variables),
    postgresDown,
  );
  await add(variants, 'gci-memory-sqlite', () => createCachedInstancesVariant(sqlite, 'memory', variables));
  await add(
    variants,
    'gci-redis-sqlite',
    () => createCachedInstancesVariant(sqlite, 'redis', variables),
    redisDown,
  );
  await add(
    variants,
    'gci-redis-postgres',
    () => createCachedInstancesVariant(postgres!, 'redis', variables),
    postgresDown ?? redisDown,
  );
  await add(variants, 'layered-loader-memory-sqlite', () =>
    createLayeredLoaderVariant(sqlite, 'memory', variables),
  );
  await add(
    variants,
    'layered-loader-redis-sqlite',
    () => createLayeredLoaderVariant(sqlite, 'redis', variables),
    redisDown,
  );
  await add(variants, 'response-cache', () => createResponseCacheVariant(sqlite, variables));
  if (options.http) await add(variants, 'http-gci-memory', () => createHttpVariant(sqlite, variables, false));

  // Verification: the floor's answer is the reference; every variant must return the same JSON,
  // cold (first request, caches empty) and warm.
  const floor = variants.find((v) => v.id === 'floor');
  if (!floor || !variants.some((v) => v.id === 'dataloader-sqlite')) {
    throw new Error('bench: the floor and the SQLite DataLoader baseline must run (see the lines above)');
  }
  const coldMs = new Map<string, number>();
  let reference = '';
  for (const variant of variants) {
    const t = performance.now();
    const outcome = await variant.request();
    coldMs.set(variant.id, performance.now() - t);
    if (variant === floor) reference = JSON.stringify(outcome.data);
    checkOutcome(variant, outcome, reference, 'cold');
  }
  const warmMs = await warmUp(variants, options.warmup);
  for (const variant of variants) {
    const outcome = await variant.request();
    checkOutcome(variant, outcome, reference, 'warm');
    if (outcome.counters?.misses) {
      throw new Error(`bench: ${variant.id} still misses ${outcome.counters.misses} records after warm-up`);
    }
  }
  const data = JSON.parse(reference) as unknown;
  const plan = {
    fixed: options.iterations,
    budgetMs: options.budgetSeconds * 1000,
    min: options.minIterations,
    max: options.maxIterations,
  };
  const iterations = planIterations(variants, warmMs, plan);
  log(
    `bench: ${variants.length} variants return the same ${countFields(data)}-field result (${elapsed()}); timing ` +
      `${[...iterations.values()].reduce((a, b) => a + b, 0)} requests in ${options.rounds} rounds`,
  );

  const measured = await timeVariants(variants, iterations, options.rounds, (round) =>
    log(`bench: round ${round + 1}/${options.rounds} done (${elapsed()})`),
  );

  // Phase 2: what one more enabled AsyncLocalStorage costs. First an interleaved A/B with a
  // storage of the benchmark's own, enabled for the "@als-on" batches and disabled for the
  // "@als-off" ones; then the HTTP handler's opt-in `countSql: true`, which enables the library's
  // storage for good and therefore runs last of all.
  const phase2: Variant[] = [];
  if (options.http) {
    const extra = new AsyncLocalStorage<true>();
    for (const id of ['gci-memory-sqlite', 'http-gci-memory']) {
      const original = variants.find((v) => v.id === id);
      if (!original) continue;
      for (const on of [false, true]) {
        phase2.push({
          ...original,
          id: `${id}@als-${on ? 'on' : 'off'}`,
          label: `${original.label}, one more AsyncLocalStorage ${on ? 'enabled' : 'disabled'}`,
          phase: 2,
          notes:
            'phase 2 A/B: the same variant, batches alternating with an extra AsyncLocalStorage on and off',
          request: () => original.request(),
          close: async () => {},
        });
      }
    }
    const toggle = (variant: Variant) => {
      if (variant.id.endsWith('@als-on')) extra.run(true, () => {});
      else extra.disable();
    };
    const half = { ...plan, fixed: plan.fixed && Math.ceil(plan.fixed / 2), budgetMs: plan.budgetMs / 2 };
    if (phase2.length > 0) {
      log(`bench: phase 2, AsyncLocalStorage A/B (${elapsed()})`);
      // Sized from the phase-1 warm-up of the variant each one repeats.
      const speed = new Map(phase2.map((v) => [v.id, warmMs.get(v.id.replace(/@als-(on|off)$/, '')) ?? 1]));
      const ab = await timeVariants(
        phase2,
        planIterations(phase2, speed, half),
        options.rounds,
        undefined,
        toggle,
      );
      extra.disable();
      for (const [id, m] of ab) measured.set(id, m);
    }
    const last: Variant[] = [];
    await add(last, 'http-gci-memory-countsql', () => createHttpVariant(sqlite, variables, true));
    for (const variant of last) {
      const t = performance.now();
      const outcome = await variant.request();
      coldMs.set(variant.id, performance.now() - t);
      checkOutcome(variant, outcome, reference, 'cold');
      const warm = await warmUp([variant], options.warmup);
      log(`bench: phase 2, countSql: true (${elapsed()})`);
      const m = await timeVariants([variant], planIterations([variant], warm, half), options.rounds);
      for (const [id, r] of m) measured.set(id, r);
      phase2.push(variant);
    }
  }
  collectGarbage();

  const all = [...variants, ...phase2];
  const summaries = new Map(all.map((v) => [v.id, summarize((measured.get(v.id) as Measurement).samples)]));
  const floorMean = summaries.get('floor')?.mean;
  const results: VariantResult[] = all.map((v) =>
    resultOf(
      v,
      measured.get(v.id)!,
      summaries.get(v.id)!,
      coldMs.get(v.id) ?? null,
      summaries.get(v.baseline)?.mean,
      floorMean,
    ),
  );
  const report: BenchReport = {
    format: 1,
    createdAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick: options.quick,
    durationSeconds: (performance.now() - started) / 1000,
    machine: { ...machine, loadAverage1mAtEnd: Math.round(loadavg()[0]! * 100) / 100 },
    packages: packageVersions(),
    services,
    data: {
      seed: options.seed,
      query: BENCH_QUERY,
      variables,
      resolvedFieldsPerResponse: countFields(data),
      responseBytes: Buffer.byteLength(reference),
    },
    method: {
      transport: 'Apollo Server executeOperation (no HTTP) unless the id starts with http-',
      serverOptions: SERVER_OPTIONS_NOTE,
      warmup: options.warmup,
      iterations:
        options.iterations === null
          ? `${options.budgetSeconds} s of timed requests per variant (phase 2: half), at least ${options.minIterations}, at most ${options.maxIterations}`
          : `${options.iterations} per variant (phase 2: half)`,
      rounds: options.rounds,
      concurrency: 1,
      verified:
        'Before timing, every variant returned JSON identical to the floor, cold and warm, without errors; cache variants had no misses when warm.',
      ratios:
        '"vs DataLoader" = mean of per-request DataLoader + MikroORM on the same database (SQLite for variants without one) ÷ this mean: above 1 is faster. "× floor" = this mean ÷ the floor mean. Both from this run.',
    },
    variants: results,
    skipped,
  };
  const markdown = toMarkdown(report);
  if (options.save) {
    const dir = new URL('./results/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    writeFileSync(new URL('latest.json', dir), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(new URL('latest.md', dir), markdown);
  }
  console.log(markdown);
  log(`bench: done in ${elapsed()}${options.save ? '; wrote bench/results/latest.json and latest.md' : ''}`);
} catch (error) {
  exitCode = 1;
  log((error as Error).stack ?? String(error));
} finally {
  for (const close of closers.reverse())
    await close().catch((e: Error) => log(`bench: close failed: ${e.message}`));
  for (const db of databases.reverse())
    await db.close().catch((e: Error) => log(`bench: close failed: ${e.message}`));
}
process.exit(exitCode);
