/**
 * Writes through MikroORM keep the InstanceCache exact, on better-sqlite and the real Postgres.
 * Each test warms every record of every model in both versions, writes, and then proves that
 * reading everything again costs NO query (every affected key was refreshed in place, none just
 * dropped) and equals a fresh serialization from the database. The COLD-cache and two-fork tests
 * cache only Users, so that nothing but the subscriber's own lookups can name the users whose
 * votes an FK cascade deletes.
 */
import { type EntityManager, ForeignKeyConstraintViolationException } from '@mikro-orm/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Choice, type IChoice, Question, User } from '../../examples/poll/entities.js';
import type { Pk } from '../../src/index.js';
import { locksRows, testDatabases, waitForLockWait } from '../support/mikro-orm.js';
import { createPollCacheFixture, type PollCacheFixture } from '../support/poll-cache.js';

describe.each(await testDatabases())('CacheSubscriber + InstanceCache on %s: writes', (database) => {
  let f: PollCacheFixture;
  let race: PollCacheFixture | undefined;
  beforeAll(async () => {
    f = await createPollCacheFixture(database, 'writes');
    if (locksRows(database))
      race = await createPollCacheFixture(database, 'writes_race', { updateOnly: true });
  });
  afterAll(async () => {
    await f?.close();
    await race?.close();
  });
  beforeEach(async () => {
    await f.reset();
    await f.readAll();
    f.sql.reset();
  });

  /** Everything the cache serves, in every version, equals the database — at zero queries. */
  const expectExact = async (deleted: Partial<Record<'Question' | 'Choice' | 'User', Pk[]>> = {}) => {
    const pks = await f.allPks(deleted);
    const read = await f.sql.measure(() => f.readAll(pks));
    expect(read.queries).toEqual([]);
    expect(read.result).toEqual(await f.freshAll(pks));
    return read.result;
  };
  const choice = (id = f.seeded.choiceIds[0]!, populate = true) =>
    f.orm.em.fork().findOneOrFail(Choice, id, { populate: populate ? ['voters'] : [] });
  const record = async <T>(model: 'Question' | 'Choice' | 'User', pk: Pk, version = 'v1') =>
    (await f.cache.getInstances(model, [pk], { version }))[0] as T | null;

  it('create: the new choice, its question and its voter', async () => {
    const em = f.orm.em.fork();
    const created = em.create(Choice, { choiceText: 'new', question: f.seeded.questionIds[1]! });
    created.voters.add(em.getReference(User, f.seeded.userIds[0]!));
    await em.flush();
    expect(f.target.calls).toHaveLength(1);
    expect(f.target.calls[0]!.after).toBe('commit');
    await expectExact();
    expect(
      (await record<{ choiceIds: number[] }>('Question', f.seeded.questionIds[1]!))!.choiceIds,
    ).toContain(created.id);
  });

  it('update of a field: one reload of the instance (entities + voters), every version', async () => {
    const em = f.orm.em.fork();
    const loaded = await em.findOneOrFail(Choice, f.seeded.choiceIds[0]!);
    loaded.choiceText = 'changed';
    f.sql.reset();
    await em.flush();
    expect(f.sql.selects).toHaveLength(2);
    const [v1, v2] = [
      await record<{ choiceText: string }>('Choice', loaded.id),
      await record<{ text: string }>('Choice', loaded.id, 'v2'),
    ];
    expect([v1!.choiceText, v2!.text]).toEqual(['changed', 'changed']);
    await expectExact();
  });

  it('move between parents: both questions drop / gain the choice', async () => {
    const em = f.orm.em.fork();
    const moved = await em.findOneOrFail(Choice, f.seeded.choiceIds[0]!);
    const from = moved.question.id;
    const to = f.seeded.questionIds.find((id) => id !== from)!;
    moved.question = em.getReference(Question, to);
    await em.flush();
    await expectExact();
    expect((await record<{ choiceIds: number[] }>('Question', from))!.choiceIds).not.toContain(moved.id);
    expect((await record<{ choiceIds: number[] }>('Question', to))!.choiceIds).toContain(moved.id);
  });

  it('drf sample: deleting a Choice removes it from its Question list (and from its voters)', async () => {
    const em = f.orm.em.fork();
    const doomed = await em.findOneOrFail(Choice, f.seeded.choiceIds[0]!);
    const question = doomed.question.id;
    em.remove(doomed);
    await em.flush();
    await expectExact({ Choice: [doomed.id] });
    expect(await record('Choice', doomed.id)).toBeNull();
    expect((await record<{ choiceIds: number[] }>('Question', question))!.choiceIds).not.toContain(doomed.id);
  });

  it('drf sample: a vote changes the Choice voters list and the User votes list', async () => {
    const em = f.orm.em.fork();
    const voted = await em.findOneOrFail(Choice, f.seeded.choiceIds[0]!, { populate: ['voters'] });
    const voters = new Set(voted.voters.getItems().map((u) => u.id));
    const user = f.seeded.userIds.find((id) => !voters.has(id))!;
    voted.voters.add(em.getReference(User, user));
    f.sql.reset();
    await em.flush();
    // After COMMIT: the Choice and the User reload, 2 queries each; their invalidators name only each other.
    expect(f.sql.selects).toHaveLength(4);
    expect((await record<{ voterIds: number[] }>('Choice', voted.id))!.voterIds).toContain(user);
    expect((await record<{ voteIds: number[] }>('User', user, 'v2'))!.voteIds).toContain(voted.id);
    await expectExact();
  });

  it('a vote from the inverse side (user.votes.add) is the same', async () => {
    const em = f.orm.em.fork();
    const voters = new Set((await choice()).voters.getItems().map((u) => u.id));
    const user = await em.findOneOrFail(User, f.seeded.userIds.find((id) => !voters.has(id))!, {
      populate: ['votes'],
    });
    user.votes.add(em.getReference(Choice, f.seeded.choiceIds[0]!));
    await em.flush();
    await expectExact();
  });

  it('removing a vote, and clearing voters (loaded, then never loaded)', async () => {
    const em = f.orm.em.fork();
    const first = await em.findOneOrFail(Choice, f.seeded.choiceIds[0]!, { populate: ['voters'] });
    first.voters.remove(first.voters.getItems()[0]!);
    await em.flush();
    await expectExact();
    first.voters.removeAll();
    await em.flush();
    await expectExact();
    const other = f.orm.em.fork();
    (await other.findOneOrFail(Choice, f.seeded.choiceIds[1]!)).voters.removeAll();
    await other.flush();
    await expectExact();
    expect((await record<{ voterIds: number[] }>('Choice', f.seeded.choiceIds[1]!))!.voterIds).toEqual([]);
  });

  it('deleting a user (votes by FK cascade) and a question (choices by FK cascade)', async () => {
    const em = f.orm.em.fork();
    const userPk = f.seeded.userIds[0]!;
    em.remove(em.getReference(User, userPk));
    await em.flush();
    await expectExact({ User: [userPk] });
    const question = await em.findOneOrFail(Question, f.seeded.questionIds[0]!);
    const choices = (await em.find(Choice, { question })).map((c) => c.id);
    em.remove(question);
    await em.flush();
    await expectExact({ User: [userPk], Question: [question.id], Choice: choices });
    expect(await f.cache.getInstances('Choice', choices)).toEqual(choices.map(() => null));
  });

  /** These users as the cache serves them in both versions: at zero queries, and equal to the database. */
  const expectUsersExact = async (users: Pk[], fixture = f) => {
    const pks = { Question: [], Choice: [], User: users };
    const served = await fixture.sql.measure(() => fixture.readAll(pks));
    expect(served.result).toEqual(await fixture.freshAll(pks));
    expect(served.queries).toEqual([]);
  };

  it.each([
    ['every User', (all: Pk[], _voters: Pk[]) => all],
    ['one voter', (_all: Pk[], voters: Pk[]) => voters.slice(0, 1)],
  ])(
    "deleting a Question on a COLD cache (%s cached, nothing else) refreshes its choices' voters",
    async (_, pick) => {
      await f.reset();
      const question = f.seeded.questionIds[0]!;
      const choices = await f.orm.em.fork().find(Choice, { question }, { populate: ['voters'] });
      const voters = [...new Set(choices.flatMap((c) => c.voters.getItems().map((u) => u.id)))];
      const warm = pick((await f.allPks()).User, voters);
      for (const version of ['v1', 'v2']) await f.cache.getInstances('User', warm, { version });
      const em = f.orm.em.fork();
      // Neither the question's choices nor their voters are loaded, and no Choice record is cached:
      // only the subscriber's lookup can name the users whose voteIds lose these choices.
      em.remove(await em.findOneOrFail(Question, question));
      await em.flush();
      await expectUsersExact(warm);
    },
  );

  // Two forks on Postgres and MariaDB. `race` has updateOnly and caches only Users, so no Choice
  // record is ever filled: only the delete's own lookup can name a voter whose vote the database
  // cascades away. Registered where rows lock only (SQLite has no row locks and one connection),
  // rather than skipped.
  if (locksRows(database)) {
    it('a vote committed after the deleting transaction took its snapshot is still named', async () => {
      const lean = race!;
      await lean.reset();
      const choiceId = lean.seeded.choiceIds[0]!;
      const voted = await lean.orm.em.fork().findOneOrFail(Choice, choiceId, { populate: ['voters'] });
      const newcomer = lean.seeded.userIds.find((id) => !voted.voters.getItems().some((u) => u.id === id))!;
      const users = (await lean.allPks()).User;
      for (const version of ['v1', 'v2']) await lean.cache.getInstances('User', users, { version });
      await lean.orm.em.fork().transactional(async (tx) => {
        // A plain read first: under REPEATABLE READ (MariaDB's default) it fixes the snapshot.
        const doomed = await tx.findOneOrFail(Choice, choiceId);
        // Another connection votes for the choice and commits (its FK check needs no lock we hold).
        const other = lean.orm.em.fork();
        const choice = await other.findOneOrFail(Choice, choiceId, { populate: ['voters'] });
        choice.voters.add(other.getReference(User, newcomer));
        await other.flush();
        expect((await lean.cache.getInstances('User', [newcomer], { version: 'v2' }))[0]).toMatchObject({
          voteIds: expect.arrayContaining([choiceId]),
        });
        // The DELETE cascades to the new vote too; the lookup must read past the snapshot to name it.
        tx.remove(doomed);
      });
      await expectUsersExact(users, lean);
    });

    it.each([
      ['the Choice (a reference)', (em: EntityManager, c: IChoice) => em.getReference(Choice, c.id)],
      [
        'its Question (choices never loaded)',
        (em: EntityManager, c: IChoice) => em.getReference(Question, c.question.id),
      ],
    ])(
      'two forks: deleting %s makes a concurrent vote wait, then fail; no stale voter',
      async (_, doomedOf) => {
        const lean = race!;
        await lean.reset();
        const voted = await lean.orm.em
          .fork()
          .findOneOrFail(Choice, lean.seeded.choiceIds[0]!, { populate: ['voters'] });
        const newcomer = lean.seeded.userIds.find((id) => !voted.voters.getItems().some((u) => u.id === id))!;
        const users = (await lean.allPks()).User;
        for (const version of ['v1', 'v2']) await lean.cache.getInstances('User', users, { version });
        let vote: Promise<unknown> | undefined;
        let meanwhile: unknown;
        const em = lean.orm.em.fork({ cloneEventManager: true });
        // After the subscriber's lookups, before the DELETE: another fork, on another connection,
        // votes for the doomed choice and tries to commit.
        em.getEventManager().registerSubscriber({
          async beforeDelete() {
            const other = lean.orm.em.fork();
            const choice = await other.findOneOrFail(Choice, voted.id, { populate: ['voters'] });
            choice.voters.add(other.getReference(User, newcomer));
            vote = other.flush().then(
              () => 'committed',
              (error: unknown) => error,
            );
            const waiting = waitForLockWait(lean.orm, database).then((yes) =>
              yes ? 'waiting' : 'timed out',
            );
            meanwhile = await Promise.race([vote, waiting]);
          },
        });
        em.remove(doomedOf(em, voted));
        await em.flush();
        const outcome = await vote;
        await expectUsersExact(users, lean);
        // How: the lookup locked the choice (`for update`); the vote's FK check waited for the delete to
        // commit, then found no choice.
        expect(meanwhile).toBe('waiting');
        expect(outcome).toBeInstanceOf(ForeignKeyConstraintViolationException);
      },
    );
  }

  it('deactivating a user hides it in v1 and shows it in v2', async () => {
    const em = f.orm.em.fork();
    const user = await em.findOneOrFail(User, { active: true });
    user.active = false;
    await em.flush();
    expect(await record('User', user.id, 'v1')).toBeNull();
    expect((await record<{ active: boolean }>('User', user.id, 'v2'))!.active).toBe(false);
    await expectExact();
  });

  it('a rollback calls no update and leaves the store untouched', async () => {
    const pks = await f.allPks();
    const before = await f.readAll(pks);
    await expect(
      f.orm.em.fork().transactional(async (em) => {
        (await em.findOneOrFail(Choice, f.seeded.choiceIds[0]!)).question = em.getReference(
          Question,
          f.seeded.questionIds[2]!,
        );
        await em.flush();
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(f.target.calls).toHaveLength(0);
    const after = await f.sql.measure(() => f.readAll(pks));
    expect(after.queries).toEqual([]);
    expect(after.result).toEqual(before);
    await expectExact();
  });

  it('a throwing flush calls no update and leaves the store untouched', async () => {
    const pks = await f.allPks();
    const before = await f.readAll(pks);
    const em = f.orm.em.fork();
    (await em.findOneOrFail(Question, f.seeded.questionIds[0]!)).questionText = 'never';
    em.create(User, { username: 'user0001', dateJoined: new Date() });
    await expect(em.flush()).rejects.toThrow();
    expect(f.target.calls).toHaveLength(0);
    const after = await f.sql.measure(() => f.readAll(pks));
    expect(after.queries).toEqual([]);
    expect(after.result).toEqual(before);
    await expectExact();
  });

  it('nested transactions: one cascade, after the outer commit', async () => {
    let callsInside = -1;
    await f.orm.em.fork().transactional(async (outer) => {
      await outer.transactional(async (inner) => {
        (await inner.findOneOrFail(Choice, f.seeded.choiceIds[0]!)).choiceText = 'inner';
      });
      (await outer.findOneOrFail(Question, f.seeded.questionIds[0]!)).questionText = 'outer';
      await outer.flush();
      callsInside = f.target.calls.length;
    });
    expect(callsInside).toBe(0);
    expect(f.target.calls).toHaveLength(1);
    expect(f.target.calls[0]!.after).toBe('commit');
    await expectExact();
  });

  it('a write the subscriber cannot see (nativeUpdate) is repaired by cache.invalidate', async () => {
    const pk = f.seeded.questionIds[0]!;
    await f.orm.em.fork().nativeUpdate(Question, { id: pk }, { questionText: 'native' });
    expect(f.target.calls).toHaveLength(0);
    expect((await record<{ questionText: string }>('Question', pk))!.questionText).not.toBe('native');
    await f.cache.invalidate('Question', [pk]);
    expect((await record<{ questionText: string }>('Question', pk))!.questionText).toBe('native');
    await expectExact();
  });

  it('updateOnly: a write refreshes cached keys and leaves misses alone', async () => {
    const lean = await createPollCacheFixture(database, 'writes_update_only', { updateOnly: true });
    try {
      await lean.reset();
      const pk = lean.seeded.choiceIds[0]!;
      await lean.cache.getInstances('Choice', [pk]);
      await lean.cache.getInstances('Choice', [pk], { version: 'v2' });
      const em = lean.orm.em.fork();
      const voted = await em.findOneOrFail(Choice, pk, { populate: ['voters'] });
      const voters = new Set(voted.voters.getItems().map((u) => u.id));
      voted.voters.add(em.getReference(User, lean.seeded.userIds.find((id) => !voters.has(id))!));
      lean.sql.reset();
      await em.flush();
      expect(lean.target.calls[0]!.updateOnly).toBe(true);
      // Only the cached Choice reloads (2 queries); the User was never read, so it is skipped.
      expect(lean.sql.selects).toHaveLength(2);
      expect(lean.sql.selects.some((sql) => /from\s+["`]?user["`]?/i.test(sql))).toBe(false);
      const read = await lean.sql.measure(() => lean.cache.getInstances('Choice', [pk]));
      expect(read.queries).toEqual([]);
    } finally {
      await lean.close();
    }
  });
});
