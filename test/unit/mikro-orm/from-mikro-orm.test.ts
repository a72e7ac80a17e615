/**
 * fromMikroOrm on real databases: the derived record, codecs from property types, the batched
 * loader's query count, visibility, versions and the invalidator — without a cache, by calling
 * the resolved model functions directly.
 */
import { MikroORM as SqliteOrm } from '@mikro-orm/better-sqlite';
import { defineEntity, p } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Choice, Question, User } from '../../../examples/poll/entities.js';
import { type SeededPoll, seedPoll } from '../../../examples/poll/seed.js';
import { codecs, defineStrategy, type ResolvedVersion, StrategyDefinitionError } from '../../../src/index.js';
import { fromMikroOrm } from '../../../src/mikro-orm/index.js';
import { createTestOrm, type TestOrm, testDatabases } from '../../support/mikro-orm.js';

async function loadAndSerialize(version: ResolvedVersion, pks: number[]) {
  const entities = [...(await version.load(pks, { model: version.model, version: version.version }))];
  return entities.map((entity) => version.serialize!(entity));
}

describe.each(await testDatabases())('fromMikroOrm on %s', (database) => {
  let db: TestOrm;
  let seeded: SeededPoll;
  beforeAll(async () => {
    db = await createTestOrm(database, { label: 'from_mikro_orm' });
    seeded = await seedPoll(db.orm.em.fork(), {
      questions: 4,
      choicesPerQuestion: 3,
      users: 10,
      votesPerChoice: 3,
    });
  });
  afterAll(async () => {
    await db?.close();
  });

  const strategy = () =>
    defineStrategy({
      versions: ['v1', 'v2'],
      models: [
        fromMikroOrm(db.orm, 'Question', { versions: { v1: {}, v2: { rename: { questionText: 'text' } } } }),
        fromMikroOrm(db.orm, Choice),
        fromMikroOrm(db.orm, User, {
          versions: {
            v1: { exclude: ['active'], visible: (user) => user.active },
            v2: { fields: ['id', 'username'] },
          },
        }),
      ],
    });

  it('derives the record: scalars, <prop>Id for to-one, sorted <singular>Ids for to-many', async () => {
    const s = strategy();
    const [choice] = await loadAndSerialize(s.resolve('Choice', 'v1'), [seeded.choiceIds[0]!]);
    const fresh = await db.orm.em
      .fork()
      .findOneOrFail(Choice, seeded.choiceIds[0]!, { populate: ['voters'] });
    expect(choice).toEqual({
      id: fresh.id,
      choiceText: fresh.choiceText,
      questionId: fresh.question.id,
      voterIds: fresh.voters
        .getItems()
        .map((u) => u.id)
        .sort((a, b) => a - b),
    });
    const [question] = await loadAndSerialize(s.resolve('Question', 'v2'), [seeded.questionIds[0]!]);
    expect(Object.keys(question!).sort()).toEqual(['choiceIds', 'id', 'pubDate', 'text']);
    expect((question as { pubDate: unknown }).pubDate).toBeInstanceOf(Date);
    const [user] = await loadAndSerialize(s.resolve('User', 'v1'), [seeded.userIds[0]!]);
    expect(Object.keys(user!).sort()).toEqual(['dateJoined', 'id', 'username', 'voteIds']);
  });

  it('codecs come from property and relation kinds', () => {
    const s = strategy();
    const q = s.resolve('Question', 'v1');
    const record = {
      id: 1,
      questionText: 'x',
      pubDate: new Date('2024-05-01T10:00:00.123Z'),
      choiceIds: [3, 1, 2],
    };
    expect(q.codec.decode(q.codec.encode(record))).toEqual({ ...record, choiceIds: [1, 2, 3] });
  });

  it.each([
    ['Question', 'choices'],
    ['Choice', 'voters'],
    ['User', 'votes'],
  ] as const)('loading N %s runs 1 + 1 queries (entities + %s pks), whatever N', async (model, _relation) => {
    const s = strategy();
    const pks = { Question: seeded.questionIds, Choice: seeded.choiceIds, User: seeded.userIds }[model];
    for (const n of [1, pks.length]) {
      db.sql.reset();
      const records = await loadAndSerialize(s.resolve(model, 'v1'), pks.slice(0, n));
      expect(db.sql.queries).toHaveLength(2);
      expect(records.filter((r) => r !== null).length).toBeGreaterThan(0);
    }
  });

  it('a model with no to-many field in any version runs exactly one query', async () => {
    const s = defineStrategy({
      versions: ['v1'],
      models: [fromMikroOrm(db.orm, 'User', { exclude: ['votes'] })],
    });
    db.sql.reset();
    await loadAndSerialize(s.resolve('User', 'v1'), [...seeded.userIds]);
    expect(db.sql.queries).toHaveLength(1);
  });

  it('pks that do not exist are simply absent from what load returns', async () => {
    const version = strategy().resolve('Question', 'v1');
    const loaded = [
      ...(await version.load([seeded.questionIds[0]!, 999_999], { model: 'Question', version: 'v1' })),
    ];
    expect(loaded.map((q) => version.pkOf(q))).toEqual([seeded.questionIds[0]]);
  });

  it('visible(entity) === false serializes to null (reads as not found); other versions unaffected', async () => {
    const s = strategy();
    const inactive = (await db.orm.em.fork().find(User, { active: false })).map((u) => u.id);
    expect(inactive.length).toBeGreaterThan(0);
    expect(await loadAndSerialize(s.resolve('User', 'v1'), inactive)).toEqual(inactive.map(() => null));
    const v2 = await loadAndSerialize(s.resolve('User', 'v2'), inactive);
    expect(v2.every((r) => r !== null && Object.keys(r).sort().join() === 'id,username')).toBe(true);
  });

  it('one load serves every version: the per-version load functions read the union of lists', async () => {
    const s = strategy();
    db.sql.reset();
    await loadAndSerialize(s.resolve('User', 'v2'), [seeded.userIds[0]!]);
    // v2 has no list field, but v1 does: the shared loader reads votes for both.
    expect(db.sql.queries).toHaveLength(2);
  });

  it('the invalidator names previous and new neighbours whose relation changed', async () => {
    const version = strategy().resolve('Choice', 'v1');
    const [choice] = [...(await version.load([seeded.choiceIds[0]!], { model: 'Choice', version: 'v1' }))];
    const record = version.serialize!(choice) as { questionId: number; voterIds: number[] };
    const refs = (entity: unknown, previous: object | null) =>
      version
        .invalidate(entity, previous)
        .map((r) => ('key' in r ? r.key : `${r.model}:${r.pk}`))
        .sort();
    // Unknown previous (cache miss): every current neighbour.
    expect(refs(choice, null)).toEqual(
      [`Question:${record.questionId}`, ...record.voterIds.map((id) => `User:${id}`)].sort(),
    );
    // Nothing moved: nobody else's record changes.
    expect(refs(choice, record)).toEqual([]);
    // It moved from question 999 and lost voter 998: both previous neighbours, and the new parent.
    expect(refs(choice, { ...record, questionId: 999, voterIds: [...record.voterIds, 998] })).toEqual(
      [`Question:${record.questionId}`, 'Question:999', 'User:998'].sort(),
    );
    // Deleted: every previous neighbour.
    expect(refs(null, record)).toEqual(
      [`Question:${record.questionId}`, ...record.voterIds.map((id) => `User:${id}`)].sort(),
    );
  });

  it("neighbours: 'all' names every neighbour; cascadeTo limits the models named", async () => {
    const s = defineStrategy({
      versions: ['v1'],
      models: [fromMikroOrm(db.orm, 'Choice', { neighbours: 'all', cascadeTo: ['Question'] })],
    });
    const version = s.resolve('Choice', 'v1');
    const [choice] = [...(await version.load([seeded.choiceIds[0]!], { model: 'Choice', version: 'v1' }))];
    const record = version.serialize!(choice) as { questionId: number };
    expect(version.invalidate(choice, record)).toEqual([{ model: 'Question', pk: record.questionId }]);
  });

  it('a different field list gives a different record tag (old records are never read)', () => {
    const one = defineStrategy({ versions: ['v1'], models: [fromMikroOrm(db.orm, 'Question')] });
    const two = defineStrategy({
      versions: ['v1'],
      models: [fromMikroOrm(db.orm, 'Question', { exclude: ['pubDate'] })],
    });
    const same = defineStrategy({ versions: ['v1'], models: [fromMikroOrm(db.orm, 'Question')] });
    const tag = (s: typeof one) => s.resolve('Question', 'v1').recordTag;
    expect(tag(one)).not.toBe(tag(two));
    expect(tag(one)).toBe(tag(same));
  });

  it('derived and hand-written models mix in one strategy', () => {
    const s = defineStrategy({
      versions: ['v1'],
      models: [
        fromMikroOrm(db.orm, Question),
        {
          name: 'Tag',
          options: { load: () => [], serialize: (t: { id: number }) => ({ id: t.id }), invalidate: () => [] },
        },
      ],
    });
    expect(s.modelNames).toEqual(['Question', 'Tag']);
  });

  it('per-version options merge with the model-level ones', async () => {
    const s = defineStrategy({
      versions: ['v1', 'v2', 'v3'],
      models: [
        fromMikroOrm(db.orm, User, {
          name: 'User',
          exclude: ['active'],
          rename: { username: 'login' },
          visible: (user) => user.active,
          versions: {
            // exclude adds up: neither active nor votes; the model's rename and visible apply.
            v1: { exclude: ['votes'] },
            // rename merges entry by entry: login AND joined.
            v2: { rename: { dateJoined: 'joined' } },
            // fields replace the model's list; visible: undefined shows inactive users.
            v3: { fields: ['id', 'username', 'active'], visible: undefined },
          },
        }),
      ],
    });
    const active = (await db.orm.em.fork().findOneOrFail(User, { active: true })).id;
    const inactive = (await db.orm.em.fork().findOneOrFail(User, { active: false })).id;
    const [v1] = await loadAndSerialize(s.resolve('User', 'v1'), [active]);
    expect(Object.keys(v1!).sort()).toEqual(['dateJoined', 'id', 'login']);
    const [v2] = await loadAndSerialize(s.resolve('User', 'v2'), [active]);
    expect(Object.keys(v2!).sort()).toEqual(['id', 'joined', 'login', 'voteIds']);
    // v3's fields list `active`, which the model excludes: exclusions still apply.
    const [v3] = await loadAndSerialize(s.resolve('User', 'v3'), [inactive]);
    expect(v3).toEqual({ id: inactive, login: expect.any(String) });
    expect(await loadAndSerialize(s.resolve('User', 'v1'), [inactive])).toEqual([null]);
  });

  describe('computed fields', () => {
    const computedStrategy = (shout = (q: { questionText: string }) => q.questionText.toUpperCase()) =>
      defineStrategy({
        versions: ['v1', 'v2'],
        models: [
          fromMikroOrm(db.orm, Question, {
            name: 'Question',
            computed: { shout: { value: shout } },
            versions: {
              v1: {},
              v2: {
                exclude: ['choices'],
                computed: {
                  choiceCount: { from: ['choices'], value: (_q, { choices }) => choices.length },
                  publishedAt: { value: (q) => q.pubDate },
                },
                codecs: { publishedAt: codecs.datetime },
              },
            },
          }),
          fromMikroOrm(db.orm, Choice, {
            name: 'Choice',
            versions: {
              v1: {},
              v2: {
                computed: { supportCount: { from: ['voters'], value: (_c, { voters }) => voters.length } },
              },
            },
          }),
        ],
      });

    it('are computed from the entity and the related pks listed in `from`', async () => {
      const s = computedStrategy();
      const question = await db.orm.em
        .fork()
        .findOneOrFail(Question, seeded.questionIds[0]!, { populate: ['choices'] });
      const [v1] = await loadAndSerialize(s.resolve('Question', 'v1'), [question.id]);
      expect(v1).toMatchObject({ shout: question.questionText.toUpperCase() });
      const v2 = s.resolve('Question', 'v2');
      const [record] = await loadAndSerialize(v2, [question.id]);
      expect(record).toEqual({
        id: question.id,
        questionText: question.questionText,
        pubDate: question.pubDate,
        shout: question.questionText.toUpperCase(),
        choiceCount: question.choices.length,
        publishedAt: question.pubDate,
      });
      // The codec of a computed field applies like any other: a Date reads back a Date.
      expect((v2.codec.decode(v2.codec.encode(record!)) as { publishedAt: unknown }).publishedAt).toEqual(
        question.pubDate,
      );
      const choice = await db.orm.em
        .fork()
        .findOneOrFail(Choice, seeded.choiceIds[0]!, { populate: ['voters'] });
      const [c2] = await loadAndSerialize(s.resolve('Choice', 'v2'), [choice.id]);
      expect(c2).toMatchObject({ supportCount: choice.voters.length, voterIds: expect.any(Array) });
    });

    it('a relation only `from` names is read with the batch: still 1 + 1 queries for N instances', async () => {
      const s = defineStrategy({
        versions: ['v1'],
        models: [
          fromMikroOrm(db.orm, Question, {
            name: 'Question',
            exclude: ['choices'],
            computed: { choiceCount: { from: ['choices'], value: (_q, { choices }) => choices.length } },
          }),
        ],
      });
      db.sql.reset();
      const records = await loadAndSerialize(s.resolve('Question', 'v1'), [...seeded.questionIds]);
      expect(db.sql.queries).toHaveLength(2);
      expect(records.map((r) => (r as { choiceCount: number }).choiceCount)).toEqual(
        seeded.questionIds.map(() => 3),
      );
    });

    it('are part of the definition hash: changing one tags the records anew (old ones are never read)', () => {
      const tag = (
        s: { resolve(model: string, version: string): { recordTag: string } },
        model = 'Question',
      ) => s.resolve(model, 'v1').recordTag;
      const one = computedStrategy();
      const same = computedStrategy();
      const other = computedStrategy((q) => q.questionText.toLowerCase());
      expect(tag(one)).toBe(tag(same));
      expect(tag(one)).not.toBe(tag(other));
      expect(tag(one, 'Choice')).toBe(tag(other, 'Choice'));
      const withoutComputed = defineStrategy({
        versions: ['v1', 'v2'],
        models: [
          fromMikroOrm(db.orm, Question, { name: 'Question' }),
          fromMikroOrm(db.orm, Choice, { name: 'Choice' }),
        ],
      });
      expect(tag(withoutComputed)).not.toBe(tag(one));
    });

    it('reading related pks that `from` does not list throws a clear error', async () => {
      const s = defineStrategy({
        versions: ['v1'],
        models: [
          fromMikroOrm(db.orm, Choice, {
            name: 'Choice',
            computed: { supportCount: { value: (_c, related) => related.voters.length } },
          }),
        ],
      });
      await expect(loadAndSerialize(s.resolve('Choice', 'v1'), [seeded.choiceIds[0]!])).rejects.toThrow(
        'computed field Choice.supportCount reads related pks of "voters"; list it in the field\'s `from`',
      );
    });
  });

  it.each([
    [() => fromMikroOrm(db.orm, 'Poll'), 'fromMikroOrm: unknown entity "Poll"'],
    [
      () => fromMikroOrm(db.orm, 'Question', { fields: ['title'] }),
      '`fields` names "title", which is not a property of Question',
    ],
    [() => fromMikroOrm(db.orm, 'Question', { exclude: ['nope'] }), '`exclude` names "nope"'],
    [() => fromMikroOrm(db.orm, 'Question', { rename: { questionText: 'id' } }), 'both map to field "id"'],
    [
      () => fromMikroOrm(db.orm, 'Question', { codecs: { nope: codecs.json } }),
      '`codecs` names field "nope"',
    ],
    [() => fromMikroOrm({} as never, 'Question'), 'initialised MikroORM instance'],
    [
      () => fromMikroOrm(db.orm, 'Question', { computed: { id: { value: () => 1 } } }),
      'computed field "id" has the name of Question.id\'s field',
    ],
    [
      () => fromMikroOrm(db.orm, 'Question', { computed: { n: { from: ['questionText'], value: () => 1 } } }),
      'computed field "n" reads from "questionText", which is not a relation of Question',
    ],
    [
      () => fromMikroOrm(db.orm, 'Question', { computed: { n: { value: 1 } as never } }),
      'computed field "n" needs value(entity, related), a function',
    ],
    [
      () =>
        fromMikroOrm(db.orm, 'Question', {
          rename: { questionText: 'text' },
          versions: { v1: { rename: { pubDate: 'text' } } },
        }),
      'version "v1": Question.questionText and Question.pubDate both map to field "text"',
    ],
  ])('misuse fails at definition time with E_STRATEGY_INVALID (%#)', (define, message) => {
    let error: unknown;
    try {
      define();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(StrategyDefinitionError);
    expect((error as StrategyDefinitionError).code).toBe('E_STRATEGY_INVALID');
    expect((error as Error).message).toContain(message);
  });
});

describe('fromMikroOrm codecs from property types (better-sqlite)', () => {
  const Thing = defineEntity({
    name: 'Thing',
    properties: {
      id: p.string().primary(),
      big: p.bigint(),
      bigAsNumber: p.bigint('number'),
      price: p.decimal(),
      data: p.json<{ a: number[] }>(),
      bytes: p.blob(),
      day: p.date(),
      at: p.datetime(),
      flag: p.boolean(),
      secret: p.string().hidden(),
    },
  });
  let orm: SqliteOrm;
  beforeAll(async () => {
    orm = await SqliteOrm.init({ dbName: ':memory:', entities: [Thing] });
    await orm.schema.createSchema();
    const em = orm.em.fork();
    em.create(Thing, {
      id: 'a:1',
      big: 1_234_567_890_123n,
      bigAsNumber: 5,
      price: '12.50',
      data: { a: [1, 2] },
      bytes: Buffer.from('hello'),
      day: '2024-02-29',
      at: new Date('2024-05-01T10:00:00.123Z'),
      flag: true,
      secret: 'hidden by default',
    });
    await em.flush();
  });
  afterAll(async () => {
    await orm?.close(true);
  });

  it('round-trips every type through the record codec, and leaves hidden properties out', async () => {
    const s = defineStrategy({ versions: ['v1'], models: [fromMikroOrm(orm, Thing)] });
    const version = s.resolve('Thing', 'v1');
    expect(version.pkType).toBe('string');
    const [record] = await loadAndSerialize(version, ['a:1'] as never);
    const decoded = version.codec.decode(version.codec.encode(record!)) as Record<string, unknown>;
    expect(decoded).toEqual({
      id: 'a:1',
      big: 1_234_567_890_123n,
      bigAsNumber: 5,
      price: expect.stringMatching(/^12\.50?$/),
      data: { a: [1, 2] },
      bytes: Buffer.from('hello'),
      day: '2024-02-29',
      at: new Date('2024-05-01T10:00:00.123Z'),
      flag: true,
    });
  });
});
