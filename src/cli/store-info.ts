/**
 * What the CLI can learn about a cache's store beyond the `CacheStore` interface, read-only: its
 * kind, the TTL of keys and a count of keys by prefix. Only the Redis store (`createRedisStore`,
 * which exposes its node-redis client and namespace) answers TTLs and counts; for other stores
 * those read as unknown. Nothing here writes.
 */
import type { CacheStore } from '../core/store.js';

/** The node-redis commands used here (a client, or one master of a cluster). */
interface RedisNode {
  pTTL(key: string): Promise<number>;
  info(section?: string): Promise<string>;
  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[] | string>;
}

/** The part of a node-redis cluster client used here. */
interface RedisClusterLike {
  readonly slots: unknown;
  readonly masters: readonly unknown[];
  pTTL(key: string): Promise<number>;
  nodeClient(master: unknown): RedisNode | Promise<RedisNode>;
}

/** The part of `createRedisStore`'s result used here. */
interface RedisStoreLike extends CacheStore {
  readonly client: RedisNode | RedisClusterLike;
  readonly namespace: string;
}

/** What kind of store a cache uses, as far as can be told from outside. */
export interface StoreDescription {
  /** `redis` (createRedisStore), `memory` (createMemoryStore), `keyv` (keyvStore, checked at read). */
  readonly kind: 'redis' | 'redis-cluster' | 'memory' | 'keyv';
  /** False for a store that lives in this process: what the CLI writes to it is gone at exit. */
  readonly shared: boolean;
  /** The Redis key namespace (`{namespace}::{key}`), for Redis stores. */
  readonly namespace?: string;
  /** Fills are checked at write time (one key per record) or at read time (a generation entry beside each record). */
  readonly checks: 'write' | 'read';
  /** For people. */
  readonly label: string;
}

function redisOf(store: CacheStore): RedisStoreLike | undefined {
  const candidate = store as Partial<RedisStoreLike>;
  return typeof candidate.namespace === 'string' &&
    candidate.client !== null &&
    typeof candidate.client === 'object'
    ? (candidate as RedisStoreLike)
    : undefined;
}

function clusterOf(client: RedisNode | RedisClusterLike): RedisClusterLike | undefined {
  return (client as Partial<RedisClusterLike>).slots !== undefined ? (client as RedisClusterLike) : undefined;
}

async function nodesOf(redis: RedisStoreLike): Promise<RedisNode[]> {
  const cluster = clusterOf(redis.client);
  if (!cluster) return [redis.client as RedisNode];
  return Promise.all(cluster.masters.map((master) => cluster.nodeClient(master)));
}

/** Tells what kind of store `store` is. */
export function describeStore(store: CacheStore): StoreDescription {
  const redis = redisOf(store);
  const checks = store.apply ? 'write' : 'read';
  if (redis) {
    const cluster = clusterOf(redis.client) !== undefined;
    return {
      kind: cluster ? 'redis-cluster' : 'redis',
      shared: true,
      namespace: redis.namespace,
      checks,
      label: `${cluster ? 'Redis Cluster' : 'Redis'} (namespace "${redis.namespace}", keys "${redis.namespace}::…")`,
    };
  }
  // Of the library's stores only the memory store has conditional writes and a bus but no client.
  if (store.apply && store.bus) {
    return {
      kind: 'memory',
      shared: false,
      checks,
      label: 'memory (process-local: this process has its own, empty store)',
    };
  }
  return { kind: 'keyv', shared: true, checks, label: 'a keyv store (checked at read)' };
}

/** The key as Redis holds it, for people (`{namespace}::{key}`), or the key itself. */
export function storedKeyName(store: CacheStore, key: string): string {
  const redis = redisOf(store);
  return redis ? `${redis.namespace}::${key}` : key;
}

/**
 * Remaining time to live of each key, in ms: a number, `null` for no expiry, `'absent'` for a
 * key that is not there, `undefined` when the store cannot tell. One PTTL per key (pipelined).
 */
export async function ttlsOf(
  store: CacheStore,
  keys: readonly string[],
): Promise<(number | null | 'absent' | undefined)[]> {
  const redis = redisOf(store);
  if (!redis) return keys.map(() => undefined);
  const client = redis.client;
  const replies = await Promise.all(keys.map((key) => client.pTTL(`${redis.namespace}::${key}`)));
  return replies.map((ms) => (ms === -2 ? 'absent' : ms === -1 ? null : Number(ms)));
}

/**
 * Calls `each` with every key (namespace removed) that starts with `prefix`, walking SCAN (never
 * KEYS) on every master, 1000 keys a step. Resolves how many keys it saw, or `undefined` when the
 * store cannot list its keys (not Redis).
 */
export async function scanKeys(
  store: CacheStore,
  prefix: string,
  each: (key: string) => void,
): Promise<number | undefined> {
  const redis = redisOf(store);
  if (!redis) return undefined;
  const namespaced = `${redis.namespace}::`;
  const pattern = `${(namespaced + prefix).replace(/[*?[\]\\]/g, '\\$&')}*`;
  let count = 0;
  for (const node of await nodesOf(redis)) {
    for await (const batch of node.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
      for (const key of Array.isArray(batch) ? batch : [batch]) {
        count += 1;
        each(String(key).slice(namespaced.length));
      }
    }
  }
  return count;
}

/** A few figures from Redis `INFO` (per master on a cluster), or `undefined` for other stores. */
export async function redisInfo(
  store: CacheStore,
): Promise<{ version: string; usedMemory: string; maxmemoryPolicy: string }[] | undefined> {
  const redis = redisOf(store);
  if (!redis) return undefined;
  const field = (info: string, name: string) =>
    new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '?';
  return Promise.all(
    (await nodesOf(redis)).map(async (node) => {
      const info = `${await node.info('server')}\n${await node.info('memory')}`;
      return {
        version: field(info, 'redis_version'),
        usedMemory: field(info, 'used_memory_human'),
        maxmemoryPolicy: field(info, 'maxmemory_policy'),
      };
    }),
  );
}
