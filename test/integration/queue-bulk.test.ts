/**
 * Bulk loads: `CacheSubscriber.suspend(fn)` holds back the refresh of every commit `fn` makes and
 * refreshes once at the end, one batch with the refs de-duplicated (drf-cached-instances'
 * `_delay_cache`). On real databases, with the journal: each commit still journals in its own
 * transaction, and the one refresh marks every entry applied.
 */
import type { EntitySchema } from '@mikro-orm/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Choice, pollEntities, Question } from '../../examples/poll/entities.js';
import { type SeededPoll, seedPoll } from '../../examples/poll/seed.js';
import { createPollStrategy } from '../../examples/poll/strategy.js';
import { createMemoryStore, InstanceCache, InvalidOptionError } from '../../src/index.js';
import { CacheJournal, CacheJournalEntry, CacheSubscriber } from '../../src/mikro-orm/index.js';
import { deferred } from '../support/deferred.js';
import { ForwardingSubscriber } from '../support/forward-subscriber.js';
import { createTestOrm, type TestOrm, testDatabases } from '../support/mikro-orm.js';
import { compareWithDatabase, type PollCache } from '../support/processes/queue-world.js';
import { createRecordingTarget, formatRefs } from '../support/recording-target.js';

type JournalRow = { id: string; applied_at: number | string | null };

describe.each(await testDatabases())('suspend(): bulk loads on %s', (database) => {
  let db: TestOrm;
  let seeded: SeededPoll;
  const forward = new ForwardingSubscriber();
  beforeAll(async () => {
    db = await createTestOrm(database, {
      label: 'queue_bulk',
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
  afterEach(() => {
    forward.current = undefined;
  });

  /** An app process: its cache (memory store), journal and subscriber, the update calls recorded. */
  function app() {
    const cache: PollCache = new InstanceCache(createPollStrategy(db.orm), { store: createMemoryStore() });
    const journal = new CacheJournal(db.orm, cache);
    const target = createRecordingTarget({ next: cache });
    const subscriber = new CacheSubscriber(target, { journal });
    forward.current = subscriber;
    return { cache, journal, target, subscriber };
  }
  const journalRows = async () =>
    (await db.orm.em
      .getConnection()
      .execute('select id, applied_at from gci_cache_journal order by created_at')) as JournalRow[];
  const stale = async (cache: PollCache) => (await compareWithDatabase(cache, db.orm)).stale;

  const N = 3;
  const M = 4;
  /** One flush of the bulk load: M new choices under `questionId` (each names the question too). */
  async function bulkFlush(flush: number, questionId: number): Promise<number[]> {
    const em = db.orm.em.fork();
    const question = em.getReference(Question, questionId);
    const choices = Array.from({ length: M }, (_, row) =>
      em.create(Choice, { choiceText: `bulk ${flush}.${row}`, question }),
    );
    await em.flush();
    return choices.map((choice) => choice.id);
  }
  /** A statement's verb and table: `insert choice`, `begin`. */
  const shape = (sql: string) =>
    sql
      .replace(/[`"]/g, '')
      .match(/^(begin|commit|insert into \w+|select)/)?.[0]
      .replace(' into', '');
  const selectsOf = (statements: readonly string[]) => statements.filter((sql) => /^select\b/.test(sql));

  it('N flushes of M rows: one update with the refs de-duplicated, every entry applied; a rollback adds nothing', async () => {
    const { cache, journal, target, subscriber } = app();
    expect(await stale(cache)).toEqual([]);
    const [q1, q2] = seeded.questionIds as [number, number];
    const created: number[] = [];
    db.sql.reset();
    const before = { ...cache.stats };
    let insideFn: string[] = [];
    await subscriber.suspend(async () => {
      for (let flush = 0; flush < N; flush += 1) {
        created.push(...(await bulkFlush(flush, q1)));
        expect(target.calls).toEqual([]);
      }
      insideFn = [...db.sql.statements];
      await expect(
        db.orm.em.fork().transactional(async (em) => {
          em.create(Choice, { choiceText: 'rolled back', question: q2 });
          (await em.findOneOrFail(Question, q2)).questionText = 'rolled back';
          await em.flush();
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      // Every commit journaled in its own transaction, none applied yet: a crash here loses nothing.
      const rows = await journalRows();
      expect(rows).toHaveLength(N);
      expect(rows.every((row) => row.applied_at === null)).toBe(true);
      db.sql.reset();
    });
    // Inside: each flush is its insert and its journal entry, nothing read for the cache.
    expect(insideFn.map(shape)).toEqual(
      Array.from({ length: N }, () => [
        'begin',
        'insert choice',
        'insert gci_cache_journal',
        'commit',
      ]).flat(),
    );
    // One update: Question q1 was named by all N commits, refreshed once; nothing of q2.
    expect(target.calls).toHaveLength(1);
    expect(target.calls[0]!.refs).toEqual(
      formatRefs([...created.map((pk) => ({ model: 'Choice', pk })), { model: 'Question', pk: q1 }]),
    );
    expect(target.calls[0]!.refs).toHaveLength(N * M + 1);
    // It cost one load per model (every version): question + its choices, the N×M choices in one
    // query + their voters; and two store round trips (tokens, then writes).
    const refresh = selectsOf(db.sql.statements);
    expect(refresh).toHaveLength(4);
    expect(refresh.filter((sql) => (sql.match(/\?/g) ?? []).length === N * M)).toHaveLength(2);
    expect(cache.stats.loads - before.loads).toBe(2);
    expect(cache.stats.storeRoundTrips - before.storeRoundTrips).toBe(2);
    expect(await stale(cache)).toEqual([]);
    await journal.flush();
    const rows = await journalRows();
    expect(rows).toHaveLength(N);
    expect(rows.every((row) => row.applied_at !== null)).toBe(true);
  });

  it('the same load without suspend: N updates, N times the queries and round trips', async () => {
    const { cache, target } = app();
    expect(await stale(cache)).toEqual([]);
    const q1 = seeded.questionIds[0]!;
    db.sql.reset();
    const before = { ...cache.stats };
    for (let flush = 0; flush < N; flush += 1) await bulkFlush(flush, q1);
    expect(target.calls).toHaveLength(N);
    expect(target.calls.flatMap((call) => call.refs).filter((ref) => ref === `Question:${q1}`)).toHaveLength(
      N,
    );
    expect(selectsOf(db.sql.statements)).toHaveLength(4 * N);
    expect(cache.stats.loads - before.loads).toBe(2 * N);
    expect(cache.stats.storeRoundTrips - before.storeRoundTrips).toBe(2 * N);
    expect(await stale(cache)).toEqual([]);
  });

  it('fn throws after some commits: what it committed is still refreshed, once; suspend rejects with its error', async () => {
    const { cache, target, subscriber } = app();
    expect(await stale(cache)).toEqual([]);
    const q2 = seeded.questionIds[1]!;
    const created: number[] = [];
    await expect(
      subscriber.suspend(async () => {
        created.push(...(await bulkFlush(0, q2)), ...(await bulkFlush(1, q2)));
        throw new Error('the import file is corrupt at line 9');
      }),
    ).rejects.toThrow('the import file is corrupt at line 9');
    expect(target.calls).toHaveLength(1);
    expect(target.calls[0]!.refs).toEqual(
      formatRefs([...created.map((pk) => ({ model: 'Choice', pk })), { model: 'Question', pk: q2 }]),
    );
    expect(await stale(cache)).toEqual([]);
  });

  it("only fn's commits wait: a concurrent write elsewhere is refreshed at once; a nested suspend joins the outer one", async () => {
    const { cache, target, subscriber } = app();
    expect(await stale(cache)).toEqual([]);
    const [q1, q2] = seeded.questionIds as [number, number];
    const gate = deferred();
    const loaded = deferred();
    const bulk = subscriber.suspend(async () => {
      await bulkFlush(0, q1);
      await subscriber.suspend(() => bulkFlush(1, q1)); // nested: joins this one
      loaded.resolve();
      await gate.promise;
    });
    await loaded.promise;
    expect(target.calls).toEqual([]);
    // Another request, outside the suspension, while it is still open: refreshed as usual.
    const em = db.orm.em.fork();
    (await em.findOneOrFail(Question, q2)).questionText = 'not part of the bulk load';
    await em.flush();
    expect(target.calls.map((call) => call.refs)).toEqual([[`Question:${q2}`]]);
    gate.resolve();
    await bulk;
    expect(target.calls).toHaveLength(2);
    expect(target.calls[1]!.refs).toHaveLength(2 * M + 1);
    expect(await stale(cache)).toEqual([]);
  });

  it('refuses a non-function at once, naming the API', () => {
    const { subscriber } = app();
    expect(() => subscriber.suspend('load the fixtures' as never)).toThrow(InvalidOptionError);
    expect(() => subscriber.suspend(undefined as never)).toThrow(
      /CacheSubscriber\.suspend\(fn\): expected a function running the bulk load, got \[object Undefined\]/,
    );
  });
});
