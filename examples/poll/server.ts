/**
 * The poll API server: MikroORM (better-sqlite in memory, or Postgres), the instance cache (in
 * memory, or Redis), the CacheSubscriber that refreshes it after every commit, and both schema
 * versions on one port at `/graphql/v1` and `/graphql/v2` (express 5 + Apollo's integration,
 * see ./http.ts) — with the library's safety defaults: query depth and cost limits, masked
 * internal errors, and read rules that follow relations.
 */
import { readFileSync } from 'node:fs';
import type { MikroORM } from '@mikro-orm/core';
import {
  ApolloServerPluginCacheStats,
  type CacheStatsPlugin,
  type CacheStatsTotals,
  cachedContext,
  createCacheStatsTotals,
  createErrorFormatter,
  createQueryLimits,
  type ErrorLogger,
  type QueryLimitsOptions,
} from '../../src/apollo/index.js';
import { backgroundRunner, type CacheStore, type CascadeRunner, InstanceCache } from '../../src/index.js';
import {
  CacheJournal,
  type CacheJournalOptions,
  CacheSubscriber,
  createSqlCountingLoggerFactory,
} from '../../src/mikro-orm/index.js';
import { createRedisStore } from '../../src/redis.js';
import { createPollRequestContext, type PollCacheRecords, type PollContext } from './context.js';
import { Question } from './entities.js';
import { serveVersions } from './http.js';
import { createPollOrm } from './orm.js';
import { resolversV1 } from './resolvers-v1.js';
import { resolversV2 } from './resolvers-v2.js';
import { type SeededPoll, type SeedPollOptions, seedPoll } from './seed.js';
import { createPollStrategy, POLL_VERSIONS, type PollVersion } from './strategy.js';

/** The sample data `npm start` serves: 50 questions × 4 choices × 5 voters, 200 users. */
export const DEFAULT_SEED: SeedPollOptions = {
  questions: 50,
  choicesPerQuestion: 4,
  users: 200,
  votesPerChoice: 5,
};

/** Options of {@link startPollServer}. */
export interface StartPollServerOptions {
  /** TCP port. Default 4000; `0` picks a free one. */
  port?: number;
  /** Interface. Default `'127.0.0.1'`. */
  host?: string;
  /**
   * The database: a `postgres://` URL, or `':memory:'` (default, better-sqlite). A memory
   * database is created and seeded; a Postgres one gets the poll schema created if missing and is
   * seeded only when it has no questions.
   */
  databaseUrl?: string;
  /** Recreate the schema (dropping every poll table) before seeding. Default: true for `':memory:'` only. */
  resetDatabase?: boolean;
  /** Keep the cache in Redis at this URL (key namespace `poll`). Default: in process memory. */
  redisUrl?: string;
  /** A cache store to use instead (it stays open on `close()`; tests pass their own). */
  store?: CacheStore;
  /** Sample data for an empty database, or `false` for none. Default {@link DEFAULT_SEED}. */
  seed?: SeedPollOptions | false;
  /** Put `extensions.cache` on every response. Default `false`: only with the `x-cache-stats: 1` header. */
  cacheStats?: boolean;
  /** Drop the Postgres database on `close()` (for tests on a private database). Default `false`. */
  dropDatabaseOnClose?: boolean;
  /**
   * Query limits (see `createQueryLimits`). Default: the library's defaults — depth 10, cost
   * 20,000 with lists counted at their `first` (else 10).
   */
  queryLimits?: QueryLimitsOptions;
  /** Where internal errors are logged with their id and cause. Default: stderr. */
  logger?: ErrorLogger;
  /**
   * Send internal errors' messages and stack traces to clients (local development only). Default
   * `false`, whatever `NODE_ENV` says.
   */
  errorDetails?: boolean;
  /**
   * The durable invalidation journal (see `CacheJournal`): options, or `false` for none. Default
   * on, with the library's defaults — recovery every 5 s applies what a process that died after
   * COMMIT left behind, and replays what a store restored from a snapshot lost.
   */
  journal?: CacheJournalOptions | false;
  /**
   * Where each commit's cascade runs: `'inline'` (default; a mutation answers after the cache was
   * refreshed), `'background'` (it answers after COMMIT; the refresh follows in this process,
   * journaled, drained on `close()`) or `'queue'` (BullMQ jobs on `redisUrl`, run by a worker
   * process: see ./worker.ts; needs `redisUrl`).
   */
  cascade?: 'inline' | 'background' | 'queue';
  /** Keep decoded records in this process too (the cache's `l1` option; needs Redis or memory). Default `false`. */
  l1?: boolean;
  /** `false` turns the cache off: every read goes to the database (the cache's `enabled`). Default `true`. */
  cacheEnabled?: boolean;
}

/** A running poll server. */
export interface PollServer {
  /** `http://host:port`. */
  readonly url: string;
  /** The endpoint of each schema version. */
  readonly urls: Readonly<Record<PollVersion, string>>;
  readonly orm: MikroORM;
  readonly cache: InstanceCache<PollCacheRecords>;
  /** The subscriber that refreshes the cache after each commit (its `runner` drains on shutdown). */
  readonly subscriber: CacheSubscriber;
  /** The durable journal, unless `journal: false`. */
  readonly journal: CacheJournal | undefined;
  /** What the seed created, or `null` when the database was not seeded. */
  readonly seeded: SeededPoll | null;
  /** Cache figures summed over every request so far (both versions). */
  readonly stats: Readonly<CacheStatsTotals>;
  /** Graceful shutdown: drains HTTP, then closes the cache (if it owns its store) and the ORM. */
  close(): Promise<void>;
}

const schemaDir = new URL('../../schema/', import.meta.url);

function loadSdl(version: PollVersion): string {
  return readFileSync(new URL(`${version}/poll.graphql`, schemaDir), 'utf8');
}

/** Logs an internal error with its id and its cause (stack included) on stderr. */
const stderrLogger: ErrorLogger = {
  error(message, details) {
    const cause = details.error instanceof Error ? (details.error.stack ?? details.error.message) : '';
    process.stderr.write(`${message}\n${cause}\n`);
  },
};

/** Starts the poll API; resolves once it listens. */
export async function startPollServer(options: StartPollServerOptions = {}): Promise<PollServer> {
  const database = options.databaseUrl ?? ':memory:';
  if (database !== ':memory:' && !/^postgres(ql)?:\/\//.test(database)) {
    throw new TypeError(
      `startPollServer: databaseUrl must be a postgres:// URL or ':memory:', got ${database}`,
    );
  }
  const reset = options.resetDatabase ?? database === ':memory:';
  // Every statement is counted into the request that caused it (extensions.cache.sql).
  const orm = await createPollOrm({
    database,
    fresh: reset,
    loggerFactory: createSqlCountingLoggerFactory(),
  });
  if (!reset) await orm.schema.updateSchema();
  let seeded: SeededPoll | null = null;
  const seed = options.seed ?? DEFAULT_SEED;
  if (seed && (await orm.em.fork().count(Question)) === 0) seeded = await seedPoll(orm.em.fork(), seed);

  const store =
    options.store ??
    (options.redisUrl ? await createRedisStore({ url: options.redisUrl, namespace: 'poll' }) : undefined);
  const cache = new InstanceCache(createPollStrategy(orm), {
    ...(store ? { store } : {}),
    l1: options.l1 ?? false,
    enabled: options.cacheEnabled ?? true,
  });
  // A database that was just created or seeded has new rows under old pks: records a shared store
  // still holds from an earlier database must go.
  if (seeded || reset) await Promise.all(POLL_VERSIONS.map((version) => cache.dropVersion(version)));
  const journal =
    options.journal === false
      ? undefined
      : new CacheJournal(orm, cache, {
          logger: { warn: (message) => process.stderr.write(`${message}\n`) },
          ...options.journal,
        });
  const onError = (error: unknown) =>
    process.stderr.write(`cache invalidation failed: ${(error as Error).message}\n`);
  let runner: CascadeRunner | undefined;
  if (options.cascade === 'background') runner = backgroundRunner(cache, { journal, onError });
  else if (options.cascade === 'queue') {
    if (!options.redisUrl) throw new TypeError("startPollServer: cascade: 'queue' needs redisUrl");
    // Loaded only in this mode: bullmq is an optional peer.
    const { bullmqRunner } = await import('../../src/queue/bullmq.js');
    runner = bullmqRunner({ connection: options.redisUrl, onError });
  }
  // Registered after seeding: the seed flush would otherwise refresh every new instance.
  const subscriber = new CacheSubscriber(cache, { journal, runner, onError });
  orm.em.getEventManager().registerSubscriber(subscriber);
  // Applies what a process that died after COMMIT left behind, now and every few seconds.
  journal?.start();

  const logger = options.logger ?? stderrLogger;
  const limits = createQueryLimits<PollContext>(options.queryLimits);
  const formatError = createErrorFormatter({ logger, includeDetails: options.errorDetails ?? false });
  const base = createPollRequestContext(orm);
  const statsPlugins: CacheStatsPlugin<PollContext>[] = [];
  const running = await serveVersions<PollContext>({
    port: options.port ?? 4000,
    host: options.host ?? '127.0.0.1',
    // The example reports each request's SQL in extensions.cache.sql; production servers that do
    // not need it leave countSql off (it costs CPU on every promise).
    countSql: true,
    logger,
    versions: POLL_VERSIONS.map((version) => {
      const stats = ApolloServerPluginCacheStats<PollContext>({ enabled: options.cacheStats ?? false });
      statsPlugins.push(stats);
      return {
        path: `/graphql/${version}`,
        server: {
          typeDefs: loadSdl(version),
          resolvers: version === 'v1' ? resolversV1 : resolversV2,
          validationRules: limits.validationRules,
          plugins: [limits.plugin, stats],
          formatError,
        },
        context: cachedContext(cache, base, { version }),
      };
    }),
  });
  const urls = Object.fromEntries(POLL_VERSIONS.map((version, i) => [version, running.urls[i]!])) as Record<
    PollVersion,
    string
  >;
  let closing: Promise<void> | undefined;
  return {
    url: running.origin,
    urls,
    orm,
    cache,
    subscriber,
    journal,
    seeded,
    get stats() {
      const sum = createCacheStatsTotals();
      for (const plugin of statsPlugins) {
        for (const key of Object.keys(sum) as (keyof CacheStatsTotals)[]) sum[key] += plugin.totals[key];
      }
      return sum;
    },
    close() {
      closing ??= (async () => {
        await running.stop();
        await subscriber.runner.close();
        await journal?.close();
        if (!options.store) await cache.close();
        if (options.dropDatabaseOnClose && database !== ':memory:') await orm.schema.dropDatabase();
        await orm.close(true);
      })();
      return closing;
    },
  };
}
