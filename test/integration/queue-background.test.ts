/**
 * The `background` mode: `backgroundRunner` runs cascades in this process after the commit
 * returns. On real SQLite with the journal: the flush resolves before the refresh, `drain()` waits
 * for it, batches queued behind a running update are merged, the queue is bounded, `close()`
 * drains it and then refuses more.
 */
import type { EntitySchema } from '@mikro-orm/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Choice, pollEntities, Question } from '../../examples/poll/entities.js';
import { type SeededPoll, seedPoll } from '../../examples/poll/seed.js';
import { createPollStrategy } from '../../examples/poll/strategy.js';
import {
  backgroundRunner,
  type CascadeBatch,
  type CascadeTarget,
  createMemoryStore,
  InstanceCache,
  InvalidOptionError,
  QueueError,
  type Ref,
  type UpdateOptions,
  type UpdateSummary,
} from '../../src/index.js';
import { CacheJournal, CacheJournalEntry, CacheSubscriber } from '../../src/mikro-orm/index.js';
import { ForwardingSubscriber } from '../support/forward-subscriber.js';
import { createTestOrm, type TestOrm } from '../support/mikro-orm.js';
import { compareWithDatabase, type PollCache } from '../support/processes/queue-world.js';
import { formatRefs } from '../support/recording-target.js';

/** A target that records its calls and holds each one until the test releases it (when `holding`). */
function heldTarget(next?: CascadeTarget) {
  const calls: string[][] = [];
  const arrivals: (() => void)[] = [];
  const gates: (() => void)[] = [];
  return {
    calls,
    holding: true,
    /** Resolves once an update waits at the gate. */
    arrived: () => new Promise<void>((resolve) => arrivals.push(resolve)),
    release() {
      for (const open of gates.splice(0)) open();
    },
    async update(refs: readonly Ref[], options?: UpdateOptions): Promise<UpdateSummary> {
      calls.push(formatRefs(refs));
      if (this.holding) {
        const gate = new Promise<void>((resolve) => gates.push(resolve));
        arrivals.shift()?.();
        await gate;
      }
      return (
        (await next?.update(refs, options)) ?? {
          refreshed: refs.length,
          deleted: 0,
          unchanged: 0,
          skipped: 0,
          levels: 1,
          failed: 0,
        }
      );
    },
  };
}

const ref = (pk: number): Ref => ({ model: 'Question', pk });
const batch = (...pks: number[]): CascadeBatch => ({ refs: pks.map(ref) });

describe('background mode: backgroundRunner', () => {
  let db: TestOrm;
  let seeded: SeededPoll;
  const forward = new ForwardingSubscriber();
  beforeAll(async () => {
    db = await createTestOrm('sqlite', {
      label: 'queue_background',
      entities: [...pollEntities, CacheJournalEntry] as unknown as EntitySchema[],
      subscribers: [forward],
    });
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    forward.current = undefined;
    await db.orm.schema.clearDatabase();
    seeded = await seedPoll(db.orm.em.fork(), {
      questions: 2,
      choicesPerQuestion: 2,
      users: 4,
      votesPerChoice: 2,
    });
  });

  it('flush resolves before the refresh; queued commits merge into one update; drain() waits; entries applied', async () => {
    const cache: PollCache = new InstanceCache(createPollStrategy(db.orm), { store: createMemoryStore() });
    const journal = new CacheJournal(db.orm, cache);
    const target = heldTarget(cache);
    const runner = backgroundRunner(target, { journal });
    forward.current = new CacheSubscriber(cache, { journal, runner });
    expect((await compareWithDatabase(cache, db.orm)).stale).toEqual([]);
    const [q1, q2] = seeded.questionIds as [number, number];
    const arrived = target.arrived();
    const em = db.orm.em.fork();
    (await em.findOneOrFail(Question, q1)).questionText = 'first';
    await em.flush(); // resolves while its update is held
    await arrived;
    expect((await compareWithDatabase(cache, db.orm)).stale).toEqual([
      `Question@v1:${q1}`,
      `Question@v2:${q1}`,
    ]);
    // Three more commits while the first update runs: queued, then merged into one update.
    const created: number[] = [];
    for (const text of ['a', 'b']) {
      const fork = db.orm.em.fork();
      const choice = fork.create(Choice, { choiceText: text, question: q2 });
      await fork.flush();
      created.push(choice.id);
    }
    const last = db.orm.em.fork();
    (await last.findOneOrFail(Question, q1)).questionText = 'last';
    await last.flush();
    expect(target.calls).toHaveLength(1);
    target.holding = false;
    target.release();
    await runner.drain();
    expect(target.calls).toEqual([
      [`Question:${q1}`],
      formatRefs([...created.map((pk) => ({ model: 'Choice', pk })), ref(q2), ref(q1)]),
    ]);
    expect((await compareWithDatabase(cache, db.orm)).stale).toEqual([]);
    await journal.flush();
    const rows = (await db.orm.em.getConnection().execute('select applied_at from gci_cache_journal')) as {
      applied_at: unknown;
    }[];
    expect(rows).toHaveLength(4);
    expect(rows.every((row) => row.applied_at !== null)).toBe(true);
    await runner.close();
  });

  it('bounded: submit waits while maxQueued refs wait, and goes on once the queue has room', async () => {
    const target = heldTarget();
    const runner = backgroundRunner(target, { maxQueued: 2 });
    const arrived = target.arrived();
    await runner.submit(batch(1)); // taken at once: the queue is empty again
    await arrived;
    await runner.submit(batch(2, 3)); // 2 refs wait: full
    let third = 'pending';
    const submitted = runner.submit(batch(4)).then(() => {
      third = 'queued';
    });
    // Nothing can make room while the running update is held.
    await Promise.resolve();
    expect(third).toBe('pending');
    target.holding = false;
    target.release();
    await submitted;
    await runner.drain();
    expect(target.calls).toEqual([['Question:1'], ['Question:2', 'Question:3'], ['Question:4']]);
  });

  it('updates run one at a time, in submission order; close() drains, then refuses', async () => {
    const target = heldTarget();
    target.holding = false;
    const runner = backgroundRunner(target, { maxBatch: 1 });
    for (const pk of [5, 3, 5, 1]) await runner.submit(batch(pk));
    await runner.close();
    expect(target.calls).toEqual([['Question:5'], ['Question:3'], ['Question:5'], ['Question:1']]);
    await expect(runner.submit(batch(9))).rejects.toBeInstanceOf(QueueError);
    expect(() => backgroundRunner(target, { maxQueued: 0 })).toThrow(InvalidOptionError);
  });
});
