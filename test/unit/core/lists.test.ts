import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStats, InstanceCache, type Pk } from '../../../src/index.js';
import { deferred } from '../../support/deferred.js';
import { createPollDb, seedPoll } from '../../support/poll-fixture.js';
import { storeCases, type TestStore } from '../../support/stores.js';

type PollCache = InstanceCache<Record<string, object>>;

// Cached root lists: a list query's pks under a key, invalidated by creates, deletes and changes
// to the model's listFields, through the same protocol as records — on every store.
for (const storeCase of storeCases) {
  describe.runIf(storeCase.available)(`cached lists on ${storeCase.name}`, () => {
    let handle: TestStore;
    let db: ReturnType<typeof createPollDb>['db'];
    let cache: PollCache;
    let queries: number;
    const byDate = () => {
      queries += 1;
      return Promise.resolve(
        [...db.questions.values()]
          .sort((a, b) => a.pubDate.getTime() - b.pubDate.getTime())
          .map((q) => q.id as Pk),
      );
    };

    beforeEach(async () => {
      handle = await storeCase.create('lists');
      const poll = createPollDb({ questionListFields: ['pubDate'] });
      db = poll.db;
      seedPoll(db);
      cache = new InstanceCache(poll.strategy, { store: handle.store }) as never;
      queries = 0;
    });
    afterEach(async () => {
      await handle.cleanup();
    });

    it('a miss runs the query once and fills; a hit is one round trip and no query', async () => {
      expect(await cache.getList('Question', 'byDate', 'first=10', byDate)).toEqual([1, 2]);
      const stats = createStats();
      expect(await cache.getList('Question', 'byDate', 'first=10', byDate, { stats })).toEqual([1, 2]);
      expect(queries).toBe(1);
      expect(stats).toMatchObject({ storeRoundTrips: 1, listHits: 1, listMisses: 0 });
      // Another key is another entry.
      expect(await cache.getList('Question', 'byDate', 'first=1', async () => [1])).toEqual([1]);
      expect(await cache.getList('Question', 'byDate', 'first=10', byDate)).toEqual([1, 2]);
      expect(queries).toBe(1);
    });

    it('a create, a delete and a change to a list field invalidate every list of the model', async () => {
      await cache.getInstances('Question', [1, 2]);
      await cache.getList('Question', 'byDate', '', byDate);
      db.questions.set(3, { id: 3, text: 'New?', pubDate: new Date('2024-04-01T00:00:00Z') });
      await cache.update([{ model: 'Question', pk: 3 }]);
      expect(await cache.getList('Question', 'byDate', '', byDate)).toEqual([3, 1, 2]);
      db.questions.get(1)!.pubDate = new Date('2025-01-01T00:00:00Z');
      await cache.update([{ model: 'Question', pk: 1 }]);
      expect(await cache.getList('Question', 'byDate', '', byDate)).toEqual([3, 2, 1]);
      db.questions.delete(2);
      await cache.update([{ model: 'Question', pk: 2 }]);
      expect(await cache.getList('Question', 'byDate', '', byDate)).toEqual([3, 1]);
      expect(queries).toBe(4);
    });

    it('a change to a field the lists do not depend on leaves them cached', async () => {
      await cache.getInstances('Question', [1], { version: 'v1' });
      await cache.getInstances('Question', [1], { version: 'v2' });
      await cache.getList('Question', 'byDate', '', byDate);
      db.questions.get(1)!.text = 'Renamed';
      await cache.update([{ model: 'Question', pk: 1 }]);
      expect(await cache.getList('Question', 'byDate', '', byDate)).toEqual([1, 2]);
      expect(queries).toBe(1);
    });

    it('a list query that raced a write is never served after it', async () => {
      await cache.getInstances('Question', [1, 2]);
      const started = deferred();
      const gate = deferred();
      const slow = cache.getList('Question', 'byDate', '', async () => {
        const pks = await byDate(); // read before the write commits…
        started.resolve();
        await gate.promise; // …and filled after it
        return pks;
      });
      await started.promise;

      db.questions.set(3, { id: 3, text: 'New?', pubDate: new Date('2024-04-01T00:00:00Z') });
      await cache.update([{ model: 'Question', pk: 3 }]);
      gate.resolve();
      expect(await slow).toEqual([1, 2]);
      expect(await cache.getList('Question', 'byDate', '', byDate)).toEqual([3, 1, 2]);
    });

    it('a list that changes with time is served until validUntil, then loaded again', async () => {
      let now = 0;
      const until = () => Date.now() + 80;
      const load = async () => {
        now += 1;
        return [{ pk: now, cursor: ['x', now] }];
      };
      expect(await cache.getList('Question', 'published', '', load, { validUntil: until })).toEqual([
        { pk: 1, cursor: ['x', 1] },
      ]);
      expect(await cache.getList('Question', 'published', '', load, { validUntil: until })).toEqual([
        { pk: 1, cursor: ['x', 1] },
      ]);
      // Expiry is the behaviour under test: wait past it.
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect(await cache.getList('Question', 'published', '', load, { validUntil: until })).toEqual([
        { pk: 2, cursor: ['x', 2] },
      ]);
      // An answer that is already out of date is returned but never cached.
      expect(await cache.getList('Question', 'past', '', load, { validUntil: () => new Date(0) })).toEqual([
        { pk: 3, cursor: ['x', 3] },
      ]);
      expect(await cache.getList('Question', 'past', '', load, { validUntil: () => new Date(0) })).toEqual([
        { pk: 4, cursor: ['x', 4] },
      ]);
    });

    it('a model without listFields cannot cache lists', async () => {
      await expect(cache.getList('Choice', 'all', '', async () => [1])).rejects.toMatchObject({
        code: 'E_INVALID_OPTION',
        message: 'getList: model "Choice" does not cache lists in version "v1"; declare listFields on it',
      });
    });

    if (!storeCase.checksAtWrite) return; // L1 needs a store that announces invalidations
    it('with L1 a cached list is served with no round trip, and dropped by a write', async () => {
      const local = new InstanceCache(cache.strategy, { store: handle.store, l1: true });
      await handle.store.bus!.ready();
      await local.getInstances('Question', [1, 2]);
      await local.getList('Question', 'byDate', '', byDate);
      const stats = createStats();
      expect(await local.getList('Question', 'byDate', '', byDate, { stats })).toEqual([1, 2]);
      expect(stats).toMatchObject({ storeRoundTrips: 0, l1Hits: 1 });
      // A time-bound list leaves L1 when it runs out, too.
      let loads = 0;
      const timed = () =>
        local.getList('Question', 'timed', '', async () => [++loads], { validUntil: () => Date.now() + 60 });
      await timed();
      expect(await timed()).toEqual([1]);
      await new Promise((resolve) => setTimeout(resolve, 100)); // expiry is the behaviour under test
      expect(await timed()).toEqual([2]);
      db.questions.set(3, { id: 3, text: 'New?', pubDate: new Date('2024-04-01T00:00:00Z') });
      await local.update([{ model: 'Question', pk: 3 }]);
      expect(await local.getList('Question', 'byDate', '', byDate)).toEqual([3, 1, 2]);
      expect(queries).toBe(2);
    });
  });
}
