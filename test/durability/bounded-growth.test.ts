import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceCache } from '../../src/index.js';
import type { RedisClient } from '../../src/redis.js';
import { createPollDb, seedPoll } from '../support/poll-fixture.js';
import { createTestRedisStore, redisAvailable } from '../support/redis.js';

// What a client, or time, can leave in Redis: every key the cache writes for an id that does not
// exist, or no longer does, expires by default — unknown ids for 5 minutes, the markers of
// deleted instances after 24 hours — so the store cannot grow without bound.

describe.runIf(redisAvailable)('bounded growth of the store (defaults)', () => {
  let store: Awaited<ReturnType<typeof createTestRedisStore>>;
  beforeAll(async () => {
    store = await createTestRedisStore('bounded');
  });
  afterAll(async () => {
    await store.cleanup();
  });

  /** Every key of this test's namespace with its remaining time to live (ms; -1: none). */
  async function keysWithTtl(): Promise<Map<string, number>> {
    const client = store.client as RedisClient;
    const found = new Map<string, number>();
    for await (const batch of client.scanIterator({ MATCH: `${store.namespace}::*`, COUNT: 1000 })) {
      for (const key of batch) found.set(key, await client.pTTL(key));
    }
    return found;
  }

  it('asking for 1,000 unknown ids in two versions leaves 2,000 keys, each expiring within 5 minutes', async () => {
    const { strategy } = createPollDb();
    const cache = new InstanceCache(strategy, { store });
    const unknown = Array.from({ length: 1000 }, (_, i) => 1_000_000 + i);
    expect(await cache.getInstances('Question', unknown, { version: 'v1' })).toEqual(unknown.map(() => null));
    expect(await cache.getInstances('Question', unknown, { version: 'v2' })).toEqual(unknown.map(() => null));
    const keys = await keysWithTtl();
    expect(keys.size).toBe(2000);
    for (const ttl of keys.values()) {
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(300_000);
    }
    await store.deleteByPrefix('');
  });

  it('a deleted instance leaves only keys that expire (within 24 hours)', async () => {
    const { db, strategy } = createPollDb();
    seedPoll(db);
    const cache = new InstanceCache(strategy, { store });
    await cache.getInstances('Question', [1], { version: 'v1' });
    await cache.getInstances('Question', [1], { version: 'v2' });
    db.questions.delete(1);
    const summary = await cache.update([{ model: 'Question', pk: 1 }]);
    expect(summary.failed).toBe(0);
    expect(await cache.getInstances('Question', [1])).toEqual([null]);
    const keys = await keysWithTtl();
    expect(keys.size).toBeGreaterThan(0);
    for (const [key, ttl] of keys) {
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(86_400_000);
    }
  });
});
