/**
 * graphql-cached-instances, exactly as the example poll server uses it: the derived poll strategy,
 * the v1 resolvers (`createCachedResolvers`), `cachedContext` for per-request loaders, on the
 * memory store or on Redis. Measured warm: every record is in the store, so a request costs the
 * root pk query (SQL) plus one store round trip per level of nesting.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { EntityManager } from '@mikro-orm/core';
import type { PollCacheRecords, PollContext, PollRequestContext } from '../../examples/poll/context.js';
import { resolversV1 } from '../../examples/poll/resolvers-v1.js';
import { createPollStrategy } from '../../examples/poll/strategy.js';
import { cachedContext } from '../../src/apollo/index.js';
import { type CacheStore, InstanceCache } from '../../src/index.js';
import { createRedisStore, type RedisStore } from '../../src/redis.js';
import { startApollo } from '../lib/graphql.js';
import { type BenchDatabase, REDIS_URL } from '../lib/services.js';
import { type BenchVariables, executeBenchQuery, type Variant } from '../lib/variant.js';

/** An instance cache over `db` and the context function the example server would give Apollo. */
export interface PollCacheSetup {
  readonly cache: InstanceCache<PollCacheRecords>;
  /** Builds one request's context (what Apollo's context function returns). */
  readonly context: () => Promise<PollContext>;
  /** Deletes the run's keys and closes the store. */
  close(): Promise<void>;
}

/** The app's base context for an anonymous viewer (the example's, minus the HTTP request). */
function baseContext(em: EntityManager): () => PollRequestContext {
  return () => ({ em: em.fork(), viewer: { staff: false }, now: new Date() });
}

/** Builds the cache over `db`, on the memory store or on a Redis namespace of this run. */
export async function createPollCache(db: BenchDatabase, store: 'memory' | 'redis'): Promise<PollCacheSetup> {
  let redis: RedisStore | undefined;
  let cacheStore: CacheStore | undefined;
  if (store === 'redis') {
    redis = await createRedisStore({ url: REDIS_URL, namespace: `gci-bench-${process.pid}-${db.kind}` });
    cacheStore = redis;
  }
  const cache = new InstanceCache(createPollStrategy(db.orm), cacheStore ? { store: cacheStore } : {});
  const context = cachedContext(cache, baseContext(db.orm.em), { version: 'v1' });
  return {
    cache,
    context,
    async close() {
      if (redis) {
        await cache.dropVersion('v1');
        await cache.dropVersion('v2');
      }
      await cache.close();
    },
  };
}

/** The library's variant on `db` with a `store` (see the file comment). */
export async function createCachedInstancesVariant(
  db: BenchDatabase,
  store: 'memory' | 'redis',
  variables: BenchVariables,
  extraPlugins: ApolloServerPlugin<PollContext>[] = [],
): Promise<Variant & { readonly setup: PollCacheSetup }> {
  const setup = await createPollCache(db, store);
  const server = await startApollo<PollContext>(resolversV1, extraPlugins);
  return {
    setup,
    id: `gci-${store}-${db.kind}`,
    label: `graphql-cached-instances, ${store} store (${db.kind}), warm`,
    transport: 'executeOperation',
    database: db.kind,
    store: store === 'redis' ? 'Redis (@keyv/redis, direct MGET)' : 'memory (keyv over a Map, strings)',
    baseline: `dataloader-${db.kind}`,
    phase: 1,
    notes: 'records decoded from the store on every request (JSON.parse + codecs); root pk list is 1 SQL',
    async request() {
      const contextValue = await setup.context();
      const outcome = await executeBenchQuery(server, variables, contextValue);
      const { storeRoundTrips, hits, misses, memoHits } = contextValue.cacheStats;
      return { ...outcome, counters: { storeRoundTrips, hits, misses, memoHits } };
    },
    async close() {
      await server.stop();
      await setup.close();
    },
  };
}
