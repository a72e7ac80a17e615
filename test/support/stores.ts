import { type CacheStore, createMemoryStore } from '../../src/index.js';
import { createTestRedisStore, redisAvailable } from './redis.js';

/** A store under test and how to clean it up. */
export interface TestStore {
  store: CacheStore;
  cleanup(): Promise<void>;
}

/** The stores every shared suite runs against: the in-memory keyv store and the real Redis. */
export const storeCases: { name: string; available: boolean; create(label: string): Promise<TestStore> }[] = [
  {
    name: 'memory',
    available: true,
    async create() {
      return { store: createMemoryStore(), cleanup: async () => {} };
    },
  },
  {
    name: 'redis',
    available: redisAvailable,
    async create(label) {
      const store = await createTestRedisStore(label);
      return { store, cleanup: () => store.cleanup() };
    },
  },
];
