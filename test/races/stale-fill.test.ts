import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InstanceCache } from '../../src/index.js';
import { createPollDb, seedPoll } from '../support/poll-fixture.js';
import { storeCases, type TestStore } from '../support/stores.js';

// Deterministic races: a reader's load is paused on a promise the test holds (after it read the
// rows, like a slow query that ran before a commit), the test writes and runs the update, then
// releases the reader. What is served afterwards is the point.
for (const storeCase of storeCases) {
  describe.runIf(storeCase.available)(`races on ${storeCase.name}`, () => {
    let handle: TestStore;
    let db: ReturnType<typeof createPollDb>['db'];
    let cache: InstanceCache<Record<string, object>>;
    let strategy: ReturnType<typeof createPollDb>['strategy'];

    beforeEach(async () => {
      handle = await storeCase.create('races');
      const poll = createPollDb();
      db = poll.db;
      strategy = poll.strategy;
      seedPoll(db);
      cache = new InstanceCache(poll.strategy, { store: handle.store }) as never;
    });
    afterEach(async () => {
      await handle.cleanup();
    });

    it('a fill that raced a committed write is never served; staleRejected counts it', async () => {
      const pause = db.pauseNextLoad('Question');
      const reader = cache.getInstances('Question', [1]);
      await pause.paused; // the reader has read the generation and the old row

      db.questions.get(1)!.text = 'changed while the reader was loading';
      await cache.update([{ model: 'Question', pk: 1 }]); // the write's invalidation runs

      pause.release();
      // The reader started before the write: it may answer with what it read.
      expect((await reader)[0]).toMatchObject({ text: 'Best color?' });
      const loads = db.loadsOf('Question').length;
      expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({
        text: 'changed while the reader was loading',
      });
      if (storeCase.checksAtWrite) {
        // Its fill was refused at write time: the refreshed record is still there, a hit.
        expect(cache.stats.staleRejected).toBe(0);
        expect(db.loadsOf('Question')).toHaveLength(loads);
      } else {
        // Its fill, stamped with the old generation, overwrote the fresh record; it is rejected
        // at read time and repaired by a load.
        expect(cache.stats.staleRejected).toBe(1);
        expect(db.loadsOf('Question')).toHaveLength(loads + 1);
      }
      // Either way the next read is a hit.
      const settled = db.loadsOf('Question').length;
      expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({
        text: 'changed while the reader was loading',
      });
      expect(db.loadsOf('Question')).toHaveLength(settled);
    });

    it('the same race under updateOnly (the key was a miss): still never served', async () => {
      const pause = db.pauseNextLoad('Question');
      const reader = cache.getInstances('Question', [1]);
      await pause.paused;
      db.questions.get(1)!.text = 'v2 of the row';
      const summary = await cache.update([{ model: 'Question', pk: 1 }], { updateOnly: true });
      expect(summary.skipped).toBe(2);
      pause.release();
      await reader;
      expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({ text: 'v2 of the row' });
      // Checked at write the reader's marker was replaced, so its fill never landed; checked at
      // read it landed with an old stamp and was rejected.
      expect(cache.stats.staleRejected).toBe(storeCase.checksAtWrite ? 0 : 1);
    });

    it('a cached "not found" raced by a create is never served after the create', async () => {
      const pause = db.pauseNextLoad('Question');
      const reader = cache.getInstances('Question', [7]);
      await pause.paused;
      db.questions.set(7, { id: 7, text: 'created', pubDate: new Date('2024-01-01T00:00:00Z') });
      await cache.update([{ model: 'Question', pk: 7 }]);
      pause.release();
      expect(await reader).toEqual([null]);
      expect((await cache.getInstances('Question', [7]))[0]).toMatchObject({ text: 'created' });
    });

    it('single-flight: concurrent misses of one key share one load', async () => {
      const pause = db.pauseNextLoad('Choice');
      const first = cache.getInstances('Choice', [1, 2]);
      await pause.paused;
      // The two later readers join (or not) synchronously right after their 'miss' event.
      let missed = 0;
      const bothMissed = new Promise<void>((resolve) => {
        cache.on('miss', () => {
          missed += 1;
          if (missed === 2) resolve();
        });
      });
      const second = cache.getInstances('Choice', [2]);
      const third = cache.getInstances('Choice', [1, 3]);
      await bothMissed;
      pause.release();
      const [a, b, c] = await Promise.all([first, second, third]);
      expect(a.map((r) => (r as { id: number }).id)).toEqual([1, 2]);
      expect(b.map((r) => (r as { id: number }).id)).toEqual([2]);
      expect(c.map((r) => (r as { id: number }).id)).toEqual([1, 3]);
      // Choice 1 and 2 loaded once; only Choice 3 needed a load of its own.
      expect(db.loadsOf('Choice').map((call) => call.pks)).toEqual([[1, 2], [3]]);
    });

    it('single-flight never joins a load that started before a write the reader has seen', async () => {
      const pause = db.pauseNextLoad('Choice');
      const before = cache.getInstances('Choice', [1]);
      await pause.paused;
      db.choices.get(1)!.text = 'after the write';
      await cache.update([{ model: 'Choice', pk: 1 }], { updateOnly: true });
      // This reader sees the new generation: it must not join the paused (old) load.
      const after = await cache.getInstances('Choice', [1]);
      expect(after[0]).toMatchObject({ text: 'after the write' });
      pause.release();
      expect((await before)[0]).toMatchObject({ text: 'Red' });
      expect((await cache.getInstances('Choice', [1]))[0]).toMatchObject({ text: 'after the write' });
    });

    it('a failed load rejects every reader that joined it, and nothing is left unhandled', async () => {
      const pause = db.pauseNextLoad('Choice');
      const first = cache.getInstances('Choice', [1]);
      await pause.paused;
      db.failing = true;
      // Joins the paused load of Choice 1 and loads Choice 2 itself; both loads fail.
      const second = cache.getInstances('Choice', [1, 2]);
      await expect(second).rejects.toMatchObject({ code: 'E_LOAD', cause: { message: 'database is down' } });
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      pause.release();
      await expect(first).rejects.toMatchObject({ code: 'E_LOAD', cause: { message: 'database is down' } });
      // Node reports unhandled rejections once the microtask queue drains after a macrotask.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      process.off('unhandledRejection', onUnhandled);
      expect(unhandled).toEqual([]);
      db.failing = false;
      expect((await cache.getInstances('Choice', [1, 2])).map((c) => (c as { id: number }).id)).toEqual([
        1, 2,
      ]);
    });

    it('two processes on one store: a fill by one is never served after the other invalidates', async () => {
      // Two InstanceCache objects on one store are two processes sharing Redis.
      const other = new InstanceCache(strategy, { store: handle.store }) as never as typeof cache;
      const pause = db.pauseNextLoad('Question');
      const reader = other.getInstances('Question', [1]); // process B reads the old row…
      await pause.paused;
      db.questions.get(1)!.text = 'written by process A';
      await cache.update([{ model: 'Question', pk: 1 }]); // …process A commits and invalidates…
      pause.release();
      await reader; // …B's fill is refused (checked at write), or lands with an old stamp (at read)
      for (const process of [cache, other]) {
        expect((await process.getInstances('Question', [1]))[0]).toMatchObject({
          text: 'written by process A',
        });
      }
      expect(cache.stats.staleRejected + other.stats.staleRejected).toBe(storeCase.checksAtWrite ? 0 : 1);
    });

    it('two writers refreshing one key in either order leave the newest state', async () => {
      await cache.getInstances('Question', [1]);
      db.questions.get(1)!.text = 'first write';
      const pause = db.pauseNextLoad('Question');
      const firstUpdate = cache.update([{ model: 'Question', pk: 1 }]);
      await pause.paused; // the first refresh bumped and read 'first write', then stalls
      db.questions.get(1)!.text = 'second write';
      await cache.update([{ model: 'Question', pk: 1 }]);
      pause.release();
      await firstUpdate; // its fill lands last, stamped with an older generation
      expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({ text: 'second write' });
    });
  });
}
