/**
 * Counted SQL through the InstanceCache with derived MikroORM models, on better-sqlite and the real
 * Postgres: cold reads cost 1 + k queries whatever N, warm reads cost none, and `updateOnly`
 * stops a cascade at a miss where the default fills it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Choice, Question } from '../../examples/poll/entities.js';
import { testDatabases } from '../support/mikro-orm.js';
import { createPollCacheFixture, type PollCacheFixture } from '../support/poll-cache.js';

const MEDIUM = { questions: 20, choicesPerQuestion: 4, users: 30, votesPerChoice: 5 };

describe.each(await testDatabases())('InstanceCache over MikroORM on %s: counted reads', (database) => {
  let f: PollCacheFixture;
  beforeAll(async () => {
    f = await createPollCacheFixture(database, 'reads');
  });
  afterAll(async () => {
    await f?.close();
  });
  beforeEach(async () => {
    await f.reset(MEDIUM);
  });

  it.each([
    { model: 'Question', key: 'questionIds', k: 1 },
    { model: 'Choice', key: 'choiceIds', k: 1 },
    { model: 'User', key: 'userIds', k: 1 },
  ] as const)(
    'a cold read of every $model runs 1 + $k queries; the warm read runs 0',
    async ({ model, key, k }) => {
      const pks = f.seeded[key];
      const cold = await f.sql.measure(() => f.cache.getInstances(model, pks, { version: 'v1' }));
      expect(cold.result.filter((r) => r !== null).length).toBeGreaterThan(0);
      expect(cold.queries).toHaveLength(1 + k);
      expect(cold.queries[0]).toMatch(/^select\b/i);
      const warm = await f.sql.measure(() => f.cache.getInstances(model, pks, { version: 'v1' }));
      expect(warm.queries).toHaveLength(0);
      expect(warm.result).toEqual(cold.result);
      // Another version is a representation of its own: its first read is cold, once.
      const other = await f.sql.measure(() => f.cache.getInstances(model, pks, { version: 'v2' }));
      expect(other.queries).toHaveLength(1 + k);
      expect(
        (await f.sql.measure(() => f.cache.getInstances(model, pks, { version: 'v2' }))).queries,
      ).toHaveLength(0);
    },
  );

  it('a cold read of one instance costs the same 1 + k as of N', async () => {
    const one = await f.sql.measure(() => f.cache.getInstances('Choice', [f.seeded.choiceIds[0]!]));
    expect(one.queries).toHaveLength(2);
  });

  it('a nested read (questions → choices → voters) costs 2 queries per level, cold, and 0 warm', async () => {
    const read = async () => {
      const questions = await f.cache.getInstances('Question', f.seeded.questionIds);
      const choiceIds = questions.flatMap((q) => (q as { choiceIds: number[] }).choiceIds);
      const choices = await f.cache.getInstances('Choice', choiceIds);
      const voterIds = [...new Set(choices.flatMap((c) => (c as { voterIds: number[] }).voterIds))];
      return f.cache.getInstances('User', voterIds);
    };
    expect((await f.sql.measure(read)).queries).toHaveLength(6);
    expect((await f.sql.measure(read)).queries).toHaveLength(0);
  });

  it('hidden instances read as null (v1 hides inactive users) and are cached as such', async () => {
    const users = await f.cache.getInstances('User', f.seeded.userIds, { version: 'v1' });
    const v2 = await f.cache.getInstances('User', f.seeded.userIds, { version: 'v2' });
    const hidden = users.filter((u) => u === null).length;
    expect(hidden).toBe(3); // every tenth seeded user is inactive
    expect(v2.every((u) => u !== null)).toBe(true);
    expect(
      (await f.sql.measure(() => f.cache.getInstances('User', f.seeded.userIds, { version: 'v1' }))).queries,
    ).toHaveLength(0);
  });

  describe('updateOnly', () => {
    /** Moves a choice to another question behind the ORM's back, then invalidates it explicitly. */
    const moveNatively = async () => {
      const choice = await f.orm.em.fork().findOneOrFail(Choice, f.seeded.choiceIds[0]!);
      const from = choice.question.id;
      const to = f.seeded.questionIds.find((id) => id !== from)!;
      await f.orm.em.fork().nativeUpdate(Choice, { id: choice.id }, { question: to });
      return { choice: choice.id, from, to };
    };

    it('stops the cascade at a miss: the parents are not loaded', async () => {
      await f.cache.getInstances('Choice', [f.seeded.choiceIds[0]!], { version: 'v1' });
      await f.cache.getInstances('Choice', [f.seeded.choiceIds[0]!], { version: 'v2' });
      const { choice } = await moveNatively();
      const run = await f.sql.measure(() => f.cache.invalidate('Choice', [choice], { updateOnly: true }));
      // The Choice reloads (entities + voters); both Questions are misses, left alone.
      expect(run.queries.filter((sql) => /from\s+["`]?question["`]?/i.test(sql))).toHaveLength(0);
      expect(run.result.skipped).toBe(4); // 2 questions × 2 versions
      expect(run.result.refreshed).toBe(2); // the Choice in v1 and v2
    });

    it('without it, the cascade loads and fills both parents', async () => {
      await f.cache.getInstances('Choice', [f.seeded.choiceIds[0]!], { version: 'v1' });
      await f.cache.getInstances('Choice', [f.seeded.choiceIds[0]!], { version: 'v2' });
      const { from, to } = await moveNatively();
      const run = await f.sql.measure(() => f.cache.invalidate('Choice', [f.seeded.choiceIds[0]!]));
      expect(run.queries.filter((sql) => /from\s+["`]?question["`]?/i.test(sql)).length).toBeGreaterThan(0);
      const after = await f.sql.measure(() =>
        f.cache.getInstances('Question', [from, to], { version: 'v1' }),
      );
      expect(after.queries).toHaveLength(0);
      const fresh = await f.orm.em
        .fork()
        .find(Question, { id: [from, to] }, { populate: ['choices'], orderBy: { id: 1 } });
      // The filled parents (misses: no previous record) name all their choices; those that are not
      // cached are left alone (the core bounds a cascade from a miss), in both versions.
      const others = fresh.reduce((n, q) => n + q.choices.length, 0) - 1;
      expect(run.result.skipped).toBe(others * 2);
      expect(after.result.map((q) => (q as { choiceIds: number[] }).choiceIds)).toEqual(
        [from, to].map((id) =>
          fresh
            .find((q) => q.id === id)!
            .choices.getItems()
            .map((c) => c.id)
            .sort((a, b) => a - b),
        ),
      );
    });
  });
});
