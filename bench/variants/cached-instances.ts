/**
 * graphql-cached-instances, exactly as the example poll server uses it: the derived poll strategy,
 * the v1 resolvers, `cachedContext` for per-request loaders, and a `CacheSubscriber` on the
 * contestant's own ORM, so that the mixed workload's votes refresh the cache after commit (the
 * mutation answers once the refresh is done).
 *
 * A variant of the library is ONE entry of {@link CACHED_INSTANCES_VARIANTS}: its id, its label,
 * the `InstanceCache` options it runs with (store, and any other option) and whether root lists
 * are cached. Everything else — Apollo, context, resolvers, write path, counts — is shared.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { type PollContext, pollRequestContext } from '../../examples/poll/context.js';
import { questionListOptions } from '../../examples/poll/queries.js';
import { cachedV1 } from '../../examples/poll/resolvers-shared.js';
import { resolversV1 } from '../../examples/poll/resolvers-v1.js';
import { createPollStrategy } from '../../examples/poll/strategy.js';
import { cachedContext } from '../../src/apollo/index.js';
import { InstanceCache, type InstanceCacheOptions } from '../../src/index.js';
import { CacheSubscriber } from '../../src/mikro-orm/index.js';
import { createRedisStore } from '../../src/redis.js';
import { execute, Q1, Q2, startApolloPair } from '../lib/apollo.js';
import type { Contestant } from '../lib/contestant.js';
import type { BenchDatabase } from '../lib/databases.js';
import { sendVote } from './writes.js';

/** What the benchmark hands a variant to build its cache options. */
export interface CachedInstancesRun {
  /** REDIS_URL. */
  readonly redisUrl: string;
  /** A Redis key namespace private to this contestant in this run; everything under it is deleted at the end. */
  readonly namespace: string;
  /** Records in the data set (users + questions + choices): size an in-process tier to hold them all. */
  readonly records: number;
}

/** One variant of the library: an entry of {@link CACHED_INSTANCES_VARIANTS}. */
export interface CachedInstancesVariant {
  /** Stable id (targets and `--only` refer to it). */
  readonly id: string;
  readonly label: string;
  /** The `InstanceCache` options this variant runs with; the cache closes the store it is given. */
  readonly cacheOptions: (run: CachedInstancesRun) => Promise<InstanceCacheOptions>;
  /** Whether the root list's pk query is cached too. */
  readonly listCache: boolean;
  /** It needs Redis: skipped (with one line saying why) when Redis does not answer. */
  readonly needsRedis: boolean;
}

/** The library's variants in this benchmark (bench/README.md, "Adding a variant of the library"). */
export const CACHED_INSTANCES_VARIANTS: readonly CachedInstancesVariant[] = [
  {
    id: 'gci-memory',
    label: 'graphql-cached-instances, memory store',
    cacheOptions: async () => ({}),
    listCache: false,
    needsRedis: false,
  },
  {
    id: 'gci-redis',
    label: 'graphql-cached-instances, Redis store',
    cacheOptions: async (run) => ({
      store: await createRedisStore({ url: run.redisUrl, namespace: run.namespace }),
    }),
    listCache: false,
    needsRedis: true,
  },
  {
    id: 'gci-redis-l1',
    label: 'graphql-cached-instances, Redis store + L1',
    cacheOptions: async (run) => ({
      store: await createRedisStore({ url: run.redisUrl, namespace: run.namespace }),
      l1: { maxEntries: 2 * run.records, maxBytes: 512 * 2 ** 20 },
    }),
    listCache: false,
    needsRedis: true,
  },
  {
    id: 'gci-redis-l1-lists',
    label: 'graphql-cached-instances, Redis store + L1 + cached root lists',
    cacheOptions: async (run) => ({
      store: await createRedisStore({ url: run.redisUrl, namespace: run.namespace }),
      l1: { maxEntries: 2 * run.records, maxBytes: 512 * 2 ** 20 },
    }),
    listCache: true,
    needsRedis: true,
  },
];

/**
 * The v1 resolvers a variant runs with: the example's, whose question list is cached (its
 * `cache` option), or the same list with that option removed, so the pk query runs every time.
 */
function resolversFor(variant: CachedInstancesVariant): typeof resolversV1 {
  if (variant.listCache) return resolversV1;
  const { cache: _, ...uncached } = questionListOptions;
  return { ...resolversV1, Query: { ...resolversV1.Query, questions: cachedV1.list('Question', uncached) } };
}

/** The library's contestant for one variant, on its own copy of the data. */
export async function createCachedInstances(
  variant: CachedInstancesVariant,
  db: BenchDatabase,
  run: CachedInstancesRun,
  extraPlugins: () => ApolloServerPlugin<PollContext>[] = () => [],
): Promise<Contestant> {
  const resolvers = resolversFor(variant);
  const cache = new InstanceCache(createPollStrategy(db.orm), await variant.cacheOptions(run));
  try {
    db.orm.em.getEventManager().registerSubscriber(new CacheSubscriber(cache));
    const context = cachedContext(cache, () => pollRequestContext(db.orm, false), { version: 'v1' });
    const servers = await startApolloPair<PollContext>(resolvers, extraPlugins);
    return {
      id: variant.id,
      label: variant.label,
      database: db.kind,
      store: variant.needsRedis ? `Redis (namespace ${run.namespace})` : 'in-process memory store',
      notes: `${variant.listCache ? 'root list cached (no SQL when warm)' : 'root pk list is 1 SQL'}; CacheSubscriber refreshes after commit`,
      sql: db.sql,
      db,
      ...(variant.needsRedis ? { redisPrefix: run.namespace } : {}),
      caches: true,
      async request(query, variables, cacheControl) {
        const contextValue = await context();
        const outcome = await execute(
          servers[cacheControl ? 'on' : 'off'],
          query === 'q1' ? Q1 : Q2,
          variables,
          contextValue,
        );
        const { misses, storeRoundTrips } = contextValue.cacheStats;
        return { ...outcome, misses, storeRoundTrips };
      },
      vote: async (choiceId, userId, voted) =>
        sendVote(servers.off, await context(), choiceId, userId, voted),
      async close() {
        await servers.on.stop();
        await servers.off.stop();
        await cache.close();
        await db.close();
      },
    };
  } catch (error) {
    await cache.close();
    throw error;
  }
}
