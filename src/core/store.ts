import Keyv from 'keyv';
import { StoreError } from '../errors.js';

/** One entry to write. `ttl` is in milliseconds; omitted means no expiry. */
export interface StoreEntry {
  readonly key: string;
  readonly value: string;
  readonly ttl?: number;
}

/**
 * The store boundary: batched string get/set/delete. Each call is one round trip to the store
 * (one `MGET`, one `MULTI…EXEC`), which is what the cache counts as `storeRoundTrips`.
 * Implementations must not retry silently and must reject on failure: the cache turns failures
 * into `error` events and falls back to the database.
 */
export interface CacheStore {
  /** Values aligned with `keys`; `undefined` for a missing key. */
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  /** Writes every entry. */
  setMany(entries: readonly StoreEntry[]): Promise<void>;
  /** Deletes every key (missing keys are fine). */
  deleteMany(keys: readonly string[]): Promise<void>;
  /** Deletes every key that starts with `prefix`; returns how many. Optional: used by `dropVersion`. */
  deleteByPrefix?(prefix: string): Promise<number>;
  /** Releases connections the store owns. Optional. */
  close?(): Promise<void>;
}

/** Options of {@link keyvStore}. */
export interface KeyvStoreOptions {
  /**
   * Whether `close()` disconnects the keyv instance. Default `false`: the application that
   * created the keyv owns it.
   */
  ownsKeyv?: boolean;
}

/**
 * Adapts any keyv 5 instance whose values are strings. keyv's own (de)serializer is bypassed by
 * the caller's configuration: pass a Keyv built with `serialize: undefined` (memory) or the raw
 * pair (Redis, see `createRedisStore`), because the cache hands over strings it encoded itself.
 * Keyv swallows store errors unless `throwOnErrors` is set; this adapter sets it so failures
 * reach the cache, which reports them as events.
 */
export function keyvStore(keyv: Keyv<string>, options: KeyvStoreOptions = {}): CacheStore {
  keyv.throwOnErrors = true;
  // keyv emits 'error' as well as rejecting; without a listener an EventEmitter 'error' throws.
  if (keyv.listeners('error').length === 0) keyv.on('error', () => {});
  return {
    async getMany(keys) {
      if (keys.length === 0) return [];
      return (await keyv.getMany<string>([...keys])) as (string | undefined)[];
    },
    async setMany(entries) {
      if (entries.length === 0) return;
      await keyv.setMany(entries.map((entry) => ({ key: entry.key, value: entry.value, ttl: entry.ttl })));
    },
    async deleteMany(keys) {
      if (keys.length === 0) return;
      await keyv.deleteMany([...keys]);
    },
    async deleteByPrefix(prefix) {
      const doomed: string[] = [];
      if (!keyv.iterator) throw new StoreError('keyvStore: this keyv store cannot iterate its keys');
      for await (const [key] of keyv.iterator(undefined)) {
        if (typeof key === 'string' && key.startsWith(prefix)) doomed.push(key);
      }
      for (let i = 0; i < doomed.length; i += 500) await keyv.deleteMany(doomed.slice(i, i + 500));
      return doomed.length;
    },
    async close() {
      if (options.ownsKeyv) await keyv.disconnect();
    },
  };
}

/**
 * An in-process store: keyv over a `Map`, values kept as the encoded strings (so a record read
 * back is a fresh object every time and never shares state with another request). The default
 * store of an `InstanceCache`; fine for one process and for tests, not shared across processes.
 */
export function createMemoryStore(): CacheStore {
  const map = new Map<string, unknown>();
  // No keyv namespace: keyv prefixes inconsistently when a key already starts with the
  // namespace, and its Map iterator splits keys on ':'. The cache's keys carry their own prefix.
  const keyv = new Keyv<string>({
    store: map,
    serialize: undefined,
    deserialize: undefined,
    useKeyPrefix: false,
  });
  return {
    ...keyvStore(keyv, { ownsKeyv: true }),
    // keyv's getMany on a Map runs one async step per key (two keys per record here); reading the
    // Map keyv writes, with keyv's own expiry rule, is ~25× faster on a warm request.
    async getMany(keys) {
      const now = Date.now();
      return keys.map((key) => {
        const row = map.get(key) as { value: string; expires?: number } | undefined;
        if (row === undefined) return undefined;
        if (typeof row.expires === 'number' && now > row.expires) {
          map.delete(key);
          return undefined;
        }
        return row.value;
      });
    },
    async deleteByPrefix(prefix) {
      const doomed = [...map.keys()].filter((key) => key.startsWith(prefix));
      await keyv.deleteMany(doomed);
      return doomed.length;
    },
  };
}
