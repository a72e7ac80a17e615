import type { EntitySchema } from '@mikro-orm/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Choice, pollEntities, Question } from '../../examples/poll/entities.js';
import { seedPoll } from '../../examples/poll/seed.js';
import { createPollStrategy } from '../../examples/poll/strategy.js';
import {
  type CacheStore,
  type CascadeBatch,
  type CascadeRunner,
  createMemoryStore,
  InstanceCache,
} from '../../src/index.js';
import { CacheJournal, CacheJournalEntry, CacheSubscriber } from '../../src/mikro-orm/index.js';
import { ForwardingSubscriber } from '../support/forward-subscriber.js';
import { createTestOrm, type TestOrm, testDatabases } from '../support/mikro-orm.js';
import { createFlakyStore } from '../support/stores.js';

// The durable journal on real databases: written in the transaction of the change, applied after
// the commit, recovered by another "process" when the writer died before its refresh, retried
// when the store refused it, replayed when the store went back in time.

type Row = {
  id: string;
  refs: string;
  created_at: number | string;
  applied_at: number | string | null;
  attempts: number;
};

/** A runner that takes a batch and never runs it: the process "died" right after COMMIT. */
function deadAfterCommit(): CascadeRunner & { taken: CascadeBatch[] } {
  const taken: CascadeBatch[] = [];
  return {
    taken,
    async submit(batch) {
      taken.push(batch);
    },
    async drain() {},
    async close() {},
  };
}

describe.each(await testDatabases())('the journal on %s', (database) => {
  let db: TestOrm;
  const forward = new ForwardingSubscriber();
  beforeAll(async () => {
    db = await createTestOrm(database, {
      label: 'journal',
      entities: [...pollEntities, CacheJournalEntry] as unknown as EntitySchema[],
      subscribers: [forward],
    });
  });
  afterAll(async () => {
    await db?.close();
  });

  /** A process: its cache on `store`, its journal, its subscriber (registered on the shared ORM). */
  function process(store: CacheStore, options: { runner?: CascadeRunner; maxLag?: number } = {}) {
    const cache = new InstanceCache(createPollStrategy(db.orm), { store });
    const journal = new CacheJournal(db.orm, cache, { grace: 1, maxLag: options.maxLag });
    const subscriber = new CacheSubscriber(cache, {
      journal,
      ...(options.runner ? { runner: options.runner } : {}),
    });
    forward.current = subscriber;
    return { cache, journal, subscriber };
  }
  const journalRows = async () =>
    (await db.orm.em.getConnection().execute('select * from gci_cache_journal order by created_at')) as Row[];

  afterEach(async () => {
    // The test's "process" goes with it; the data too.
    forward.current = undefined;
    await db.orm.schema.clearDatabase();
  });

  async function seeded() {
    return seedPoll(db.orm.em.fork(), { questions: 2, choicesPerQuestion: 2, users: 4, votesPerChoice: 2 });
  }

  it('a commit writes one entry in its own transaction; it is marked applied once the refresh landed', async () => {
    const seed = await seeded();
    const store = createMemoryStore();
    const { cache, journal } = process(store);
    const id = seed.questionIds[0]!;
    await cache.getInstances('Question', [id]);
    const em = db.orm.em.fork();
    const question = await em.findOneOrFail(Question, id);
    question.questionText = 'Journaled?';
    db.sql.reset();
    await em.flush();
    // The insert ran between BEGIN and COMMIT, with the update.
    const statements = db.sql.statements.map((sql) => sql.split(' ')[0]!.toLowerCase());
    const insert = db.sql.statements.findIndex((sql) => sql.includes('gci_cache_journal'));
    expect(insert).toBeGreaterThan(statements.indexOf('begin'));
    expect(insert).toBeLessThan(statements.lastIndexOf('commit'));
    expect((await cache.getInstances('Question', [id]))[0]).toMatchObject({ text: 'Journaled?' });
    await journal.flush();
    const rows = await journalRows();
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.refs)).toEqual([{ model: 'Question', pk: id }]);
    expect(rows[0]!.applied_at).not.toBeNull();
  });

  it('a rollback leaves no entry and refreshes nothing', async () => {
    const seed = await seeded();
    const store = createMemoryStore();
    const { cache } = process(store);
    const before = cache.stats.invalidations;
    await expect(
      db.orm.em.fork().transactional(async (em) => {
        const choice = await em.findOneOrFail(Choice, seed.choiceIds[0]!);
        choice.choiceText = 'never';
        await em.flush();
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await journalRows()).toEqual([]);
    expect(cache.stats.invalidations).toBe(before);
  });

  it('a process that died between COMMIT and its refresh: another applies its entry, nothing stays stale', async () => {
    const seed = await seeded();
    const store = createMemoryStore(); // one shared store: two processes on one Redis
    const id = seed.questionIds[0]!;
    const dead = deadAfterCommit();
    const writer = process(store, { runner: dead });
    await writer.cache.getInstances('Question', [id]);
    const em = db.orm.em.fork();
    (await em.findOneOrFail(Question, id)).questionText = 'committed, then the writer died';
    await em.flush();
    expect(dead.taken).toHaveLength(1); // handed over, never run
    expect((await writer.cache.getInstances('Question', [id]))[0]).toMatchObject({
      text: expect.not.stringMatching(/died/),
    });
    // Another process recovers once the entry is older than the grace period.
    await db.orm.em.getConnection().execute('update gci_cache_journal set created_at = created_at - 1000000');
    const other = new InstanceCache(createPollStrategy(db.orm), { store });
    const report = await new CacheJournal(db.orm, other, { grace: 500 }).recover();
    expect(report).toMatchObject({ applied: 1, dropped: 0 });
    for (const cache of [writer.cache, other]) {
      expect((await cache.getInstances('Question', [id]))[0]).toMatchObject({
        text: 'committed, then the writer died',
      });
    }
    const rows = await journalRows();
    expect(rows[0]!.applied_at).not.toBeNull();
    expect(Number(rows[0]!.attempts)).toBe(1);
    // Applying it again changes nothing.
    await db.orm.em
      .getConnection()
      .execute('update gci_cache_journal set applied_at = null, claimed_until = null');
    expect(await new CacheJournal(db.orm, other, { grace: 500 }).recover()).toMatchObject({ applied: 1 });
    expect((await other.getInstances('Question', [id]))[0]).toMatchObject({
      text: 'committed, then the writer died',
    });
  });

  it('a refresh the store refused stays in the journal and is applied once the store is back', async () => {
    const seed = await seeded();
    const flaky = createFlakyStore();
    const { cache } = process(flaky.store);
    const journal = new CacheJournal(db.orm, cache, { grace: 500 });
    cache.on('error', () => {});
    const id = seed.choiceIds[0]!;
    await cache.getInstances('Choice', [id]);
    flaky.down = true;
    const em = db.orm.em.fork();
    (await em.findOneOrFail(Choice, id)).choiceText = 'written while the store was down';
    await em.flush();
    await journal.flush();
    expect((await journalRows())[0]!.applied_at).toBeNull();
    await db.orm.em.getConnection().execute('update gci_cache_journal set created_at = created_at - 1000000');
    flaky.down = false;
    expect(await journal.recover()).toMatchObject({ applied: 1 });
    const other = new InstanceCache(createPollStrategy(db.orm), { store: flaky.working });
    expect((await other.getInstances('Choice', [id]))[0]).toMatchObject({
      choiceText: 'written while the store was down',
    });
    expect((await journalRows())[0]!.applied_at).not.toBeNull();
  });

  it('an entry that could not be applied for maxLag drops its models rather than leave them stale', async () => {
    const seed = await seeded();
    const store = createMemoryStore();
    const dead = deadAfterCommit();
    const writer = process(store, { runner: dead });
    const id = seed.choiceIds[0]!;
    await writer.cache.getInstances('Choice', [id, seed.choiceIds[1]!]);
    const em = db.orm.em.fork();
    (await em.findOneOrFail(Choice, id)).choiceText = 'late';
    await em.flush();
    // Make the entry older than maxLag.
    await db.orm.em
      .getConnection()
      .execute(`update gci_cache_journal set created_at = ${(Date.now() - 120_000) * 1000}`);
    const report = await new CacheJournal(db.orm, writer.cache, { grace: 1, maxLag: 60_000 }).recover();
    expect(report).toMatchObject({ applied: 0, dropped: 1 });
    const stats = { ...writer.cache.stats };
    expect((await writer.cache.getInstances('Choice', [id]))[0]).toMatchObject({ choiceText: 'late' });
    expect(writer.cache.stats.misses - stats.misses).toBe(1); // dropped: loaded again
  });

  it('a store that went back in time is noticed: what was applied since its snapshot is replayed', async () => {
    const seed = await seeded();
    const store = createMemoryStore();
    const { cache, journal } = process(store);
    const [first, second] = seed.questionIds as [number, number];
    await cache.getInstances('Question', [first, second]);
    const write = async (id: number, text: string) => {
      const em = db.orm.em.fork();
      (await em.findOneOrFail(Question, id)).questionText = text;
      await em.flush();
      await journal.flush();
    };
    await write(first, 'before the snapshot'); // applied, and its ack written to the store
    // A "snapshot" of the store: every key and value now.
    const keys = [
      ...[first, second].flatMap((id) => ['v1', 'v2'].map((v) => cache.keyOf('Question', id, v))),
      'poll:~journal-acks',
    ];
    const snapshot = await store.getMany(keys);
    expect(JSON.parse(snapshot.at(-1)!)).toHaveLength(1);
    await write(second, 'after the snapshot');
    // As if all this happened 10 s ago (beyond the window in which an ack may still be on its
    // way): the entries' marks and the acks in the snapshot move back together.
    await db.orm.em
      .getConnection()
      .execute('update gci_cache_journal set applied_at = applied_at - 10000000');
    snapshot[snapshot.length - 1] = JSON.stringify(
      (JSON.parse(snapshot.at(-1)!) as [number, string][]).map(([at, member]) => [at - 10_000_000, member]),
    );
    // The store restarts from the snapshot: it has lost the second write's refresh.
    await store.deleteMany(keys);
    await store.setMany(
      keys.flatMap((key, i) => (snapshot[i] === undefined ? [] : [{ key, value: snapshot[i]! }])),
    );
    const fresh = new InstanceCache(createPollStrategy(db.orm), { store });
    expect((await fresh.getInstances('Question', [second]))[0]).not.toMatchObject({
      text: 'after the snapshot',
    });
    const report = await new CacheJournal(db.orm, fresh, { grace: 1 }).recover();
    expect(report).toMatchObject({ storeWentBack: true, droppedAll: false });
    expect(report.replayed).toBeGreaterThanOrEqual(1);
    expect(report.applied).toBe(report.replayed);
    for (const version of ['v1', 'v2']) {
      const [record] = await fresh.getInstances('Question', [second], { version });
      expect(Object.values(record as object)).toContain('after the snapshot');
    }
  });

  it('a store that lost everything the journal knew of (no ack at all) is dropped whole', async () => {
    const seed = await seeded();
    const store = createMemoryStore();
    const { cache, journal } = process(store);
    const id = seed.questionIds[0]!;
    await cache.getInstances('Question', [id]);
    const em = db.orm.em.fork();
    (await em.findOneOrFail(Question, id)).questionText = 'applied';
    await em.flush();
    await journal.flush();
    await db.orm.em
      .getConnection()
      .execute('update gci_cache_journal set applied_at = applied_at - 10000000');
    await store.deleteMany(['poll:~journal-acks', 'poll:~journal-beats']);
    const report = await journal.recover();
    expect(report).toMatchObject({ storeWentBack: true, droppedAll: true });
    expect(await store.getMany([cache.keyOf('Question', id)])).toEqual([undefined]);
  });

  it('refuses to start without its table, naming the fix', () => {
    const cache = new InstanceCache(createPollStrategy(db.orm));
    const bare = { em: db.orm.em, getMetadata: () => ({ find: () => undefined }) } as never;
    expect(() => new CacheJournal(bare, cache)).toThrow(/add it to MikroORM\.init\(\{ entities \}\)/);
    expect(() => new CacheJournal(db.orm, cache, { grace: 0 })).toThrow(
      /options\.grace must be a positive number/,
    );
  });
});
