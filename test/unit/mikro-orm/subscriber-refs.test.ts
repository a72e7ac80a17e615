/**
 * CacheSubscriber on real databases (better-sqlite and Postgres), with a recording target in place
 * of the cache: WHICH refs one commit produces for each kind of write.
 */
import { describe, expect, it } from 'vitest';
import { Choice, type IChoice, type IUser, Question, User } from '../../../examples/poll/entities.js';
import { CacheSubscriber } from '../../../src/mikro-orm/index.js';
import { locksRows, testDatabases } from '../../support/mikro-orm.js';
import { createRecordingTarget } from '../../support/recording-target.js';
import { useSubscriberFixture } from '../../support/subscriber-fixture.js';

describe.each(await testDatabases())('CacheSubscriber refs on %s', (database) => {
  const f = useSubscriberFixture(database, 'subscriber_refs');

  it('a create refreshes the new instance, its parent and its new voters, once, after COMMIT', async () => {
    const em = f.db.orm.em.fork();
    const question = await em.findOneOrFail(Question, f.seeded.questionIds[0]!);
    const user = await em.findOneOrFail(User, f.seeded.userIds[0]!);
    const choice = em.create(Choice, { choiceText: 'new', question });
    choice.voters.add(user);
    await em.flush();
    expect(f.target.calls).toHaveLength(1);
    expect(f.target.calls[0]!.after).toBe('commit');
    expect(f.target.calls[0]!.refs).toEqual(
      [`Choice:${choice.id}`, `Question:${question.id}`, `User:${user.id}`].sort(),
    );
  });

  it('an update of a plain field refreshes only that instance', async () => {
    const { em, choice } = await f.choiceWith();
    choice.choiceText = 'changed';
    await em.flush();
    expect(f.target.refs).toEqual([`Choice:${choice.id}`]);
  });

  it('a move between parents refreshes the child and both parents', async () => {
    const { em, choice } = await f.choiceWith();
    const from = choice.question.id;
    const to = f.seeded.questionIds.find((id) => id !== from)!;
    choice.question = em.getReference(Question, to);
    await em.flush();
    expect(f.target.refs).toEqual([`Choice:${choice.id}`, `Question:${from}`, `Question:${to}`].sort());
  });

  it('a move through a reference looks the previous parent up before the UPDATE (one query)', async () => {
    const em = f.db.orm.em.fork();
    const loaded = await f.db.orm.em.fork().findOneOrFail(Choice, f.seeded.choiceIds[0]!);
    const from = loaded.question.id;
    const to = f.seeded.questionIds.find((id) => id !== from)!;
    const choice = em.getReference(Choice, loaded.id);
    choice.question = em.getReference(Question, to);
    f.db.sql.reset();
    await em.flush();
    expect(f.target.refs).toEqual([`Choice:${loaded.id}`, `Question:${from}`, `Question:${to}`].sort());
    expect(f.db.sql.selects).toHaveLength(1);
    // Inside the flush's own transaction: after its BEGIN, before its UPDATE (and, on Postgres,
    // `for update`, so no other transaction can move the choice in between).
    const order = f.db.sql.statements.map((sql) => sql.trim().split(/\s/)[0]!.toLowerCase());
    expect(order).toEqual(['begin', 'select', 'update', 'commit']);
    expect(f.db.sql.selects[0]!.trim().endsWith('for update')).toBe(locksRows(database));
  });

  it('without resolveUnknown, an unknown previous parent is not named and not queried', async () => {
    const quiet = createRecordingTarget();
    const em = f.db.orm.em.fork({ cloneEventManager: true });
    em.getEventManager().registerSubscriber(new CacheSubscriber(quiet, { resolveUnknown: false }));
    const loaded = await f.db.orm.em.fork().findOneOrFail(Choice, f.seeded.choiceIds[0]!);
    const to = f.seeded.questionIds.find((id) => id !== loaded.question.id)!;
    em.getReference(Choice, loaded.id).question = em.getReference(Question, to);
    f.db.sql.reset();
    await em.flush();
    expect(quiet.refs).toEqual([`Choice:${loaded.id}`, `Question:${to}`]);
    // One lookup: the file's own subscriber (resolveUnknown on) is registered too; this one ran none.
    expect(f.db.sql.selects).toHaveLength(1);
  });

  it('a delete refreshes the instance, its parent and its loaded voters', async () => {
    const { em, choice } = await f.choiceWith();
    const expected = [`Choice:${choice.id}`, `Question:${choice.question.id}`, ...f.votersOf(choice)].sort();
    em.remove(choice);
    f.db.sql.reset();
    await em.flush();
    expect(f.target.refs).toEqual(expected);
    expect(f.db.sql.selects).toHaveLength(0);
  });

  it('a delete with unloaded voters looks them up (their pivot rows go by FK cascade, unseen)', async () => {
    const { choice: loaded } = await f.choiceWith();
    const expected = [`Choice:${loaded.id}`, `Question:${loaded.question.id}`, ...f.votersOf(loaded)].sort();
    const em = f.db.orm.em.fork();
    em.remove(await em.findOneOrFail(Choice, loaded.id));
    await em.flush();
    expect(f.target.refs).toEqual(expected);
  });

  /** The choices of a question and their voters, as refs, read on a fork of their own. */
  const cascadeOf = async (questionPk: number) => {
    const choices = await f.db.orm.em.fork().find(Choice, { question: questionPk }, { populate: ['voters'] });
    return [...new Set([...choices.map((c) => `Choice:${c.id}`), ...choices.flatMap((c) => f.votersOf(c))])];
  };

  it('deleting a Question names its choices and their voters, which the database deletes by cascade', async () => {
    const expected = [`Question:${f.seeded.questionIds[0]}`, ...(await cascadeOf(f.seeded.questionIds[0]!))];
    const em = f.db.orm.em.fork();
    const question = await em.findOneOrFail(Question, f.seeded.questionIds[0]!, { populate: ['choices'] });
    expect(question.choices).toHaveLength(2);
    em.remove(question);
    await em.flush();
    expect(expected.filter((ref) => ref.startsWith('User:')).length).toBeGreaterThan(0);
    expect(f.target.refs).toEqual(expected.sort());
    expect(await f.db.orm.em.fork().count(Choice, { question: question.id })).toBe(0);
  });

  it('deleting a Question whose choices were never loaded: 2 lookups (3 where rows lock), in its transaction', async () => {
    const expected = [`Question:${f.seeded.questionIds[0]}`, ...(await cascadeOf(f.seeded.questionIds[0]!))];
    const em = f.db.orm.em.fork();
    em.remove(await em.findOneOrFail(Question, f.seeded.questionIds[0]!));
    f.db.sql.reset();
    await em.flush();
    expect(f.target.refs).toEqual(expected.sort());
    // Postgres and MariaDB first lock the question (`for update`): no choice can be added to it
    // meanwhile. Then, everywhere: its choices (locked: no vote for them can commit meanwhile), their
    // voters (locked too: a locking read sees votes committed after a REPEATABLE READ snapshot).
    const statements = f.db.sql.statements.map((sql) => sql.trim().toLowerCase());
    const lookups = statements.slice(
      1,
      statements.findIndex((sql) => sql.startsWith('delete')),
    );
    expect(statements[0]).toMatch(/^begin/);
    expect(lookups.map((sql) => /from\s+\S*(question|choice_voters|choice)\b/.exec(sql)?.[1])).toEqual(
      locksRows(database) ? ['question', 'choice', 'choice_voters'] : ['choice', 'choice_voters'],
    );
    expect(lookups.filter((sql) => sql.endsWith('for update'))).toHaveLength(locksRows(database) ? 3 : 0);
  });

  it.each([
    ['add on the owning side', (c: IChoice, u: IUser) => c.voters.add(u)],
    ['add on the inverse side', (c: IChoice, u: IUser) => u.votes.add(c)],
  ])('a vote (%s) refreshes the Choice and the User', async (_label, vote) => {
    const { em, choice } = await f.choiceWith();
    const voters = new Set(choice.voters.getItems().map((u) => u.id));
    const user = await em.findOneOrFail(User, f.seeded.userIds.find((id) => !voters.has(id))!, {
      populate: ['votes'],
    });
    vote(choice, user);
    await em.flush();
    expect(f.target.calls).toHaveLength(1);
    expect(f.target.refs).toEqual([`Choice:${choice.id}`, `User:${user.id}`]);
  });

  it('removing a vote refreshes the Choice and the User', async () => {
    const { em, choice } = await f.choiceWith();
    const voter = choice.voters.getItems()[0]!;
    choice.voters.remove(voter);
    await em.flush();
    expect(f.target.refs).toEqual([`Choice:${choice.id}`, `User:${voter.id}`]);
  });

  it('clearing loaded voters refreshes every former voter', async () => {
    const { em, choice } = await f.choiceWith();
    const expected = [`Choice:${choice.id}`, ...f.votersOf(choice)].sort();
    choice.voters.removeAll();
    await em.flush();
    expect(f.target.refs).toEqual(expected);
  });

  it('clearing voters that were never loaded looks the former voters up', async () => {
    const { choice: loaded } = await f.choiceWith();
    const expected = [`Choice:${loaded.id}`, ...f.votersOf(loaded)].sort();
    const { em, choice } = await f.choiceWith(f.db.orm.em.fork(), loaded.id, false);
    expect(choice.voters.isInitialized()).toBe(false);
    choice.voters.removeAll();
    await em.flush();
    expect(f.target.refs).toEqual(expected);
    const after = await f.db.orm.em.fork().findOneOrFail(Choice, loaded.id, { populate: ['voters'] });
    expect(after.voters).toHaveLength(0);
  });

  it('inside a transaction, the lookups run in it and see its uncommitted rows', async () => {
    const { choice: loaded } = await f.choiceWith();
    const newcomer = f.seeded.userIds.find((id) => !loaded.voters.getItems().some((u) => u.id === id))!;
    await f.db.orm.em.fork().transactional(async (em) => {
      // A vote no event reports: only a lookup inside this transaction can find it.
      const sql = 'insert into choice_voters (choice_id, user_id) values (?, ?)';
      await em.getConnection().execute(sql, [loaded.id, newcomer], 'run', em.getTransactionContext());
      (await em.findOneOrFail(Choice, loaded.id)).voters.removeAll();
    });
    expect(f.target.calls).toHaveLength(1);
    expect(f.target.refs).toEqual([`Choice:${loaded.id}`, ...f.votersOf(loaded), `User:${newcomer}`].sort());
  });
});
