/**
 * CacheSubscriber on real databases (better-sqlite and Postgres), with a recording target in place
 * of the cache: WHEN refs are handed on — once per outermost commit, never before it, never after
 * a rollback — and that cache failures never fail a write.
 */
import { describe, expect, it } from 'vitest';
import { Choice, Question, User } from '../../../examples/poll/entities.js';
import { CacheSubscriber } from '../../../src/mikro-orm/index.js';
import { deferred } from '../../support/deferred.js';
import { createTestOrm, testDatabases } from '../../support/mikro-orm.js';
import { createRecordingTarget } from '../../support/recording-target.js';
import { useSubscriberFixture } from '../../support/subscriber-fixture.js';

describe.each(await testDatabases())('CacheSubscriber commits on %s', (database) => {
  const f = useSubscriberFixture(database, 'subscriber_commit');

  it('a rollback of em.transactional invalidates nothing', async () => {
    await expect(
      f.db.orm.em.fork().transactional(async (em) => {
        const { choice } = await f.choiceWith(em);
        choice.choiceText = 'rolled back';
        await em.flush();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(f.target.calls).toHaveLength(0);
  });

  it('a flush that throws (unique violation) invalidates nothing', async () => {
    const em = f.db.orm.em.fork();
    const taken = await em.findOneOrFail(User, f.seeded.userIds[0]!);
    em.create(User, { username: taken.username, dateJoined: new Date() });
    const { choice } = await f.choiceWith(em);
    choice.choiceText = 'never committed';
    await expect(em.flush()).rejects.toThrow();
    expect(f.target.calls).toHaveLength(0);
    expect(f.errors).toEqual([]);
  });

  it('nested transactions: one batch, only after the outer COMMIT', async () => {
    let callsAfterInner = -1;
    await f.db.orm.em.fork().transactional(async (outer) => {
      await outer.transactional(async (inner) => {
        const { choice } = await f.choiceWith(inner);
        choice.choiceText = 'inner';
      });
      callsAfterInner = f.target.calls.length;
      const question = await outer.findOneOrFail(Question, f.seeded.questionIds[1]!);
      question.questionText = 'outer';
    });
    expect(callsAfterInner).toBe(0);
    expect(f.target.calls).toHaveLength(1);
    expect(f.target.calls[0]!.after).toBe('commit');
    expect(f.target.calls[0]!.refs).toEqual(
      [`Choice:${f.seeded.choiceIds[0]}`, `Question:${f.seeded.questionIds[1]}`].sort(),
    );
  });

  it('an inner transaction that commits inside an outer one that rolls back invalidates nothing', async () => {
    await expect(
      f.db.orm.em.fork().transactional(async (outer) => {
        await outer.transactional(async (inner) => {
          (await f.choiceWith(inner)).choice.choiceText = 'inner';
        });
        throw new Error('outer fails');
      }),
    ).rejects.toThrow('outer fails');
    expect(f.target.calls).toHaveLength(0);
  });

  it('em.begin() … em.commit() is one batch; em.begin() … em.rollback() is none', async () => {
    const em = f.db.orm.em.fork();
    await em.begin();
    (await f.choiceWith(em)).choice.choiceText = 'manual';
    await em.flush();
    expect(f.target.calls).toHaveLength(0);
    await em.commit();
    expect(f.target.refs).toEqual([`Choice:${f.seeded.choiceIds[0]}`]);

    f.target.reset();
    await em.begin();
    (await f.choiceWith(em)).choice.choiceText = 'manual, rolled back';
    await em.flush();
    await em.rollback();
    expect(f.target.calls).toHaveLength(0);
  });

  it('em.upsert is seen (the instance), applied at once outside a transaction', async () => {
    const em = f.db.orm.em.fork();
    const user = await em.upsert(User, { username: 'user0001', dateJoined: new Date(0), active: false });
    expect(f.target.refs).toEqual([`User:${user.id}`]);
  });

  it('nativeUpdate is not seen (the caller must invalidate)', async () => {
    await f.db.orm.em.fork().nativeUpdate(Choice, { id: f.seeded.choiceIds[0]! }, { choiceText: 'native' });
    expect(f.target.calls).toHaveLength(0);
  });

  it('flush resolves only after the cascade finished (inline mode)', async () => {
    let finished = false;
    let flushed = false;
    const slow = createRecordingTarget();
    const inCascade = deferred();
    const gate = deferred();
    const em = f.db.orm.em.fork({ cloneEventManager: true });
    em.getEventManager().registerSubscriber(
      new CacheSubscriber({
        async update(refs) {
          await slow.update(refs);
          inCascade.resolve();
          await gate.promise; // the cascade is still running
          finished = true;
        },
      }),
    );
    (await f.choiceWith(em)).choice.choiceText = 'slow';
    const flushing = em.flush().then(() => {
      flushed = true;
    });
    await inCascade.promise;
    expect(flushed).toBe(false);
    gate.resolve();
    await flushing;
    expect(finished).toBe(true);
    expect(slow.calls).toHaveLength(1);
  });

  it('a failing cache never fails the flush: the data is committed and onError is told', async () => {
    const seen: unknown[] = [];
    const em = f.db.orm.em.fork({ cloneEventManager: true });
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
    (await f.choiceWith(em)).choice.choiceText = 'committed anyway';
    await expect(em.flush()).resolves.toBeUndefined();
    expect(seen).toHaveLength(1);
    expect((seen[0] as Error).message).toBe('store down');
    const fresh = await f.db.orm.em.fork().findOneOrFail(Choice, f.seeded.choiceIds[0]!);
    expect(fresh.choiceText).toBe('committed anyway');
  });

  it('a subscriber registered earlier that throws after COMMIT does not lose the batch', async () => {
    const late = createRecordingTarget();
    const thrower = {
      afterTransactionCommit() {
        throw new Error('another subscriber failed');
      },
    };
    const other = await createTestOrm(database, {
      label: 'thrower',
      subscribers: [thrower, new CacheSubscriber(late)],
    });
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
    const em = f.db.orm.em.fork({ cloneEventManager: true });
    em.getEventManager().registerSubscriber(new CacheSubscriber(only));
    const { choice } = await f.choiceWith(em);
    const from = choice.question.id;
    choice.question = em.getReference(Question, f.seeded.questionIds.find((id) => id !== from)!);
    choice.choiceText = 'moved';
    await em.flush();
    expect(only.refs).toEqual(f.seeded.questionIds.map((id) => `Question:${id}`).sort());
  });
});
