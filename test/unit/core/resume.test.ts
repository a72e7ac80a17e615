import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InstanceCache } from '../../../src/index.js';
import { createPollDb, seedPoll } from '../../support/poll-fixture.js';
import { storeCases, type TestStore } from '../../support/stores.js';

// A refresh interrupted between two levels of its cascade (its process died, its job's worker
// was killed): level 1 is written, level 2 is not. A plain re-run finds level 1 unchanged and
// stops there; a resumed one (journal recovery, a job that ran before) follows it to level 2.

// Stores checked at write keep a refreshing record readable until its refresh writes it (what
// leaves level 2 stale here); stores checked at read invalidate it when the refresh begins.
for (const { name, available, create } of storeCases.filter((store) => store.checksAtWrite)) {
  describe.runIf(available)(`a resumed refresh, on ${name}`, () => {
    let handle: TestStore;
    beforeEach(async () => {
      handle = await create('resume');
    });
    afterEach(async () => {
      await handle.cleanup();
    });

    it('re-runs every level of an interrupted cascade; a plain re-run stops at the first', async () => {
      const { db, strategy } = createPollDb();
      seedPoll(db);
      const cache = new InstanceCache(strategy, { store: handle.store });
      await cache.getInstances('Choice', [1]);
      await cache.getInstances('Question', [1, 2]);
      // Choice 1 moves from question 1 to question 2.
      db.choices.get(1)!.questionId = 2;
      // The refresh writes the choice (level 1), then stops inside level 2's load: "it died".
      const pause = db.pauseNextLoad('Question');
      const interrupted = cache.update([{ model: 'Choice', pk: 1 }]);
      await pause.paused;
      expect(await cache.getInstances('Choice', [1])).toMatchObject([{ questionId: 2 }]);
      const stale = await cache.getInstances('Question', [1, 2]);
      expect(stale.map((q) => (q as { choiceIds: number[] }).choiceIds)).toEqual([[1, 2], [3]]);

      const plain = await cache.update([{ model: 'Choice', pk: 1 }]);
      expect(plain).toMatchObject({ unchanged: 2, levels: 1 }); // the choice, in v1 and v2
      expect((await cache.getInstances('Question', [2]))[0]).toMatchObject({ choiceIds: [3] }); // still stale

      const resumed = await cache.update([{ model: 'Choice', pk: 1 }], { resume: true });
      expect(resumed).toMatchObject({ refreshed: 1, failed: 0 });
      expect(resumed.levels).toBeGreaterThanOrEqual(2);
      // The choice's current question is fresh again. Its previous one (question 1) cannot be
      // named by a re-run: the previous record is gone. Writers name both parents in the refs
      // they hand over (the MikroORM subscriber does, and so does its journal entry).
      expect((await cache.getInstances('Question', [2]))[0]).toMatchObject({ choiceIds: [1, 3] });
      await cache.update([
        { model: 'Choice', pk: 1 },
        { model: 'Question', pk: 1 },
        { model: 'Question', pk: 2 },
      ]);
      const fresh = await cache.getInstances('Question', [1, 2]);
      expect(fresh.map((q) => (q as { choiceIds: number[] }).choiceIds)).toEqual([[2], [1, 3]]);

      // The interrupted run, released at last, cannot write over the newer refresh.
      pause.release();
      await interrupted;
      const after = await cache.getInstances('Question', [1, 2]);
      expect(after.map((q) => (q as { choiceIds: number[] }).choiceIds)).toEqual([[2], [1, 3]]);
      await cache.close();
    });
  });
}
