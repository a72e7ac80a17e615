/**
 * Type tests, compiled by `npm run typecheck` (never run): the records `fromMikroOrm` infers from
 * entity definitions, per version, and what `RecordsOf` reads of a strategy. An inference that
 * regresses (a field lost, a pk typed `unknown`, a version's options ignored) fails the compile:
 * `toEqualTypeOf` demands the exact type, and each `@ts-expect-error` demands an error.
 */
import {
  type Collection,
  defineEntity,
  EntitySchema,
  type Opt,
  PrimaryKeyProp,
  p,
  type Ref,
} from '@mikro-orm/core';
import { describe, expectTypeOf, it } from 'vitest';
import { Choice, Question, User } from '../../examples/poll/entities.js';
import type {
  ChoiceRecord,
  PollRecordsV1,
  PollRecordsV2,
  PollStrategy,
  QuestionV1Record,
  QuestionV2Record,
  UserV1Record,
  UserV2Record,
} from '../../examples/poll/strategy.js';
import {
  codecs,
  createLoaders,
  defineModel,
  defineStrategy,
  InstanceCache,
  type Pk,
  type RecordsOf,
  type VersionsOf,
} from '../../src/index.js';
import { type DerivedRecord, fromMikroOrm, type MikroOrmLike } from '../../src/mikro-orm/index.js';

declare const orm: MikroOrmLike;

describe('the poll example: records inferred from its entities', () => {
  it('v1 and v2 records equal the interfaces the example used to write by hand', () => {
    expectTypeOf<QuestionV1Record>().toEqualTypeOf<{
      readonly id: number;
      readonly questionText: string;
      readonly pubDate: Date;
      readonly choiceIds: readonly number[];
    }>();
    expectTypeOf<QuestionV2Record>().toEqualTypeOf<{
      readonly id: number;
      readonly text: string;
      readonly pubDate: Date;
      readonly choiceIds: readonly number[];
    }>();
    expectTypeOf<ChoiceRecord>().toEqualTypeOf<{
      readonly id: number;
      readonly choiceText: string;
      readonly questionId: number;
      readonly voterIds: readonly number[];
    }>();
    expectTypeOf<UserV1Record>().toEqualTypeOf<{
      readonly id: number;
      readonly username: string;
      readonly dateJoined: Date;
    }>();
    expectTypeOf<UserV2Record>().toEqualTypeOf<{
      readonly id: number;
      readonly username: string;
      readonly dateJoined: Date;
      readonly voteIds: readonly number[];
    }>();
    expectTypeOf<keyof PollRecordsV1>().toEqualTypeOf<'Question' | 'Choice' | 'User'>();
    expectTypeOf<PollRecordsV2['Choice']>().toEqualTypeOf<ChoiceRecord>();
    expectTypeOf<VersionsOf<PollStrategy>>().toEqualTypeOf<'v1' | 'v2'>();
  });

  it('RecordsOf without a version: every version of a model, as a union', () => {
    type All = RecordsOf<PollStrategy>;
    expectTypeOf<All['Question']>().toEqualTypeOf<QuestionV1Record | QuestionV2Record>();
    expectTypeOf<All['Choice']>().toEqualTypeOf<ChoiceRecord>();
    // The older phantom still reads the same thing.
    expectTypeOf<NonNullable<PollStrategy['__records']>>().toEqualTypeOf<All>();
  });
});

describe('fromMikroOrm options shape the record, per version', () => {
  const strategy = defineStrategy({
    versions: ['v1', 'v2', 'v3'],
    models: [
      fromMikroOrm(orm, User, {
        name: 'User',
        exclude: ['active'],
        rename: { username: 'login' },
        // The entity type reaches callbacks: `user` is the User entity.
        visible: (user) => {
          expectTypeOf(user.active).toEqualTypeOf<Opt<boolean>>();
          return user.active;
        },
        versions: {
          v1: { exclude: ['votes'] },
          v2: { rename: { dateJoined: 'joined' } },
          v3: { fields: ['id', 'username', 'active'] },
        },
      }),
      fromMikroOrm(orm, Choice, { name: 'Choice', versions: ['v2'] }),
    ],
  });

  it('exclude adds up, rename merges, fields replace; exclusions still apply to fields', () => {
    expectTypeOf<RecordsOf<typeof strategy, 'v1'>['User']>().toEqualTypeOf<{
      readonly id: number;
      readonly login: string;
      readonly dateJoined: Date;
    }>();
    expectTypeOf<RecordsOf<typeof strategy, 'v2'>['User']>().toEqualTypeOf<{
      readonly id: number;
      readonly login: string;
      readonly joined: Date;
      readonly voteIds: readonly number[];
    }>();
    expectTypeOf<RecordsOf<typeof strategy, 'v3'>['User']>().toEqualTypeOf<{
      readonly id: number;
      readonly login: string;
    }>();
  });

  it('a model exists only in the versions it lists; the cache and its loaders take the strategy', () => {
    expectTypeOf<keyof RecordsOf<typeof strategy, 'v1'>>().toEqualTypeOf<'User'>();
    expectTypeOf<keyof RecordsOf<typeof strategy, 'v2'>>().toEqualTypeOf<'User' | 'Choice'>();
    const loaders = createLoaders(new InstanceCache(strategy), { version: 'v2' });
    expectTypeOf(loaders.Choice.load(1)).resolves.toEqualTypeOf<ChoiceRecord | null>();
  });

  it('property names are checked against the entity', () => {
    // @ts-expect-error `title` is not a property of Question
    fromMikroOrm(orm, Question, { name: 'Question', fields: ['title'] });
    // @ts-expect-error `nope` is not a property of Question
    fromMikroOrm(orm, Question, { name: 'Question', versions: { v1: { exclude: ['nope'] } } });
    // @ts-expect-error `text` is not a property of Question (rename maps property → field)
    fromMikroOrm(orm, Question, { name: 'Question', rename: { text: 'questionText' } });
  });
});

describe('computed fields', () => {
  const strategy = defineStrategy({
    versions: ['v1', 'v2'],
    models: [
      fromMikroOrm(orm, Choice, {
        name: 'Choice',
        computed: { shout: { value: (choice) => choice.choiceText.toUpperCase() } },
        versions: {
          v1: {},
          v2: {
            computed: {
              supportCount: {
                from: ['voters'],
                value: (_choice, related) => {
                  expectTypeOf(related.voters).toEqualTypeOf<readonly number[]>();
                  return related.voters.length;
                },
              },
              firstVote: { from: ['voters'], value: (_choice, { voters }) => voters[0] ?? null },
            },
          },
        },
      }),
    ],
  });

  it('are typed from what value() returns, merged per version', () => {
    expectTypeOf<RecordsOf<typeof strategy, 'v1'>['Choice']>().toEqualTypeOf<
      ChoiceRecord & { readonly shout: string } extends infer R ? { [K in keyof R]: R[K] } : never
    >();
    type V2 = RecordsOf<typeof strategy, 'v2'>['Choice'];
    expectTypeOf<V2['supportCount']>().toEqualTypeOf<number>();
    expectTypeOf<V2['firstVote']>().toEqualTypeOf<number | null>();
    expectTypeOf<V2['shout']>().toEqualTypeOf<string>();
  });

  it('`from` names relations only', () => {
    fromMikroOrm(orm, Choice, {
      name: 'Choice',
      // @ts-expect-error choiceText is a scalar, not a relation
      computed: { n: { from: ['choiceText'], value: () => 1 } },
    });
  });
});

describe('every kind of property', () => {
  const Tag = defineEntity({ name: 'Tag', properties: { code: p.string().primary() } });
  const Profile = defineEntity({
    name: 'Profile',
    properties: { id: p.bigint().primary(), owner: () => p.oneToOne(Thing).inversedBy('profile').owner() },
  });
  const Thing = defineEntity({
    name: 'Thing',
    properties: {
      id: p.integer().primary().autoincrement(),
      big: p.bigint(),
      bigAsNumber: p.bigint('number'),
      price: p.decimal(),
      data: p.json<{ a: number[] }>(),
      bytes: p.blob(),
      day: p.date(),
      at: p.datetime().nullable(),
      note: p.text().lazy().ref(),
      kind: p.enum(['a', 'b']),
      secret: p.string().hidden(),
      mainTag: () => p.manyToOne(Tag).ref().nullable(),
      tags: () => p.manyToMany(Tag),
      boxes: () => p.manyToMany(Tag),
      categories: () => p.manyToMany(Tag),
      profile: () => p.oneToOne(Profile).mappedBy('owner'),
    },
  });

  it('scalars keep their runtime types, relations become pks named after them, hidden ones are left out', () => {
    const s = defineStrategy({ versions: ['v1'], models: [fromMikroOrm(orm, Thing, { name: 'Thing' })] });
    expectTypeOf<RecordsOf<typeof s, 'v1'>['Thing']>().toEqualTypeOf<{
      readonly id: number;
      readonly big: bigint;
      readonly bigAsNumber: number;
      readonly price: string;
      readonly data: { a: number[] };
      readonly bytes: Uint8Array | Buffer;
      readonly day: string;
      readonly at: Date | null;
      readonly note: string;
      readonly kind: 'a' | 'b';
      readonly mainTagId: string | null;
      readonly tagIds: readonly string[];
      readonly boxIds: readonly string[];
      readonly categoryIds: readonly string[];
      readonly profileId: string;
    }>();
    const p2 = defineStrategy({
      versions: ['v1'],
      models: [fromMikroOrm(orm, Profile, { name: 'Profile' })],
    });
    // A bigint pk is read as a string (as pkOfEntity does at run time).
    expectTypeOf<RecordsOf<typeof p2, 'v1'>['Profile']>().toEqualTypeOf<{
      readonly id: bigint;
      readonly ownerId: number;
    }>();
  });

  it('hidden properties are included when fields lists them', () => {
    const s = defineStrategy({
      versions: ['v1'],
      models: [fromMikroOrm(orm, Thing, { name: 'Thing', fields: ['id', 'secret'] })],
    });
    expectTypeOf<RecordsOf<typeof s, 'v1'>['Thing']>().toEqualTypeOf<{
      readonly id: number;
      readonly secret: string;
    }>();
  });
});

describe('EntitySchema with an interface, and classes', () => {
  interface IAuthor {
    id: number;
    name: string;
    books: Collection<IBook>;
  }
  interface IBook {
    [PrimaryKeyProp]?: 'isbn';
    isbn: string;
    title: string;
    author: Ref<IAuthor>;
  }
  const Author = new EntitySchema<IAuthor>({
    name: 'Author',
    properties: {
      id: { type: 'number', primary: true },
      name: { type: 'string' },
      books: { kind: '1:m', entity: 'Book', mappedBy: 'author' },
    },
  });
  class Book {
    [PrimaryKeyProp]?: 'isbn';
    isbn!: string;
    title!: string;
    author!: Ref<IAuthor>;
  }

  it('reads the interface of an EntitySchema and the instance type of a class', () => {
    const s = defineStrategy({
      versions: ['v1'],
      models: [fromMikroOrm(orm, Author, { name: 'Author' }), fromMikroOrm(orm, Book, { name: 'Book' })],
    });
    type R = RecordsOf<typeof s, 'v1'>;
    expectTypeOf<R['Author']>().toEqualTypeOf<{
      readonly id: number;
      readonly name: string;
      readonly bookIds: readonly string[];
    }>();
    expectTypeOf<R['Book']>().toEqualTypeOf<{
      readonly isbn: string;
      readonly title: string;
      readonly authorId: number;
    }>();
  });
});

describe('what stays untyped, and why', () => {
  it('a relation to an entity whose pk the type system cannot see holds `Pk`s', () => {
    interface INote {
      key: string;
      pages: Collection<IPage>;
    }
    interface IPage {
      number: number;
    }
    const Note = new EntitySchema<INote>({
      name: 'Note',
      properties: { key: { type: 'string', primary: true }, pages: { kind: 'm:n', entity: 'Page' } },
    });
    const s = defineStrategy({ versions: ['v1'], models: [fromMikroOrm(orm, Note, { name: 'Note' })] });
    expectTypeOf<RecordsOf<typeof s, 'v1'>['Note']>().toEqualTypeOf<{
      readonly key: string;
      readonly pageIds: readonly Pk[];
    }>();
  });

  it('an entity given by name has untyped records (its type is not known)', () => {
    const s = defineStrategy({ versions: ['v1'], models: [fromMikroOrm(orm, 'Question')] });
    expectTypeOf<RecordsOf<typeof s, 'v1'>['Question']>().toEqualTypeOf<DerivedRecord>();
  });

  it('without `name` the model name is only `string`: records stay untyped', () => {
    const s = defineStrategy({ versions: ['v1'], models: [fromMikroOrm(orm, Question)] });
    expectTypeOf<RecordsOf<typeof s, 'v1'>[string]>().toEqualTypeOf<DerivedRecord>();
  });
});

describe('hand-written models', () => {
  const Tag = defineModel('Tag', {
    load: (_pks: readonly Pk[]) => [{ id: 1, label: 'x' }],
    serialize: (tag: { id: number; label: string }) => ({ id: tag.id, label: tag.label }),
    invalidate: () => [],
    codecs: { label: codecs.json },
  });

  it('have their record in every version', () => {
    const s = defineStrategy({
      versions: ['v1', 'v2'],
      models: [Tag, fromMikroOrm(orm, Choice, { name: 'Choice' })],
    });
    expectTypeOf<RecordsOf<typeof s, 'v2'>['Tag']>().toEqualTypeOf<{ id: number; label: string }>();
    expectTypeOf<keyof RecordsOf<typeof s, 'v1'>>().toEqualTypeOf<'Tag' | 'Choice'>();
  });

  it('a model without load is a type error', () => {
    // @ts-expect-error `load` is required
    defineModel('Tag', { serialize: (tag: { id: number }) => tag, invalidate: () => [] });
  });

  it('an unknown version is a type error in RecordsOf', () => {
    const s = defineStrategy({ versions: ['v1'], models: [Tag] });
    // @ts-expect-error there is no version v9
    expectTypeOf<RecordsOf<typeof s, 'v9'>>();
  });
});
