import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createMemoryStore,
  defineModel,
  defineStrategy,
  InstanceCache,
  type Pk,
} from '../../../src/index.js';
import type { RedisClient } from '../../../src/redis.js';
import { createPollDb, seedPoll } from '../../support/poll-fixture.js';
import { createTestRedisStore, redisAvailable } from '../../support/redis.js';
import { createFlakyStore, storeCases, type TestStore } from '../../support/stores.js';

// drf-cached-instances' BaseCache behaviours, on every store.
for (const storeCase of storeCases) {
  describe.runIf(storeCase.available)(`InstanceCache on ${storeCase.name}`, () => {
    let handle: TestStore;
    let db: ReturnType<typeof createPollDb>['db'];
    let cache: InstanceCache<
      ReturnType<typeof createPollDb>['strategy'] extends { __records?: infer R } ? NonNullable<R> : never
    >;

    beforeEach(async () => {
      handle = await storeCase.create('cache');
      const poll = createPollDb();
      db = poll.db;
      seedPoll(db);
      cache = new InstanceCache(poll.strategy, { store: handle.store });
    });
    afterEach(async () => {
      await handle.cleanup();
    });

    it('a miss loads all pks in ONE load call, claims and fills in one round trip each, returns records in pk order', async () => {
      const records = await cache.getInstances('Choice', [3, 1, 2]);
      expect(records).toEqual([
        { id: 3, text: 'Cat', questionId: 2, voterIds: [3] },
        { id: 1, text: 'Red', questionId: 1, voterIds: [1, 2] },
        { id: 2, text: 'Blue', questionId: 1, voterIds: [] },
      ]);
      expect(db.loadsOf('Choice')).toEqual([{ model: 'Choice', version: 'v1', pks: [3, 1, 2] }]);
      // one read, one claim (the keys had no marker or generation yet), one fill
      expect(cache.stats).toMatchObject({ storeRoundTrips: 3, misses: 3, hits: 0, fills: 3, loads: 1 });
    });

    it('an empty read costs nothing', async () => {
      expect(await cache.getInstances('Choice', [])).toEqual([]);
      expect(cache.stats.storeRoundTrips).toBe(0);
    });

    it('a hit costs one round trip and no load', async () => {
      await cache.getInstances('Choice', [1, 2]);
      const before = { ...cache.stats };
      const records = await cache.getInstances('Choice', [2, 1]);
      expect(records.map((r) => r?.id)).toEqual([2, 1]);
      expect(db.loadsOf('Choice')).toHaveLength(1);
      expect(cache.stats.storeRoundTrips - before.storeRoundTrips).toBe(1);
      expect(cache.stats.hits - before.hits).toBe(2);
    });

    it('duplicate pks are read and loaded once, and answered in every position', async () => {
      const records = await cache.getInstances('Choice', [1, 1, '1' as unknown as number]);
      expect(records.map((r) => r?.id)).toEqual([1, 1, 1]);
      expect(db.loadsOf('Choice')[0]!.pks).toEqual([1]);
    });

    it('dates read back as Date objects, identical from the store and from a fresh load', async () => {
      const [fresh] = await cache.getInstances('Question', [1]);
      const [cached] = await cache.getInstances('Question', [1]);
      expect(fresh).toEqual(cached);
      expect((cached as { pubDate: Date }).pubDate).toBeInstanceOf(Date);
      expect((cached as { pubDate: Date }).pubDate.toISOString()).toBe('2024-05-01T10:00:00.123Z');
      expect(db.loadsOf('Question')).toHaveLength(1);
    });

    it('each read returns fresh objects: mutating one never leaks into the cache', async () => {
      const [first] = await cache.getInstances('Choice', [1]);
      (first as { voterIds: number[] }).voterIds.push(99);
      const [second] = await cache.getInstances('Choice', [1]);
      expect((second as { voterIds: number[] }).voterIds).toEqual([1, 2]);
    });

    it('a missing instance is null and cached as not found; a create clears it', async () => {
      expect(await cache.getInstances('Question', [42])).toEqual([null]);
      expect(await cache.getInstances('Question', [42])).toEqual([null]);
      expect(db.loadsOf('Question')).toHaveLength(1);
      db.questions.set(42, { id: 42, text: 'New', pubDate: new Date('2024-06-01T00:00:00Z') });
      await cache.update([{ model: 'Question', pk: 42 }]);
      const [created] = await cache.getInstances('Question', [42]);
      expect(created).toMatchObject({ id: 42, text: 'New' });
    });

    it('a hidden instance (serializer returned null) reads as not found', async () => {
      db.users.get(2)!.active = false;
      expect(await cache.getInstances('User', [1, 2])).toEqual([
        { id: 1, username: 'user1', voteIds: [1] },
        null,
      ]);
      expect(await cache.getInstances('User', [2])).toEqual([null]);
      expect(db.loadsOf('User')).toHaveLength(1);
    });

    it('a deleted instance becomes not found and cascades to what depended on it', async () => {
      await cache.getInstances('Question', [1]);
      await cache.getInstances('Choice', [2]);
      db.choices.delete(2);
      const summary = await cache.update([{ model: 'Choice', pk: 2 }]);
      // v1 was cached and is now "not found"; v2 was a miss, filled as "not found"; then
      // Question 1 changed in v1 and was filled in v2
      expect(summary).toMatchObject({ deleted: 1, refreshed: 3, levels: 2 });
      expect(await cache.getInstances('Choice', [2])).toEqual([null]);
      expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({ choiceIds: [1] });
    });

    it('two versions are kept apart: separate keys, separate records, both refreshed by a write', async () => {
      const [v1] = await cache.getInstances('Question', [1], { version: 'v1' });
      const [v2] = await cache.getInstances('Question', [1], { version: 'v2' });
      expect(v1).toEqual({
        id: 1,
        text: 'Best color?',
        pubDate: new Date('2024-05-01T10:00:00.123Z'),
        choiceIds: [1, 2],
      });
      expect(v2).toEqual({
        id: 1,
        questionText: 'Best color?',
        pubDate: new Date('2024-05-01T10:00:00.123Z'),
        choiceIds: [1, 2],
        choiceCount: 2,
      });
      expect(cache.keyOf('Question', 1, 'v1')).not.toBe(cache.keyOf('Question', 1, 'v2'));
      db.questions.get(1)!.text = 'Favourite color?';
      await cache.update([{ model: 'Question', pk: 1 }]);
      const loads = db.loadsOf('Question').length;
      expect((await cache.getInstances('Question', [1], { version: 'v1' }))[0]).toMatchObject({
        text: 'Favourite color?',
      });
      expect((await cache.getInstances('Question', [1], { version: 'v2' }))[0]).toMatchObject({
        questionText: 'Favourite color?',
      });
      expect(db.loadsOf('Question')).toHaveLength(loads); // both served from the refreshed cache
    });

    it('versions sharing one load function share ONE load call during update', async () => {
      await cache.getInstances('Question', [1], { version: 'v1' });
      await cache.getInstances('Question', [1], { version: 'v2' });
      const before = db.loadsOf('Question').length;
      await cache.update([{ model: 'Question', pk: 1 }]);
      expect(db.loadsOf('Question').length - before).toBe(1);
    });

    it('updateOnly stops at a miss: nothing is loaded or cascaded, a marker a reader holds is replaced', async () => {
      const summary = await cache.update([{ model: 'Choice', pk: 1 }], { updateOnly: true });
      expect(summary).toEqual({ refreshed: 0, deleted: 0, unchanged: 0, skipped: 2, levels: 1, failed: 0 });
      expect(db.loadCalls).toHaveLength(0);
      // Checked at write: nothing was there, so nothing can be filling; checked at read: the
      // generations were bumped.
      expect(cache.stats.invalidations).toBe(storeCase.checksAtWrite ? 0 : 2);
      // A reader that claimed a marker (it is loading) has it replaced: its fill will not land.
      const gate = db.pauseNextLoad('Choice');
      const slow = cache.getInstances('Choice', [1]);
      await gate.paused;
      db.choices.get(1)!.text = 'Crimson';
      await cache.update([{ model: 'Choice', pk: 1 }], { updateOnly: true });
      gate.release();
      expect((await slow)[0]).toMatchObject({ text: 'Red' });
      expect((await cache.getInstances('Choice', [1]))[0]).toMatchObject({ text: 'Crimson' });
    });

    it('without updateOnly a miss is filled; what it names is refreshed only where cached', async () => {
      await cache.getInstances('Question', [1]); // cached; Choice 1 and Users 1, 2 are not
      const summary = await cache.update([{ model: 'Choice', pk: 1 }]);
      // Choice 1 (a miss, so its previous is unknown) is loaded and filled in both versions; it
      // names Question 1 and Users 1, 2, which are refreshed only where cached: with no previous
      // record an invalidator can only name every current neighbour, and following their misses
      // would walk the whole graph on a cold cache.
      expect(summary).toEqual({ refreshed: 2, deleted: 0, unchanged: 1, skipped: 5, levels: 2, failed: 0 });
      expect(db.loadsOf('Choice')).toHaveLength(1);
      expect(db.loadsOf('Question')).toHaveLength(2); // the first read, then the refresh of v1
      expect(db.loadsOf('User')).toHaveLength(0);
    });

    it('without updateOnly a changed record cascades into misses and fills them', async () => {
      await cache.getInstances('Choice', [1], { version: 'v1' });
      await cache.getInstances('Choice', [1], { version: 'v2' });
      db.choices.get(1)!.questionId = 2;
      const summary = await cache.update([{ model: 'Choice', pk: 1 }]);
      // Choice 1 changed (its previous record is known), so Questions 1 and 2 and Users 1 and 2
      // are loaded and filled although none was cached.
      expect(summary).toMatchObject({ refreshed: 2 + 4 + 4, skipped: 0, levels: 2 });
      expect(db.loadsOf('Question').at(-1)!.pks).toEqual([2, 1]);
      const loads = db.loadCalls.length;
      expect(
        (await cache.getInstances('Question', [1, 2])).map((q) => (q as { choiceIds: number[] }).choiceIds),
      ).toEqual([[2], [1, 3]]);
      expect(db.loadCalls).toHaveLength(loads);
    });

    it('the cascade runs only when a record changed', async () => {
      await cache.getInstances('Choice', [1]);
      await cache.getInstances('Choice', [1], { version: 'v2' });
      const unchanged = await cache.update([{ model: 'Choice', pk: 1 }], { updateOnly: true });
      expect(unchanged).toMatchObject({ unchanged: 2, refreshed: 0, levels: 1 });
      expect(db.loadsOf('Question')).toHaveLength(0);
      db.choices.get(1)!.text = 'Crimson';
      const changed = await cache.update([{ model: 'Choice', pk: 1 }], { updateOnly: true });
      expect(changed).toMatchObject({ refreshed: 2, levels: 2 });
      expect((await cache.getInstances('Choice', [1]))[0]).toMatchObject({ text: 'Crimson' });
    });

    it('updateInstance returns the refs of the new and the previous state, and does not follow them', async () => {
      await cache.getInstances('Choice', [3]);
      db.choices.get(3)!.questionId = 1;
      const refs = await cache.updateInstance('Choice', 3, { version: 'v1' });
      expect(refs).toEqual([
        { model: 'Question', pk: 1 },
        { model: 'User', pk: 3 },
        { model: 'Question', pk: 2 },
        { model: 'User', pk: 3 },
      ]);
      expect(db.loadsOf('Question')).toHaveLength(0);
    });

    it('updateInstance returns no refs when the record did not change', async () => {
      await cache.getInstances('Choice', [3]);
      expect(await cache.updateInstance('Choice', 3, { version: 'v1' })).toEqual([]);
    });

    it('a child moving from parent A to parent B refreshes both A and B', async () => {
      await cache.getInstances('Question', [1, 2]);
      await cache.getInstances('Choice', [2]);
      db.choices.get(2)!.questionId = 2;
      await cache.update([{ model: 'Choice', pk: 2 }], { updateOnly: true });
      const loads = db.loadsOf('Question').length;
      const [a, b] = await cache.getInstances('Question', [1, 2]);
      expect(a).toMatchObject({ choiceIds: [1] });
      expect(b).toMatchObject({ choiceIds: [2, 3] });
      expect(db.loadsOf('Question')).toHaveLength(loads);
    });

    it('a cycle terminates and refreshes each key at most once', async () => {
      // Choice 1 → User 1 → Choice 1 (votes both ways): a cycle through the invalidators.
      await cache.getInstances('Choice', [1]);
      await cache.getInstances('User', [1]);
      db.choices.get(1)!.text = 'Scarlet';
      db.unvote(1, 1);
      const summary = await cache.update([{ model: 'Choice', pk: 1 }]);
      const refreshedChoice1 = db.loadCalls.filter((call) => call.model === 'Choice' && call.pks.includes(1));
      expect(refreshedChoice1).toHaveLength(2); // the first read and the update, never again
      expect(summary.levels).toBeLessThanOrEqual(3);
      expect((await cache.getInstances('User', [1]))[0]).toMatchObject({ voteIds: [] });
    });

    it('an invalidator-only model is never stored, and its change refreshes its dependents', async () => {
      await cache.getInstances('User', [1, 2, 3]);
      db.users.get(1)!.username = 'renamed';
      const summary = await cache.update([{ model: 'Group', pk: 1 }], { updateOnly: true });
      expect(db.loadsOf('Group')).toHaveLength(1);
      expect(db.loadsOf('User').at(-1)!.pks).toEqual([1, 2]);
      // User 1 changed in v1; User 2 is unchanged; their v2 was never read, so updateOnly skips
      // it, and so it skips Choice 1 (v1, v2), which User 1's change named
      expect(summary).toMatchObject({ refreshed: 1, unchanged: 1, skipped: 4, levels: 3 });
      expect((await cache.getInstances('User', [1]))[0]).toMatchObject({ username: 'renamed' });
      await expect(cache.getInstances('Group', [1])).rejects.toMatchObject({ code: 'E_UNKNOWN_MODEL' });
    });

    it('invalidate(model, pks) refreshes after a write the ORM could not see', async () => {
      await cache.getInstances('Question', [1, 2]);
      db.questions.get(1)!.text = 'native';
      db.questions.get(2)!.text = 'update';
      const summary = await cache.invalidate('Question', [1, 2]);
      expect(summary.refreshed).toBe(4);
      expect((await cache.getInstances('Question', [1, 2])).map((q) => (q as { text: string }).text)).toEqual(
        ['native', 'update'],
      );
    });

    it('deleteAllVersions drops a key in every version without loading or cascading', async () => {
      await cache.getInstances('Question', [1], { version: 'v1' });
      await cache.getInstances('Question', [1], { version: 'v2' });
      const loads = db.loadCalls.length;
      await cache.deleteAllVersions('Question', 1);
      expect(db.loadCalls).toHaveLength(loads);
      await cache.getInstances('Question', [1], { version: 'v1' });
      await cache.getInstances('Question', [1], { version: 'v2' });
      expect(db.loadCalls).toHaveLength(loads + 2);
    });

    it('dropVersion deletes one version, records and generations, and leaves the other', async () => {
      await cache.getInstances('Question', [1, 2], { version: 'v1' });
      await cache.getInstances('Question', [1], { version: 'v2' });
      await cache.update([{ model: 'Question', pk: 1 }], { updateOnly: true });
      // v1: 2 records (plus their 2 generation entries when checked at read); v2: untouched
      expect(await cache.dropVersion('v1')).toBe(storeCase.checksAtWrite ? 2 : 4);
      const loads = db.loadCalls.length;
      await cache.getInstances('Question', [1], { version: 'v2' });
      expect(db.loadCalls).toHaveLength(loads);
      await cache.getInstances('Question', [1], { version: 'v1' });
      expect(db.loadCalls).toHaveLength(loads + 1);
    });

    it('a corrupt entry is a miss that the fill repairs', async () => {
      await cache.getInstances('Question', [1]);
      const key = cache.keyOf('Question', 1);
      // Corrupt JSON in the protocol's own format (stamped with the current generation when checked at read).
      const [generation] = await handle.store.getMany([`${key}:g`]);
      const tag = cache.strategy.resolve('Question', 'v1').recordTag;
      await handle.store.setMany([
        { key, value: storeCase.checksAtWrite ? `${tag}{not json` : `${generation}\n${tag}{not json` },
      ]);
      expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({ id: 1 });
      expect(cache.stats.corrupt).toBe(1);
      await handle.store.setMany([{ key, value: 'garbage without a stamp' }]);
      expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({ id: 1 });
      expect(cache.stats.corrupt).toBe(2);
      const loads = db.loadsOf('Question').length;
      expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({ id: 1 });
      expect(db.loadsOf('Question')).toHaveLength(loads);
    });

    it('another definition of a model (a rolling deploy) shares the keys: its records are misses, its invalidations reach us', async () => {
      // The "new deploy" serializes Question differently; both run against one store.
      const poll = createPollDb();
      seedPoll(poll.db);
      const next = defineModel('Question', {
        load: async (pks: readonly Pk[]) =>
          pks.flatMap((pk) => (db.questions.has(pk as number) ? [db.questions.get(pk as number)!] : [])),
        serialize: (q: { id: number; text: string }) => ({ id: q.id, title: q.text.toUpperCase() }),
        invalidate: () => [],
      });
      const deployed = new InstanceCache(defineStrategy({ versions: ['v1', 'v2'], models: [next] }), {
        store: handle.store,
      });
      expect(deployed.keyOf('Question', 1)).toBe(cache.keyOf('Question', 1));
      await cache.getInstances('Question', [1]);
      // The new definition does not read the old record: a miss, loaded, and the key is its now.
      expect(await deployed.getInstances('Question', [1])).toEqual([{ id: 1, title: 'BEST COLOR?' }]);
      expect(deployed.stats).toMatchObject({ hits: 0, misses: 1 });
      // The old one reads its own record again after a miss…
      expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({ text: 'Best color?' });
      // …and a write refreshed by the NEW definition still reaches the old one's reads.
      db.questions.get(1)!.text = 'Changed during the deploy';
      await deployed.update([{ model: 'Question', pk: 1 }]);
      expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({
        text: 'Changed during the deploy',
      });
    });

    it('emits one event per batch with counts: miss, fill, hit, invalidate, staleRejected', async () => {
      const seen: string[] = [];
      cache.on('miss', (n, ctx) => seen.push(`miss ${n} ${ctx.model}@${ctx.version}`));
      cache.on('fill', (n) => seen.push(`fill ${n}`));
      cache.on('hit', (n, ctx) => seen.push(`hit ${n} ${ctx.model}@${ctx.version}`));
      cache.on('invalidate', (n) => seen.push(`invalidate ${n}`));
      cache.on('staleRejected', (n) => seen.push(`staleRejected ${n}`));
      await cache.getInstances('Choice', [1, 2]);
      await cache.getInstances('Choice', [1, 2]);
      await cache.getInstances('Choice', [2], { version: 'v2' });
      db.choices.get(2)!.text = 'Navy';
      await cache.update([{ model: 'Choice', pk: 2 }], { updateOnly: true });
      // The update rewrote Choice 2 in both versions; Question 1, which it names, is cached in
      // neither, so (updateOnly) it is left alone — except that a store checked at read bumps its
      // generations too.
      expect(seen).toEqual([
        'miss 2 Choice@v1',
        'fill 2',
        'hit 2 Choice@v1',
        'miss 1 Choice@v2',
        'fill 1',
        'invalidate 2',
        ...(storeCase.checksAtWrite ? [] : ['invalidate 2']),
      ]);
    });

    it('bad input is rejected before the store is touched', async () => {
      await expect(cache.getInstances('Question', ['abc'])).rejects.toMatchObject({ code: 'E_INVALID_PK' });
      await expect(cache.getInstances('Nope' as 'Question', [1])).rejects.toMatchObject({
        code: 'E_UNKNOWN_MODEL',
      });
      await expect(cache.getInstances('Question', [1], { version: 'v9' })).rejects.toMatchObject({
        code: 'E_UNKNOWN_VERSION',
      });
      await expect(cache.update([{ model: 'Question', pk: 'abc' }])).rejects.toMatchObject({
        code: 'E_INVALID_PK',
      });
      await expect(cache.update([null as never])).rejects.toMatchObject({
        code: 'E_INVALID_OPTION',
        message: 'InstanceCache.update: expected { model, pk } refs, got null',
      });
      await expect(cache.update({} as never)).rejects.toMatchObject({ code: 'E_INVALID_OPTION' });
      const strict = new InstanceCache(cache.strategy, { store: handle.store, unknownModels: 'throw' });
      await expect(
        strict.update([
          { model: 'Question', pk: 1 },
          { model: 'Nope', pk: 1 },
        ]),
      ).rejects.toMatchObject({ code: 'E_UNKNOWN_MODEL' });
      expect(cache.stats.storeRoundTrips + strict.stats.storeRoundTrips).toBe(0);
    });

    it('update reports a ref to a model the strategy does not define, and refreshes the rest', async () => {
      const errors: string[] = [];
      cache.on('error', (error) => errors.push(error.code));
      await cache.getInstances('Question', [1]);
      db.questions.get(1)!.text = 'Still refreshed';
      const summary = await cache.update([
        { model: 'AuditLog', pk: 7 },
        { model: 'Question', pk: 1 },
      ]);
      expect(errors).toEqual(['E_UNKNOWN_MODEL']);
      expect(summary.refreshed).toBeGreaterThan(0);
      expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({ text: 'Still refreshed' });
    });
  });
}

describe('InstanceCache switches and expiry', () => {
  it('enabled: false reads through to load every time and update does nothing', async () => {
    const { db, strategy } = createPollDb();
    seedPoll(db);
    const store = createMemoryStore();
    const cache = new InstanceCache(strategy, { store, enabled: false });
    expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({ text: 'Best color?' });
    expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({ text: 'Best color?' });
    expect(db.loadsOf('Question')).toHaveLength(2);
    expect(await cache.update([{ model: 'Question', pk: 1 }])).toEqual({
      refreshed: 0,
      deleted: 0,
      unchanged: 0,
      skipped: 0,
      levels: 0,
      failed: 0,
    });
    expect(cache.stats.storeRoundTrips).toBe(0);
    expect(await store.getMany([cache.keyOf('Question', 1)])).toEqual([undefined]);
  });

  it('a level whose writes fail counts its keys as failed and as nothing else', async () => {
    const { db, strategy } = createPollDb();
    seedPoll(db);
    const flaky = createFlakyStore();
    const cache = new InstanceCache(strategy, { store: flaky.store });
    const errors: unknown[] = [];
    cache.on('error', (error) => errors.push(error));
    await cache.getInstances('Question', [1], { version: 'v1' });
    db.questions.get(1)!.text = 'changed while the store went down';
    const pause = db.pauseNextLoad('Question');
    const updating = cache.update([{ model: 'Question', pk: 1 }], { versions: ['v1'] });
    await pause.paused; // the refresh has begun: its key is claimed
    flaky.down = true; // …and its write will fail
    pause.release();
    expect(await updating).toEqual({
      refreshed: 0,
      deleted: 0,
      unchanged: 0,
      skipped: 0,
      levels: 1,
      failed: 1,
    });
    expect(errors).toHaveLength(1);
    flaky.down = false;
    expect(await cache.flushPending()).toBe(true);
    expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({
      text: 'changed while the store went down',
    });
  });

  it('an invalidator may name app-level keys: the cascade deletes them', async () => {
    const { db } = createPollDb();
    seedPoll(db);
    const counted = defineModel('Question', {
      load: async (pks: readonly Pk[]) =>
        pks.map((pk) => ({ id: pk as number, text: db.questions.get(pk as number)!.text })),
      serialize: (q: { id: number; text: string }) => ({ id: q.id, text: q.text }),
      invalidate: () => [{ key: 'app:question-count' }],
    });
    const store = createMemoryStore();
    const cache = new InstanceCache(defineStrategy({ versions: ['v1'], models: [counted] }), { store });
    await store.setMany([{ key: 'app:question-count', value: '2' }]);
    await cache.getInstances('Question', [1]);
    db.questions.get(1)!.text = 'changed';
    await cache.update([{ model: 'Question', pk: 1 }]);
    expect(await store.getMany(['app:question-count'])).toEqual([undefined]);
  });

  it.runIf(redisAvailable)(
    'not-found entries expire after 5 minutes by default, markers after 24 hours',
    async () => {
      const { db, strategy } = createPollDb();
      seedPoll(db);
      const store = await createTestRedisStore('ttl');
      try {
        const cache = new InstanceCache(strategy, { store });
        await cache.getInstances('Question', [1, 404]);
        await cache.deleteAllVersions('Question', 1);
        const client = store.client as RedisClient;
        const ttl = (pk: number) => client.pTTL(`${store.namespace}::${cache.keyOf('Question', pk)}`);
        expect(await ttl(404)).toBeGreaterThan(299_000);
        expect(await ttl(404)).toBeLessThanOrEqual(300_000);
        expect(await ttl(1)).toBeGreaterThan(86_399_000); // a marker
        expect(await ttl(1)).toBeLessThanOrEqual(86_400_000);
      } finally {
        await store.cleanup();
      }
    },
  );
});
