import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createLoaders,
  createStats,
  defineModel,
  defineStrategy,
  InstanceCache,
  type Pk,
} from '../../../src/index.js';
import { clearAllLoaders } from '../../../src/loaders/create-loaders.js';
import { readRecords } from '../../../src/loaders/request-batcher.js';
import { createPollDb, seedPoll } from '../../support/poll-fixture.js';
import { createTestRedisStore, monitorNamespace, redisAvailable } from '../../support/redis.js';
import { storeCases, type TestStore } from '../../support/stores.js';

// Resolves question → choices → voters the way GraphQL resolvers do: one load per object, each
// level issued in one tick.
async function nested(loaders: ReturnType<typeof createLoaders<Record<string, object>>>) {
  const questions = (await loaders.Question!.loadMany([1, 2])) as { choiceIds: number[] }[];
  const choices = await Promise.all(
    questions.map((q) => Promise.all(q.choiceIds.map((id) => loaders.Choice!.load(id)))),
  );
  const voterIds = choices.flat().flatMap((c) => (c as { voterIds: number[] }).voterIds);
  return Promise.all(voterIds.map((id) => loaders.User!.load(id)));
}

for (const storeCase of storeCases) {
  describe.runIf(storeCase.available)(`createLoaders on ${storeCase.name}`, () => {
    let handle: TestStore;
    let db: ReturnType<typeof createPollDb>['db'];
    let strategy: ReturnType<typeof createPollDb>['strategy'];

    beforeEach(async () => {
      handle = await storeCase.create('loaders');
      ({ db, strategy } = createPollDb());
      seedPoll(db);
    });
    afterEach(async () => {
      await handle.cleanup();
    });

    it('a warm two-level nested read costs one store round trip per level and no load', async () => {
      const cache = new InstanceCache(strategy, { store: handle.store });
      await nested(createLoaders(cache) as never); // warm it
      const loads = db.loadCalls.length;
      const stats = createStats();
      const voters = await nested(createLoaders(cache, { stats }) as never);
      expect(voters.map((u) => (u as { username: string }).username)).toEqual(['user1', 'user2', 'user3']);
      expect(stats.storeRoundTrips).toBe(3); // questions, choices, users
      expect(stats.hits).toBe(2 + 3 + 3);
      expect(db.loadCalls).toHaveLength(loads);
    });

    it('a cold nested read costs one read, one claim, one load and one fill per level', async () => {
      const cache = new InstanceCache(strategy, { store: handle.store });
      const stats = createStats();
      await nested(createLoaders(cache, { stats }) as never);
      expect(stats).toMatchObject({ storeRoundTrips: 9, loads: 3, misses: 2 + 3 + 3, fills: 8 });
      expect(db.loadCalls.map((call) => call.model)).toEqual(['Question', 'Choice', 'User']);
    });

    it('the per-request memo answers repeated loads without the store, and counts memo hits', async () => {
      const cache = new InstanceCache(strategy, { store: handle.store });
      const stats = createStats();
      const loaders = createLoaders(cache, { stats });
      await loaders.Question.load(1);
      await loaders.Question.load(1);
      await loaders.Question.load('1' as unknown as number);
      expect(stats).toMatchObject({ storeRoundTrips: 3, memoHits: 2 }); // read, claim, fill
    });

    it('a malformed id rejects only its own load', async () => {
      const cache = new InstanceCache(strategy, { store: handle.store });
      const loaders = createLoaders(cache);
      const [good, bad] = await Promise.allSettled([
        loaders.Question.load(1),
        loaders.Question.load('x1' as never),
      ]);
      expect(good).toMatchObject({ status: 'fulfilled', value: { id: 1 } });
      expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'E_INVALID_PK' } });
      const many = await loaders.Choice.loadMany([1, '1.5' as never, 404]);
      expect(many[0]).toMatchObject({ id: 1 });
      expect(many[1]).toMatchObject({ code: 'E_INVALID_PK' });
      expect(many[2]).toBeNull();
    });

    it('list reads and DataLoader loads of one tick share ONE batched read', async () => {
      const cache = new InstanceCache(strategy, { store: handle.store });
      const stats = createStats();
      const loaders = createLoaders(cache, { stats });
      const [list, one, many] = await Promise.all([
        readRecords(loaders, 'Choice', [1, 2]),
        loaders.Choice.load(3),
        loaders.Choice.loadMany([2, 3]),
      ]);
      expect((list as { id: number }[]).map((c) => c.id)).toEqual([1, 2]);
      expect(one).toMatchObject({ id: 3 });
      expect(many.map((c) => (c as { id: number }).id)).toEqual([2, 3]);
      expect(db.loadsOf('Choice')).toEqual([{ model: 'Choice', version: 'v1', pks: [1, 2, 3] }]);
      expect(stats.storeRoundTrips).toBe(3); // one read, one claim, one fill
    });

    it('a list read answers synchronously once its records are memoized in the request', async () => {
      const cache = new InstanceCache(strategy, { store: handle.store });
      const loaders = createLoaders(cache);
      const first = readRecords(loaders, 'Choice', [1, 2]);
      expect(first).toBeInstanceOf(Promise);
      await first;
      const again = readRecords(loaders, 'Choice', [2, 1, 'x' as never]);
      expect(Array.isArray(again)).toBe(true);
      expect((again as unknown[]).slice(0, 2)).toMatchObject([{ id: 2 }, { id: 1 }]);
      expect((again as unknown[])[2]).toMatchObject({ code: 'E_INVALID_PK' });
      loaders.Choice.clearAll(); // after a write: the next read goes to the cache again
      expect(readRecords(loaders, 'Choice', [1])).toBeInstanceOf(Promise);
    });

    it('clearAllLoaders forgets what the loaders made so far memoized, and makes none of the others', async () => {
      const cache = new InstanceCache(strategy, { store: handle.store });
      const loaders = createLoaders(cache);
      await loaders.Question.load(1);
      clearAllLoaders(loaders);
      // Choice and User were never read: their loaders are still to be made.
      expect(Object.getOwnPropertyDescriptor(loaders, 'Choice')).toHaveProperty('get');
      expect(Object.getOwnPropertyDescriptor(loaders, 'User')).toHaveProperty('get');
      const before = cache.stats.storeRoundTrips;
      await loaders.Question.load(1); // forgotten: read from the cache again
      expect(cache.stats.storeRoundTrips).toBe(before + 1);
    });

    it('a failed batch is reported to every reader of it and retried on the next read', async () => {
      const cache = new InstanceCache(strategy, { store: handle.store });
      const loaders = createLoaders(cache);
      db.failing = true;
      const [list, one] = await Promise.allSettled([
        readRecords(loaders, 'Question', [1]),
        loaders.Question.load(1),
      ]);
      const down = { code: 'E_LOAD', context: { model: 'Question' }, cause: { message: 'database is down' } };
      expect((list as PromiseFulfilledResult<unknown[]>).value[0]).toMatchObject(down);
      expect(one).toMatchObject({ status: 'rejected', reason: down });
      db.failing = false;
      expect(await readRecords(loaders, 'Question', [1])).toMatchObject([{ id: 1 }]);
    });

    it('a failed load is retried by the next DataLoader load, not memoized', async () => {
      const loaders = createLoaders(new InstanceCache(strategy, { store: handle.store }));
      db.failing = true;
      await expect(loaders.Question.load(1)).rejects.toThrow(
        /Question@v1: load failed for 1 pk\(s\): database is down/,
      );
      db.failing = false;
      expect(await loaders.Question.load(1)).toMatchObject({ id: 1 });
    });

    it('clearAll() during a read in flight: later reads get the write, the early reader its answer', async () => {
      const cache = new InstanceCache(strategy, { store: handle.store });
      const loaders = createLoaders(cache);
      const pause = db.pauseNextLoad('Question');
      const early = loaders.Question.load(1);
      const both = readRecords(loaders, 'Question', [1]);
      await pause.paused;
      db.questions.get(1)!.text = 'written meanwhile';
      await cache.update([{ model: 'Question', pk: 1 }]);
      loaders.Question.clearAll(); // what a mutation does after its write
      const late = loaders.Question.load(1);
      pause.release();
      expect(await early).toMatchObject({ text: 'Best color?' });
      expect(await both).toMatchObject([{ text: 'Best color?' }]);
      expect(await late).toMatchObject({ text: 'written meanwhile' });
      expect(await readRecords(loaders, 'Question', [1])).toMatchObject([{ text: 'written meanwhile' }]);
    });

    it('a reader waiting on two batches still gets every answer when the memo is cleared between them', async () => {
      const cache = new InstanceCache(strategy, { store: handle.store });
      const loaders = createLoaders(cache);
      const pause = db.pauseNextLoad('Question');
      const first = readRecords(loaders, 'Question', [1]);
      await pause.paused;
      // The batch of 2 is the only one that can fill while the first is paused.
      const filled = new Promise((resolve) => cache.once('fill', resolve));
      const second = readRecords(loaders, 'Question', [1, 2]); // joins the paused batch, queues 2
      await filled; // the batch of 2 settled
      loaders.Question.clearAll();
      pause.release();
      expect(await first).toMatchObject([{ id: 1 }]);
      expect(await second).toMatchObject([{ id: 1 }, { id: 2 }]);
    });

    it('clear(key) and prime(key) reach list reads too', async () => {
      const cache = new InstanceCache(strategy, { store: handle.store });
      const loaders = createLoaders(cache);
      await loaders.Question.load(1);
      db.questions.get(1)!.text = 'renamed';
      await cache.update([{ model: 'Question', pk: 1 }]);
      loaders.Question.clear(1);
      expect(await readRecords(loaders, 'Question', [1])).toMatchObject([{ text: 'renamed' }]);
      const primed = { id: 2, text: 'primed', choiceIds: [] };
      loaders.Question.prime(2, primed as never);
      expect(readRecords(loaders, 'Question', [2])).toEqual([primed]); // synchronously, no store read
    });

    it('works on a copy of the loaders object (spread into a context)', async () => {
      const loaders = createLoaders(new InstanceCache(strategy, { store: handle.store }));
      expect(await readRecords({ ...loaders }, 'Choice', [1])).toMatchObject([{ id: 1 }]);
    });

    it('loaders exist only for models with records in the version', () => {
      const cache = new InstanceCache(strategy, { store: handle.store });
      expect(Object.keys(createLoaders(cache, { version: 'v2' })).sort()).toEqual([
        'Choice',
        'Question',
        'User',
      ]);
      expect(() => createLoaders(cache, { version: 'v3' })).toThrow(/Unknown cache version "v3"/);
    });
  });
}

// Counted on the wire: MONITOR on the real Redis sees what the cache sends for this namespace.
describe.runIf(redisAvailable)('createLoaders on Redis, counted with MONITOR', () => {
  let store: Awaited<ReturnType<typeof createTestRedisStore>>;
  let db: ReturnType<typeof createPollDb>['db'];
  let strategy: ReturnType<typeof createPollDb>['strategy'];
  beforeEach(async () => {
    store = await createTestRedisStore('monitor');
    ({ db, strategy } = createPollDb());
    seedPoll(db);
  });
  afterEach(async () => {
    await store.cleanup();
  });

  it('a warm level is exactly one MGET on the wire, of exactly one key per record', async () => {
    const cache = new InstanceCache(strategy, { store });
    await nested(createLoaders(cache) as never);
    const monitor = await monitorNamespace(store);
    try {
      await nested(createLoaders(cache) as never);
      await monitor.settle();
      // 2 questions, 3 choices, 3 users.
      expect(monitor.seen).toEqual([
        { command: 'MGET', keys: 2 },
        { command: 'MGET', keys: 3 },
        { command: 'MGET', keys: 3 },
      ]);
    } finally {
      await monitor.stop();
    }
  });

  it('a cold level is one MGET, one claim and one fill (scripts); a refresh one script to begin, one to write', async () => {
    const cache = new InstanceCache(strategy, { store });
    const monitor = await monitorNamespace(store);
    try {
      await cache.getInstances('Choice', [1, 2]);
      await monitor.settle();
      expect(monitor.seen).toEqual([
        { command: 'MGET', keys: 2 },
        { command: 'EVALSHA', keys: 2 },
        { command: 'EVALSHA', keys: 2 },
      ]);
      monitor.seen.length = 0;
      db.choices.get(1)!.text = 'Crimson';
      await cache.update([{ model: 'Choice', pk: 1 }], { updateOnly: true });
      await monitor.settle();
      // Choice 1 in v1 (cached) and v2 (not): the refresh begins on both keys, then writes the
      // changed v1 record; the question and voters it names are cached in neither version
      // (updateOnly): it begins on their 6 keys, loads nothing, writes nothing.
      expect(monitor.seen).toEqual([
        { command: 'EVALSHA', keys: 2 },
        { command: 'EVALSHA', keys: 1 },
        { command: 'EVALSHA', keys: 6 },
      ]);
    } finally {
      await monitor.stop();
    }
  });
});

describe('createLoaders and invalid ids', () => {
  it('an invalid id never shares a memo slot with a valid pk of a string-pk model', async () => {
    const tag = defineModel('Tag', {
      pk: 'string',
      load: async (pks: readonly Pk[]) => pks.map((pk) => ({ id: pk as string })),
      serialize: (t: { id: string }) => ({ id: t.id }),
      invalidate: () => [],
    });
    const loaders = createLoaders(new InstanceCache(defineStrategy({ versions: ['v1'], models: [tag] })));
    await expect(loaders.Tag.load(5 as never)).rejects.toMatchObject({ code: 'E_INVALID_PK' });
    // Before the fix the invalid number 5 was memoized under the string 'invalid number 5'.
    expect(await loaders.Tag.load('invalid number 5')).toEqual({ id: 'invalid number 5' });
    await expect(loaders.Tag.load(5 as never)).rejects.toMatchObject({ code: 'E_INVALID_PK' });
  });
});
