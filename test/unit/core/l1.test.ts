import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CacheStore,
  createLoaders,
  createMemoryStore,
  createStats,
  InstanceCache,
} from '../../../src/index.js';
import { readRecords } from '../../../src/loaders/request-batcher.js';
import type { RedisClient, RedisStore } from '../../../src/redis.js';
import { deferred } from '../../support/deferred.js';
import { createPollDb, seedPoll } from '../../support/poll-fixture.js';
import { type StoreCase, storeCases, type TestStore } from '../../support/stores.js';

type PollCache = InstanceCache<Record<string, object>>;

/** Resolves once the store's bus has announced `key` (or a reset); without `key`, a reset only. */
function heard(store: CacheStore, key?: string): Promise<void> {
  return new Promise((resolve) => {
    const stop = store.bus!.subscribe({
      keys: (keys) => {
        if (key !== undefined && keys.includes(key)) {
          stop();
          resolve();
        }
      },
      reset: () => {
        stop();
        resolve();
      },
    });
  });
}

// The L1 tier on every store that announces invalidations: the memory store (one process) and
// Redis / Redis Cluster (a second cache on a second connection stands in for another process;
// test/integration/l1-processes.test.ts uses real OS processes).
for (const storeCase of storeCases.filter((c: StoreCase) => c.checksAtWrite)) {
  describe.runIf(storeCase.available)(`L1 on ${storeCase.name}`, () => {
    let handle: TestStore;
    let other: TestStore | undefined;
    let db: ReturnType<typeof createPollDb>['db'];
    let strategy: ReturnType<typeof createPollDb>['strategy'];
    let cache: PollCache;

    beforeEach(async () => {
      handle = await storeCase.create('l1');
      ({ db, strategy } = createPollDb());
      seedPoll(db);
      cache = new InstanceCache(strategy, { store: handle.store, l1: true }) as never;
      await handle.store.bus!.ready();
    });
    afterEach(async () => {
      await other?.cleanup();
      other = undefined;
      await handle.cleanup();
    });

    /** A cache of "another process": its own store connection where the store has one. */
    async function secondProcess(): Promise<PollCache> {
      if (storeCase.twin) {
        other = await storeCase.twin(handle);
        await other.store.bus!.ready();
        return new InstanceCache(strategy, { store: other.store, l1: true }) as never;
      }
      return new InstanceCache(strategy, { store: handle.store, l1: true }) as never;
    }

    it('one hit event per batch counts its hits from L1 and from the store together', async () => {
      await cache.getInstances('Choice', [1, 2]); // now in L1
      // Choice 3 in the store but not in this cache's L1: filled by a cache without L1.
      await new InstanceCache(strategy, { store: handle.store }).getInstances('Choice', [3]);
      const seen: number[] = [];
      cache.on('hit', (n) => seen.push(n));
      await cache.getInstances('Choice', [1, 2]); // L1 only
      await cache.getInstances('Choice', [1, 3]); // 1 from L1, 3 from the store
      expect(seen).toEqual([2, 2]);
    });

    it('a warm read of records L1 holds costs no store round trip and no load', async () => {
      await cache.getInstances('Choice', [1, 2, 3]);
      const stats = createStats();
      const loads = db.loadCalls.length;
      const records = await cache.getInstances('Choice', [3, 1, 2], { stats });
      expect(records.map((r) => (r as { id: number }).id)).toEqual([3, 1, 2]);
      expect(stats).toMatchObject({ storeRoundTrips: 0, hits: 3, l1Hits: 3, misses: 0 });
      expect(db.loadCalls).toHaveLength(loads);
    });

    it('records from L1 are frozen and shared, and "not found" is held too', async () => {
      await cache.getInstances('Choice', [1, 404]);
      const [a, missing] = await cache.getInstances('Choice', [1, 404]);
      const [b] = await cache.getInstances('Choice', [1]);
      expect(missing).toBeNull();
      expect(a).toBe(b);
      expect(Object.isFrozen(a)).toBe(true);
      expect(Object.isFrozen((a as { voterIds: number[] }).voterIds)).toBe(true);
      expect(() => (a as { voterIds: number[] }).voterIds.push(9)).toThrow(TypeError);
    });

    it('read-your-writes: once update() resolves, this process reads the new record', async () => {
      await cache.getInstances('Choice', [1]);
      db.choices.get(1)!.text = 'Crimson';
      await cache.update([{ model: 'Choice', pk: 1 }]);
      const stats = createStats();
      expect((await cache.getInstances('Choice', [1], { stats }))[0]).toMatchObject({ text: 'Crimson' });
      expect(stats.l1Hits).toBe(0);
      expect((await cache.getInstances('Choice', [1], { stats }))[0]).toMatchObject({ text: 'Crimson' });
      expect(stats.l1Hits).toBe(1);
    });

    it('another process drops its copy as soon as it hears the announcement', async () => {
      const b = await secondProcess();
      await b.getInstances('Choice', [1]);
      expect(b.l1Size).toBe(1);
      const announced = heard((other ?? handle).store, cache.keyOf('Choice', 1));
      db.choices.get(1)!.text = 'Crimson';
      await cache.update([{ model: 'Choice', pk: 1 }]);
      await announced;
      const stats = createStats();
      expect((await b.getInstances('Choice', [1], { stats }))[0]).toMatchObject({ text: 'Crimson' });
      expect(stats.l1Hits).toBe(0);
    });

    it('a read that raced an invalidation keeps nothing in L1', async () => {
      // The store answers with the old record, and the invalidation is heard before the answer
      // reaches the cache: what was read must not enter L1.
      let pauseNext = false;
      const gate = deferred();
      const answered = deferred();

      const slowStore = new Proxy(handle.store, {
        get(target, property, receiver) {
          if (property === 'getMany') {
            return async (keys: readonly string[]) => {
              const values = await target.getMany(keys);
              if (pauseNext) {
                pauseNext = false;
                answered.resolve();
                await gate.promise;
              }
              return values;
            };
          }
          const value = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const reader = new InstanceCache(strategy, { store: slowStore, l1: true }) as never as PollCache;
      await cache.getInstances('Choice', [3]); // the record is in the store
      pauseNext = true;
      const read = reader.getInstances('Choice', [3]);
      await answered.promise; // the reader holds the old record

      const announced = heard(handle.store, reader.keyOf('Choice', 3));
      db.choices.get(3)!.text = 'Lion';
      await cache.update([{ model: 'Choice', pk: 3 }]);
      await announced;
      gate.resolve();
      expect((await read)[0]).toMatchObject({ text: 'Cat' }); // it began before the write…
      expect(reader.l1Size).toBe(0); // …and kept nothing
      expect((await reader.getInstances('Choice', [3]))[0]).toMatchObject({ text: 'Lion' });
    });

    it('a reset (reconnect, gap, dropped version) empties L1', async () => {
      await cache.getInstances('Choice', [1, 2]);
      expect(cache.l1Size).toBe(2);
      const reset = heard(handle.store);
      if (storeCase.name === 'memory') {
        await handle.store.deleteByPrefix!('nothing-here:');
      } else {
        // Another publisher skips a sequence number: an announcement may have been lost.
        const redis = handle.store as RedisStore;
        const publish = (message: string) =>
          (redis.client as RedisClient).publish(`${redis.namespace}::invalidations`, message);
        await publish('other-process 1\nsome:key');
        await publish('other-process 3\nsome:key');
      }
      await reset;
      expect(cache.l1Size).toBe(0);
    });

    it('is bounded: the least recently used entries go first', async () => {
      const small = new InstanceCache(strategy, {
        store: handle.store,
        l1: { maxEntries: 2 },
      }) as never as PollCache;
      await small.getInstances('Choice', [1]);
      await small.getInstances('Choice', [2]);
      await small.getInstances('Choice', [1]); // 1 is now the most recent
      await small.getInstances('Choice', [3]);
      expect(small.l1Size).toBe(2);
      const stats = createStats();
      await small.getInstances('Choice', [1, 3], { stats });
      expect(stats.l1Hits).toBe(2);
      await small.getInstances('Choice', [2], { stats });
      expect(stats.l1Hits).toBe(2);
    });

    it('a request whose records are all in L1 answers synchronously, without a promise', async () => {
      await cache.getInstances('Choice', [1, 2]);
      const stats = createStats();
      const loaders = createLoaders(cache, { stats });
      const read = readRecords(loaders, 'Choice', [1, 2]);
      expect(Array.isArray(read)).toBe(true);
      expect((read as { id: number }[]).map((c) => c.id)).toEqual([1, 2]);
      expect(stats).toMatchObject({ storeRoundTrips: 0, l1Hits: 2 });
    });
  });
}

describe('L1 options', () => {
  it('needs a store that announces invalidations, and sane bounds', async () => {
    const { strategy } = createPollDb();
    const noBus: CacheStore = { ...createMemoryStore(), bus: undefined };
    expect(() => new InstanceCache(strategy, { store: noBus, l1: true })).toThrow(
      /options\.l1 needs a store that announces invalidations/,
    );
    expect(() => new InstanceCache(strategy, { l1: { maxEntries: 0 } })).toThrow(
      'InstanceCache: options.l1.maxEntries must be a positive integer, got 0',
    );
    expect(() => new InstanceCache(strategy, { l1: { maxBytes: 1.5 } })).toThrow(/options\.l1\.maxBytes/);
  });
});
