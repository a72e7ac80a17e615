/**
 * CacheSubscriber on real databases (better-sqlite and Postgres), with a recording target in place
 * of the cache: which refs one commit produces, and that nothing is produced before the outermost
 * commit or after a rollback.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Choice, type IChoice, type IUser, Question, User } from '../../../examples/poll/entities.js';
import { type SeededPoll, seedPoll } from '../../../examples/poll/seed.js';
import { CacheSubscriber } from '../../../src/mikro-orm/index.js';
import { createTestOrm, type TestOrm, testDatabases } from '../../support/mikro-orm.js';
import { createRecordingTarget } from '../../support/recording-target.js';

describe.each(await testDatabases())('CacheSubscriber on %s', (database) => {
  let db: TestOrm;
  let seeded: SeededPoll;
  const target = createRecordingTarget({ lastStatement: () => db.sql.statements.at(-1) });
  const errors: unknown[] = [];
  const subscriber = new CacheSubscriber(target, { onError: (error) => errors.push(error) });

  beforeAll(async () => {
    db = await createTestOrm(database, { label: 'subscriber', subscribers: [subscriber] });
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await db.orm.schema.clearDatabase();
    seeded = await seedPoll(db.orm.em.fork(), {
      questions: 2,
      choicesPerQuestion: 2,
      users: 4,
      votesPerChoice: 2,
    });
    target.reset();
    errors.length = 0;
    db.sql.reset();
  });

  const choiceWith = async (em = db.orm.em.fork(), id = seeded.choiceIds[0]!, populate = true) =>
    ({ em, choice: await em.findOneOrFail(Choice, id, { populate: populate ? ['voters'] : [] }) }) as const;
  const votersOf = (choice: IChoice) => choice.voters.getItems().map((u) => `User:${u.id}`);

  it('a create refreshes the new instance, its parent and its new voters, once, after COMMIT', async () => {
    const em = db.orm.em.fork();
    const question = await em.findOneOrFail(Question, seeded.questionIds[0]!);
    const user = await em.findOneOrFail(User, seeded.userIds[0]!);
    const choice = em.create(Choice, { choiceText: 'new', question });
    choice.voters.add(user);
    await em.flush();
    expect(target.calls).toHaveLength(1);
    expect(target.calls[0]!.after).toBe('commit');
    expect(target.calls[0]!.refs).toEqual(
      [`Choice:${choice.id}`, `Question:${question.id}`, `User:${user.id}`].sort(),
    );
  });

  it('an update of a plain field refreshes only that instance', async () => {
    const { em, choice } = await choiceWith();
    choice.choiceText = 'changed';
    await em.flush();
    expect(target.refs).toEqual([`Choice:${choice.id}`]);
  });

  it('a move between parents refreshes the child and both parents', async () => {
    const { em, choice } = await choiceWith();
    const from = choice.question.id;
    const to = seeded.questionIds.find((id) => id !== from)!;
    choice.question = em.getReference(Question, to);
    await em.flush();
    expect(target.refs).toEqual([`Choice:${choice.id}`, `Question:${from}`, `Question:${to}`].sort());
  });

  it('a move through a reference looks the previous parent up before the UPDATE (one query)', async () => {
    const em = db.orm.em.fork();
    const loaded = await db.orm.em.fork().findOneOrFail(Choice, seeded.choiceIds[0]!);
    const from = loaded.question.id;
    const to = seeded.questionIds.find((id) => id !== from)!;
    const choice = em.getReference(Choice, loaded.id);
    choice.question = em.getReference(Question, to);
    db.sql.reset();
    await em.flush();
    expect(target.refs).toEqual([`Choice:${loaded.id}`, `Question:${from}`, `Question:${to}`].sort());
    const lookup = db.sql.queries.findIndex((sql) => /^select/i.test(sql));
    const update = db.sql.queries.findIndex((sql) => /^update/i.test(sql));
    expect(db.sql.selects).toHaveLength(1);
    expect(lookup).toBeLessThan(update);
  });

  it('without resolveUnknown, an unknown previous parent is not named and not queried', async () => {
    const quiet = createRecordingTarget();
    const em = db.orm.em.fork({ cloneEventManager: true });
    em.getEventManager().registerSubscriber(new CacheSubscriber(quiet, { resolveUnknown: false }));
    const loaded = await db.orm.em.fork().findOneOrFail(Choice, seeded.choiceIds[0]!);
    const to = seeded.questionIds.find((id) => id !== loaded.question.id)!;
    em.getReference(Choice, loaded.id).question = em.getReference(Question, to);
    db.sql.reset();
    await em.flush();
    expect(quiet.refs).toEqual([`Choice:${loaded.id}`, `Question:${to}`]);
    // One lookup: the file's own subscriber (resolveUnknown on) is registered too; this one ran none.
    expect(db.sql.selects).toHaveLength(1);
  });

  it('a delete refreshes the instance, its parent and its loaded voters', async () => {
    const { em, choice } = await choiceWith();
    const expected = [`Choice:${choice.id}`, `Question:${choice.question.id}`, ...votersOf(choice)].sort();
    em.remove(choice);
    db.sql.reset();
    await em.flush();
    expect(target.refs).toEqual(expected);
    expect(db.sql.selects).toHaveLength(0);
  });

  it('a delete with unloaded voters looks them up (their pivot rows go by FK cascade, unseen)', async () => {
    const { choice: loaded } = await choiceWith();
    const expected = [`Choice:${loaded.id}`, `Question:${loaded.question.id}`, ...votersOf(loaded)].sort();
    const em = db.orm.em.fork();
    em.remove(await em.findOneOrFail(Choice, loaded.id));
    await em.flush();
    expect(target.refs).toEqual(expected);
  });

  it('deleting a Question names its choices, which the database deletes by cascade', async () => {
    const em = db.orm.em.fork();
    const question = await em.findOneOrFail(Question, seeded.questionIds[0]!, { populate: ['choices'] });
    const choices = question.choices.getItems().map((c) => `Choice:${c.id}`);
    em.remove(question);
    await em.flush();
    expect(choices).toHaveLength(2);
    expect(target.refs).toEqual([`Question:${question.id}`, ...choices].sort());
    expect(await db.orm.em.fork().count(Choice, { question: question.id })).toBe(0);
  });

  it.each([
    ['add on the owning side', (c: IChoice, u: IUser) => c.voters.add(u)],
    ['add on the inverse side', (c: IChoice, u: IUser) => u.votes.add(c)],
  ])('a vote (%s) refreshes the Choice and the User', async (_label, vote) => {
    const { em, choice } = await choiceWith();
    const voters = new Set(choice.voters.getItems().map((u) => u.id));
    const user = await em.findOneOrFail(User, seeded.userIds.find((id) => !voters.has(id))!, {
      populate: ['votes'],
    });
    vote(choice, user);
    await em.flush();
    expect(target.calls).toHaveLength(1);
    expect(target.refs).toEqual([`Choice:${choice.id}`, `User:${user.id}`]);
  });

  it('removing a vote refreshes the Choice and the User', async () => {
    const { em, choice } = await choiceWith();
    const voter = choice.voters.getItems()[0]!;
    choice.voters.remove(voter);
    await em.flush();
    expect(target.refs).toEqual([`Choice:${choice.id}`, `User:${voter.id}`]);
  });

  it('clearing loaded voters refreshes every former voter', async () => {
    const { em, choice } = await choiceWith();
    const expected = [`Choice:${choice.id}`, ...votersOf(choice)].sort();
    choice.voters.removeAll();
    await em.flush();
    expect(target.refs).toEqual(expected);
  });

  it('clearing voters that were never loaded looks the former voters up', async () => {
    const { choice: loaded } = await choiceWith();
    const expected = [`Choice:${loaded.id}`, ...votersOf(loaded)].sort();
    const { em, choice } = await choiceWith(db.orm.em.fork(), loaded.id, false);
    expect(choice.voters.isInitialized()).toBe(false);
    choice.voters.removeAll();
    await em.flush();
    expect(target.refs).toEqual(expected);
    const after = await db.orm.em.fork().findOneOrFail(Choice, loaded.id, { populate: ['voters'] });
    expect(after.voters).toHaveLength(0);
  });

  it('a rollback of em.transactional invalidates nothing', async () => {
    await expect(
      db.orm.em.fork().transactional(async (em) => {
        const { choice } = await choiceWith(em);
        choice.choiceText = 'rolled back';
        await em.flush();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(target.calls).toHaveLength(0);
  });

  it('a flush that throws (unique violation) invalidates nothing', async () => {
    const em = db.orm.em.fork();
    const taken = await em.findOneOrFail(User, seeded.userIds[0]!);
    em.create(User, { username: taken.username, dateJoined: new Date() });
    const { choice } = await choiceWith(em);
    choice.choiceText = 'never committed';
    await expect(em.flush()).rejects.toThrow();
    expect(target.calls).toHaveLength(0);
    expect(errors).toEqual([]);
  });

  it('nested transactions: one batch, only after the outer COMMIT', async () => {
    let callsAfterInner = -1;
    await db.orm.em.fork().transactional(async (outer) => {
      await outer.transactional(async (inner) => {
        const { choice } = await choiceWith(inner);
        choice.choiceText = 'inner';
      });
      callsAfterInner = target.calls.length;
      const question = await outer.findOneOrFail(Question, seeded.questionIds[1]!);
      question.questionText = 'outer';
    });
    expect(callsAfterInner).toBe(0);
    expect(target.calls).toHaveLength(1);
    expect(target.calls[0]!.after).toBe('commit');
    expect(target.calls[0]!.refs).toEqual(
      [`Choice:${seeded.choiceIds[0]}`, `Question:${seeded.questionIds[1]}`].sort(),
    );
  });

  it('an inner transaction that commits inside an outer one that rolls back invalidates nothing', async () => {
    await expect(
      db.orm.em.fork().transactional(async (outer) => {
        await outer.transactional(async (inner) => {
          (await choiceWith(inner)).choice.choiceText = 'inner';
        });
        throw new Error('outer fails');
      }),
    ).rejects.toThrow('outer fails');
    expect(target.calls).toHaveLength(0);
  });

  it('em.begin() … em.commit() is one batch; em.begin() … em.rollback() is none', async () => {
    const em = db.orm.em.fork();
    await em.begin();
    (await choiceWith(em)).choice.choiceText = 'manual';
    await em.flush();
    expect(target.calls).toHaveLength(0);
    await em.commit();
    expect(target.refs).toEqual([`Choice:${seeded.choiceIds[0]}`]);

    target.reset();
    await em.begin();
    (await choiceWith(em)).choice.choiceText = 'manual, rolled back';
    await em.flush();
    await em.rollback();
    expect(target.calls).toHaveLength(0);
  });

  it('em.upsert is seen (the instance), applied at once outside a transaction', async () => {
    const em = db.orm.em.fork();
    const user = await em.upsert(User, { username: 'user0001', dateJoined: new Date(0), active: false });
    expect(target.refs).toEqual([`User:${user.id}`]);
  });

  it('nativeUpdate is not seen (the caller must invalidate)', async () => {
    await db.orm.em.fork().nativeUpdate(Choice, { id: seeded.choiceIds[0]! }, { choiceText: 'native' });
    expect(target.calls).toHaveLength(0);
  });

  it('flush resolves only after the cascade finished (inline mode)', async () => {
    let finished = false;
    const slow = createRecordingTarget();
    const em = db.orm.em.fork({ cloneEventManager: true });
    em.getEventManager().registerSubscriber(
      new CacheSubscriber({
        async update(refs) {
          await slow.update(refs);
          await new Promise((resolve) => setTimeout(resolve, 30));
          finished = true;
        },
      }),
    );
    (await choiceWith(em)).choice.choiceText = 'slow';
    await em.flush();
    expect(finished).toBe(true);
    expect(slow.calls).toHaveLength(1);
  });

  it('a failing cache never fails the flush: the data is committed and onError is told', async () => {
    const seen: unknown[] = [];
    const em = db.orm.em.fork({ cloneEventManager: true });
    em.getEventManager().registerSubscriber(
      new CacheSubscriber(
        {
          update: async () => {
            throw new Error('store down');
          },
        },
        { onError: (error) => seen.push(error) },
      ),
    );
    (await choiceWith(em)).choice.choiceText = 'committed anyway';
    await expect(em.flush()).resolves.toBeUndefined();
    expect(seen).toHaveLength(1);
    expect((seen[0] as Error).message).toBe('store down');
    const fresh = await db.orm.em.fork().findOneOrFail(Choice, seeded.choiceIds[0]!);
    expect(fresh.choiceText).toBe('committed anyway');
  });

  it('a subscriber registered earlier that throws after COMMIT does not lose the batch', async () => {
    const late = createRecordingTarget();
    const thrower = {
      afterTransactionCommit() {
        throw new Error('another subscriber failed');
      },
    };
    const other = await createTestOrm(database, { label: 'thrower', subscribers: [thrower, new CacheSubscriber(late)] });
    try {
      const em = other.orm.em.fork();
      const user = em.create(User, { username: 'late', dateJoined: new Date() });
      // MikroORM rejects the flush (the data is committed nonetheless) and fires a rollback.
      await expect(em.flush()).rejects.toThrow('another subscriber failed');
      expect(await other.orm.em.fork().count(User, { username: 'late' })).toBe(1);
      expect(late.refs).toEqual([`User:${user.id}`]);
    } finally {
      await other.close();
    }
  });

  it('refs to entities the strategy does not cache are left out', async () => {
    const only = createRecordingTarget({ modelNames: ['Question'] });
    const em = db.orm.em.fork({ cloneEventManager: true });
    em.getEventManager().registerSubscriber(new CacheSubscriber(only));
    const { choice } = await choiceWith(em);
    const from = choice.question.id;
    choice.question = em.getReference(Question, seeded.questionIds.find((id) => id !== from)!);
    choice.choiceText = 'moved';
    await em.flush();
    expect(only.refs).toEqual(seeded.questionIds.map((id) => `Question:${id}`).sort());
  });
});
