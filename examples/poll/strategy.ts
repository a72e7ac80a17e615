/**
 * The poll app's cache strategy: two cache versions, one per GraphQL schema version, derived from
 * the MikroORM metadata. v2 differs from v1 the way the schemas do: the question text is
 * `text` (renamed from `questionText`), and users carry `voteIds` (v1 does not expose votes).
 * Inactive users are hidden in both (they read as not found).
 */
import { defineStrategy } from '../../src/index.js';
import { fromMikroOrm, type MikroOrmLike } from '../../src/mikro-orm/index.js';
import { Choice, Question, User } from './entities.js';

/** The cache versions, which are also the schema versions and the URL paths (`/graphql/v1`). */
export const POLL_VERSIONS = ['v1', 'v2'] as const;

/** A schema (and cache) version of the poll API. */
export type PollVersion = (typeof POLL_VERSIONS)[number];

/** A question as cache version v1 stores it. */
export interface QuestionV1Record {
  readonly id: number;
  readonly questionText: string;
  readonly pubDate: Date;
  readonly choiceIds: readonly number[];
}

/** A question as cache version v2 stores it: `questionText` is renamed `text`. */
export interface QuestionV2Record {
  readonly id: number;
  readonly text: string;
  readonly pubDate: Date;
  readonly choiceIds: readonly number[];
}

/** A choice, the same in both versions. */
export interface ChoiceRecord {
  readonly id: number;
  readonly choiceText: string;
  readonly questionId: number;
  readonly voterIds: readonly number[];
}

/** A user as v1 stores it (no votes). */
export interface UserV1Record {
  readonly id: number;
  readonly username: string;
  readonly dateJoined: Date;
}

/** A user as v2 stores it: with the choices they voted for. */
export interface UserV2Record extends UserV1Record {
  readonly voteIds: readonly number[];
}

/** Model name → record type in cache version v1. */
export interface PollRecordsV1 {
  Question: QuestionV1Record;
  Choice: ChoiceRecord;
  User: UserV1Record;
}

/** Model name → record type in cache version v2. */
export interface PollRecordsV2 {
  Question: QuestionV2Record;
  Choice: ChoiceRecord;
  User: UserV2Record;
}

/**
 * Defines the poll strategy on an initialised ORM (derived models need its metadata). Each model
 * loads a batch of N pks with one query plus one per to-many relation.
 */
export function createPollStrategy(orm: MikroOrmLike) {
  return defineStrategy({
    versions: POLL_VERSIONS,
    defaultVersion: 'v2',
    namespace: 'poll',
    models: [
      fromMikroOrm(orm, Question, { versions: { v1: {}, v2: { rename: { questionText: 'text' } } } }),
      fromMikroOrm(orm, Choice),
      fromMikroOrm(orm, User, {
        exclude: ['active'],
        visible: (user) => user.active,
        versions: { v1: { exclude: ['active', 'votes'] }, v2: {} },
      }),
    ],
  });
}

/** The poll strategy's type. */
export type PollStrategy = ReturnType<typeof createPollStrategy>;
