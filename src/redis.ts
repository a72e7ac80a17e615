/**
 * The Redis store, a separate entry point (`graphql-cached-instances/redis`) so that the core
 * does not import `@keyv/redis` for users of the memory store.
 *
 * @packageDocumentation
 */
import KeyvRedis, { createClient, Keyv, type RedisClientType } from '@keyv/redis';
import type { CacheStore } from './core/store.js';
import { keyvStore } from './core/store.js';
import { InvalidOptionError, StoreError } from './errors.js';

/** A node-redis client as created by `createClient` (re-exported by `@keyv/redis`). */
export type RedisClient = RedisClientType;

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** A Redis URL; the store creates, connects and (on `close()`) quits its own client. */
  url?: string;
  /**
   * An already connected node-redis client to share. The store never closes it. Give either
   * `url` or `client`. Create it with `disableOfflineQueue: true`, or commands issued while Redis
   * is down wait for the reconnect instead of failing over to the database.
   */
  client?: RedisClient;
  /**
   * How long the first connection may take before `createRedisStore` rejects (node-redis would
   * otherwise retry forever in the background). Default 5000 ms. Later reconnects are retried
   * without limit, and commands fail fast meanwhile.
   */
  connectTimeout?: number;
  /**
   * keyv namespace: Redis keys are `{namespace}::{cache key}`. Default `'gci'`. Give each test
   * suite or application sharing a Redis its own.
   */
  namespace?: string;
}

// keyv's default serializer JSON-wraps every value and parses it back with a reviver on every
// read, which measured as the largest single cost of a warm request. The cache already hands
// over strings it encoded itself, so store exactly those strings (TTL still goes to Redis as PX).
const rawSerialize = ((data: { value: unknown }) => data.value as string) as never;
const rawDeserialize = ((text: string) => ({ value: text })) as never;

/** A {@link CacheStore} on Redis, with the extra handles an operator needs. */
export interface RedisStore extends CacheStore {
  /** The node-redis client (for health checks, `INFO`, Lua). */
  readonly client: RedisClient;
  /** The key namespace in Redis. */
  readonly namespace: string;
  /** Quits the client if the store created it (from `url`); a shared `client` is left open. */
  close(): Promise<void>;
}

/**
 * Creates a Redis-backed {@link CacheStore} through `@keyv/redis`. Batched reads are one `MGET`
 * issued on the client directly (keyv's per-row deserialization is skipped); writes are one
 * `MULTI…EXEC` through keyv; `deleteByPrefix` walks `SCAN` and `UNLINK`s in batches.
 *
 * Redis must not evict generation entries: use `maxmemory-policy noeviction`, or a `volatile-*`
 * policy with the cache's `ttl` set (then only records, which carry a TTL, are evicted).
 */
export async function createRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const namespace = options.namespace ?? 'gci';
  let client = options.client;
  const owned = client === undefined;
  if (!client) {
    if (!options.url) throw new InvalidOptionError('createRedisStore: give `url` or a connected `client`');
    // Without the offline queue a command fails at once while Redis is unreachable, instead of
    // waiting for a reconnect: the cache then serves from the database and retries invalidations.
    client = createClient({ url: options.url, disableOfflineQueue: true }) as RedisClient;
    // node-redis emits 'error' on every failed reconnect attempt; the cache reports failures of
    // the commands themselves, so a listener must exist to keep the process alive.
    client.on('error', () => {});
    await connectWithin(client, options.connectTimeout ?? 5000, options.url);
  }
  const keyv = new Keyv<string>({
    store: new KeyvRedis(client, { namespace, throwOnErrors: true }),
    namespace,
    useKeyPrefix: false,
    serialize: rawSerialize,
    deserialize: rawDeserialize,
  });
  const base = keyvStore(keyv);
  const full = (key: string) => `${namespace}::${key}`;
  const redis = client;
  return {
    ...base,
    client: redis,
    namespace,
    async getMany(keys) {
      if (keys.length === 0) return [];
      const values = await redis.mGet(keys.map(full));
      return values.map((value) => (value === null ? undefined : String(value)));
    },
    async deleteByPrefix(prefix) {
      let count = 0;
      for await (const batch of redis.scanIterator({
        MATCH: `${full(prefix).replace(/[*?[\]\\]/g, '\\$&')}*`,
        COUNT: 500,
      })) {
        const keys = Array.isArray(batch) ? batch : [batch];
        if (keys.length > 0) count += await redis.unlink(keys);
      }
      return count;
    },
    async close() {
      if (!owned || !redis.isOpen) return;
      // QUIT needs an answer; while Redis is unreachable it would wait for the reconnect forever,
      // so give it a second and then drop the connection.
      if (redis.isReady) {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, 1000);
        });
        await Promise.race([redis.quit().catch(() => {}), late]);
        clearTimeout(timer);
      }
      if (redis.isOpen) redis.destroy();
    },
  };
}

export type { CacheStore } from './core/store.js';

async function connectWithin(client: RedisClient, timeout: number, url: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no connection within ${timeout} ms`)), timeout); // caught below
  });
  try {
    await Promise.race([client.connect(), expired]);
  } catch (error) {
    client.destroy();
    const where = url.replace(/\/\/[^@/]*@/, '//');
    throw new StoreError(`createRedisStore: cannot connect to ${where}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}
