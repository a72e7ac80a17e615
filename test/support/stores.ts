import Keyv from 'keyv';
import { type CacheStore, createMemoryStore, keyvStore } from '../../src/index.js';
import type { RedisStore } from '../../src/redis.js';
import { createTestRedisStore, redisAvailable, redisClusterAvailable } from './redis.js';

/** A store under test and how to clean it up. */
export interface TestStore {
  store: CacheStore;
  cleanup(): Promise<void>;
}

/** A store the shared suites run against. */
export interface StoreCase {
  readonly name: string;
  readonly available: boolean;
  /** Whether fills are checked at write time (one key per record on a warm read). */
  readonly checksAtWrite: boolean;
  create(label: string): Promise<TestStore>;
  /**
   * A second store on the same data (as another process would open it), for stores shared across
   * processes; `undefined` for in-process stores, whose "second process" is a second cache on
   * the same store object.
   */
  twin?(of: TestStore): Promise<TestStore>;
}

/**
 * The stores every shared suite runs against: both protocols (checked at write: the memory store,
 * Redis, Redis Cluster; checked at read: any other keyv store, here keyv over a Map).
 */
export const storeCases: readonly StoreCase[] = [
  {
    name: 'memory',
    available: true,
    checksAtWrite: true,
    async create() {
      return { store: createMemoryStore(), cleanup: async () => {} };
    },
  },
  {
    name: 'keyv (checked at read)',
    available: true,
    checksAtWrite: false,
    async create() {
      const keyv = new Keyv<string>({
        store: new Map(),
        serialize: undefined,
        deserialize: undefined,
        useKeyPrefix: false,
      });
      return { store: keyvStore(keyv), cleanup: async () => {} };
    },
  },
  {
    name: 'redis',
    available: redisAvailable,
    checksAtWrite: true,
    async create(label) {
      const store = await createTestRedisStore(label);
      return { store, cleanup: () => store.cleanup() };
    },
    async twin(of) {
      const store = await createTestRedisStore('twin', { namespace: (of.store as RedisStore).namespace });
      return { store, cleanup: () => store.close() };
    },
  },
  {
    name: 'redis cluster',
    available: redisClusterAvailable,
    checksAtWrite: true,
    async create(label) {
      const store = await createTestRedisStore(label, { cluster: true });
      return { store, cleanup: () => store.cleanup() };
    },
    async twin(of) {
      const store = await createTestRedisStore('twin', {
        cluster: true,
        namespace: (of.store as RedisStore).namespace,
      });
      return { store, cleanup: () => store.close() };
    },
  },
];

/**
 * A memory store that can be taken down: while `down` is true every call rejects with
 * "store down", as a store that went away would. `working` is the store behind it, to read
 * what landed.
 */
export function createFlakyStore(): { store: CacheStore; working: CacheStore; down: boolean } {
  const working = createMemoryStore();
  const handle = { store: working, working, down: false };
  handle.store = new Proxy(working, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        handle.down ? Promise.reject(new Error('store down')) : value.apply(target, args);
    },
  });
  return handle;
}
