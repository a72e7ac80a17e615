/**
 * The Redis store, a separate entry point (`graphql-cached-instances/redis`) so that the core
 * does not import `@keyv/redis` for users of the memory store. Works on a single Redis (or Valkey)
 * and on Redis Cluster.
 *
 * @packageDocumentation
 */
import KeyvRedis, {
  createClient,
  createCluster,
  type RedisClientType,
  type RedisClusterType,
} from '@keyv/redis';
import calculateSlot from 'cluster-key-slot';
import type { CacheStore, StoreOp, StoreOpResult } from './core/store.js';
import { InvalidOptionError, StoreError } from './errors.js';
import { RedisBus, type SubscriberClient } from './redis/bus.js';
import { announcedKeys, applyArguments, applyResults, runApply, type ScriptRunner } from './redis/scripts.js';

/** A node-redis client as created by `createClient` (re-exported by `@keyv/redis`). */
export type RedisClient = RedisClientType;

/** A node-redis cluster client as created by `createCluster` (re-exported by `@keyv/redis`). */
export type RedisCluster = RedisClusterType;

/** Options of {@link createRedisStore}. Give exactly one of `url`, `client` and `cluster`. */
export interface RedisStoreOptions {
  /** A Redis URL; the store creates, connects and (on `close()`) quits its own client. */
  url?: string;
  /**
   * An already connected node-redis client to share. The store never closes it. Create it with
   * `disableOfflineQueue: true`, or commands issued while Redis is down wait for the reconnect
   * instead of failing over to the database.
   */
  client?: RedisClient;
  /**
   * Redis Cluster: the URLs of some of its nodes (the store creates, connects and closes its own
   * cluster client), or a connected node-redis cluster client to share. Every batch is split per
   * hash slot, so no command is ever CROSSSLOT.
   */
  cluster?: readonly string[] | RedisCluster;
  /**
   * How long the first connection may take before `createRedisStore` rejects (node-redis would
   * otherwise retry forever in the background). Default 5000 ms. Later reconnects are retried
   * without limit, and commands fail fast meanwhile.
   */
  connectTimeout?: number;
  /**
   * Key namespace: Redis keys are `{namespace}::{cache key}`, and invalidations are announced on
   * the channel `{namespace}::invalidations`. Default `'gci'`. Give each application (and each
   * test suite) sharing a Redis its own.
   */
  namespace?: string;
  /**
   * Announce every invalidation on Redis pub/sub (atomically with the write), for the L1 tier of
   * every process. Default `true`. `false` saves one PUBLISH per write batch, and then no cache on
   * this store may use `l1`.
   */
  announce?: boolean;
}

/** A {@link CacheStore} on Redis, with the extra handles an operator needs. */
export interface RedisStore extends CacheStore {
  /** The node-redis client (a cluster client on Redis Cluster), for health checks and `INFO`. */
  readonly client: RedisClient | RedisCluster;
  /** The key namespace in Redis. */
  readonly namespace: string;
  /** The invalidation bus (`undefined` with `announce: false`). */
  readonly bus: RedisBus | undefined;
  /** Deletes every key of this namespace that starts with `prefix` (on every master of a cluster). */
  deleteByPrefix(prefix: string): Promise<number>;
  /** Stops the bus and quits the client if the store created it; a shared client is left open. */
  close(): Promise<void>;
}

function isCluster(client: RedisClient | RedisCluster): client is RedisCluster {
  return (client as { slots?: unknown }).slots !== undefined;
}

/**
 * Creates a Redis-backed {@link CacheStore}, built on `@keyv/redis` (its node-redis client, its
 * batch writes and its cluster slot routing), that checks fills at write time:
 *
 * - reads are one `MGET` of exactly one key per record (one per hash slot on a cluster);
 * - claims, fills, swaps and invalidations are ONE Lua script per batch (EVALSHA, loaded again on
 *   NOSCRIPT), atomic per key, which also PUBLISHes the invalidated keys for every process's L1;
 * - `deleteByPrefix` walks `SCAN` on every master and `UNLINK`s in batches.
 *
 * Eviction is safe: any key may be evicted or expire (`allkeys-lru` is fine); it costs a miss,
 * never a stale record.
 */
export async function createRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const namespace = options.namespace ?? 'gci';
  const given = [options.url, options.client, options.cluster].filter((value) => value !== undefined);
  if (given.length !== 1) {
    throw new InvalidOptionError('createRedisStore: give exactly one of `url`, `client` and `cluster`', {
      context: { option: 'url' },
    });
  }
  const timeout = options.connectTimeout ?? 5000;
  let client: RedisClient | RedisCluster;
  let owned = false;
  if (options.client) {
    client = options.client;
  } else if (options.cluster && !Array.isArray(options.cluster)) {
    client = options.cluster as RedisCluster;
  } else if (options.cluster) {
    const urls = options.cluster as readonly string[];
    client = createCluster({
      rootNodes: urls.map((url) => ({ url })),
      // Without the offline queue a command fails at once while a node is unreachable, instead of
      // waiting for a reconnect: the cache then serves from the database and retries invalidations.
      defaults: { disableOfflineQueue: true },
    }) as unknown as RedisCluster;
    owned = true;
    client.on('error', () => {});
    await connectWithin(client, timeout, urls[0] ?? '');
  } else {
    client = createClient({ url: options.url, disableOfflineQueue: true }) as RedisClient;
    owned = true;
    // node-redis emits 'error' on every failed reconnect attempt; the cache reports failures of
    // the commands themselves, so a listener must exist to keep the process alive.
    client.on('error', () => {});
    await connectWithin(client, timeout, options.url!);
  }
  // Counts connections: a refresh that began on one connection and writes on the next cannot
  // know that what it began is still there (a restart, a restore, a failover in between).
  let connections = 1;
  client.on('ready', () => {
    connections += 1;
  });
  const keyv = new KeyvRedis(client, { namespace, throwOnErrors: true });
  keyv.on('error', () => {});
  const full = (key: string) => `${namespace}::${key}`;
  const cluster = isCluster(client) ? client : undefined;
  const single = cluster ? undefined : (client as RedisClient);
  const channel = `${namespace}::invalidations`;
  // Cluster routing: positions of (namespaced) keys per hash slot, and the master client of a slot.
  const bySlot = (keys: readonly string[]): Map<number, number[]> => {
    const groups = new Map<number, number[]>();
    keys.forEach((key, i) => {
      const slot = calculateSlot(key);
      const indices = groups.get(slot);
      if (indices) indices.push(i);
      else groups.set(slot, [i]);
    });
    return groups;
  };
  const nodeOf = (slot: number): Promise<RedisClient> =>
    cluster!.nodeClient(cluster!.slots[slot]!.master) as unknown as Promise<RedisClient>;
  const bus =
    options.announce === false
      ? undefined
      : new RedisBus(channel, () => subscriberFor(client, cluster) as SubscriberClient);

  async function applyOn(
    node: ScriptRunner,
    stream: string,
    ops: readonly StoreOp[],
  ): Promise<StoreOpResult[]> {
    const changed = bus ? announcedKeys(ops) : [];
    const message = changed.length > 0 ? bus!.message(stream, changed) : '';
    const reply = await runApply(
      node,
      ops.map((op) => full(op.key)),
      applyArguments(ops, message === '' ? '' : channel, message),
    );
    return applyResults(ops, reply);
  }

  return {
    client,
    namespace,
    bus,
    get connectionEpoch() {
      return connections;
    },
    async getMany(keys) {
      if (keys.length === 0) return [];
      if (single) {
        const values = await single.mGet(keys.map(full));
        return values.map((value) => (value === null ? undefined : String(value)));
      }
      // One MGET per hash slot, sent together (node-redis pipelines them per node).
      const out: (string | undefined)[] = new Array(keys.length);
      await Promise.all(
        [...bySlot(keys.map(full))].map(async ([slot, indices]) => {
          const node = await nodeOf(slot);
          const values = await node.mGet(indices.map((i) => full(keys[i]!)));
          indices.forEach((i, n) => {
            const value = values[n];
            out[i] = value === null || value === undefined ? undefined : String(value);
          });
        }),
      );
      return out;
    },
    async setMany(entries) {
      if (entries.length > 0) await keyv.setMany(entries.map(({ key, value, ttl }) => ({ key, value, ttl })));
    },
    async deleteMany(keys) {
      if (keys.length > 0) await keyv.deleteMany([...keys]);
    },
    async apply(ops) {
      if (ops.length === 0) return [];
      if (single) return applyOn(single as unknown as ScriptRunner, '', ops);
      // One script per hash slot. The node clients are resolved first, so that the scripts (and
      // their announcements' sequence numbers) go out in one synchronous loop: in order per node.
      const groups = await Promise.all(
        [...bySlot(ops.map((op) => full(op.key)))].map(async ([slot, indices]) => ({
          node: (await nodeOf(slot)) as unknown as ScriptRunner,
          stream: `@${cluster!.slots[slot]!.master.address}`,
          indices,
        })),
      );
      const results: StoreOpResult[] = new Array(ops.length);
      await Promise.all(
        groups.map(({ node, stream, indices }) =>
          applyOn(
            node,
            stream,
            indices.map((i) => ops[i]!),
          ).then((partial) => {
            indices.forEach((i, n) => {
              results[i] = partial[n]!;
            });
          }),
        ),
      );
      return results;
    },
    async deleteByPrefix(prefix) {
      const pattern = `${full(prefix).replace(/[*?[\]\\]/g, '\\$&')}*`;
      let count = 0;
      for (const node of (await keyv.getMasterNodes()) as RedisClient[]) {
        for await (const batch of node.scanIterator({ MATCH: pattern, COUNT: 500 })) {
          const keys = Array.isArray(batch) ? batch : [batch];
          if (keys.length === 0) continue;
          // On a cluster a multi-key command must stay within one slot.
          const groups = cluster
            ? [...bySlot(keys).values()].map((indices) => indices.map((i) => keys[i]!))
            : [keys];
          for (const group of groups) count += await node.unlink(group);
        }
      }
      if (bus) await (client as RedisClient).publish(channel, bus.message('', '*'));
      return count;
    },
    async close() {
      bus?.close();
      if (!owned || !client.isOpen) return;
      // QUIT needs an answer; while Redis is unreachable it would wait for the reconnect forever,
      // so give it a second and then drop the connection.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1000);
      });
      await Promise.race([client.close().catch(() => {}), late]);
      clearTimeout(timer);
      if (client.isOpen) client.destroy();
    },
  };
}

/** How often the bus connection pings, and how long it may stay silent before it is dropped. */
const BUS_PING_INTERVAL = 1000;
const BUS_SILENCE_LIMIT = 3000;

/**
 * The bus's own connection: a duplicate of a single client, or, on a cluster, a plain client to
 * one master (a PUBLISH on any node reaches subscribers on every node). It pings every second and
 * is dropped after 3 s without an answer, so even a connection that died silently is noticed
 * within about 3 s; L1 stops serving until it is back, then starts empty.
 */
function subscriberFor(client: RedisClient | RedisCluster, cluster: RedisCluster | undefined) {
  const options = {
    pingInterval: BUS_PING_INTERVAL,
    disableOfflineQueue: true,
    socket: { socketTimeout: BUS_SILENCE_LIMIT },
  };
  if (!cluster) {
    // duplicate() keeps every connection option (auth, TLS, database); `socket` is replaced whole.
    const socket = (client as RedisClient).options?.socket;
    return (client as RedisClient).duplicate({
      ...options,
      socket: { ...socket, socketTimeout: BUS_SILENCE_LIMIT },
    });
  }
  const master = cluster.masters[0]!;
  return createClient({ ...options, url: `redis://${master.host}:${master.port}` });
}

export type { CacheStore } from './core/store.js';
export type { RedisBus } from './redis/bus.js';

async function connectWithin(
  client: RedisClient | RedisCluster,
  timeout: number,
  url: string,
): Promise<void> {
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
