/**
 * The poll app's cache strategy: two cache versions, one per GraphQL schema version, derived from
 * the MikroORM metadata. v2 differs from v1 the way the schemas do: the question text is
 * `text` (renamed from `questionText`), and users carry `voteIds` (v1 does not expose votes).
 * Inactive users are hidden in both (they read as not found).
 */
import { defineStrategy, type RecordsOf } from '../../src/index.js';
import { fromMikroOrm, type MikroOrmLike } from '../../src/mikro-orm/index.js';
import { Choice, Question, User } from './entities.js';

/** The cache versions, which are also the schema versions and the URL paths (`/graphql/v1`). */
export const POLL_VERSIONS = ['v1', 'v2'] as const;

/** A schema (and cache) version of the poll API. */
export type PollVersion = (typeof POLL_VERSIONS)[number];

/**
 * Defines the poll strategy on an initialised ORM (derived models need its metadata). Each model
 * loads a batch of N pks with one query plus one per to-many relation. The record types are
 * inferred from the entity definitions and these options (see the aliases below); `name` gives
 * each model its literal name, which MikroORM 6's entity types do not carry.
 */
export function createPollStrategy(orm: MikroOrmLike) {
  return defineStrategy({
    versions: POLL_VERSIONS,
    defaultVersion: 'v2',
    namespace: 'poll',
    models: [
      fromMikroOrm(orm, Question, {
        name: 'Question',
        // The question list filters on the text (search) and sorts and filters on pubDate: its
        // cached pages are invalidated by creates, deletes and changes to these.
        listFields: ['questionText', 'pubDate'],
        versions: { v1: {}, v2: { rename: { questionText: 'text' } } },
      }),
      fromMikroOrm(orm, Choice, { name: 'Choice' }),
      fromMikroOrm(orm, User, {
        name: 'User',
        exclude: ['active'],
        visible: (user) => user.active,
        // Merged over the model's options: v1 leaves out `active` and `votes`, v2 only `active`.
        versions: { v1: { exclude: ['votes'] }, v2: {} },
      }),
    ],
  });
}

/** The poll strategy's type. */
export type PollStrategy = ReturnType<typeof createPollStrategy>;

/** Model name → record type in cache version v1 (inferred from the entities and the options above). */
export type PollRecordsV1 = RecordsOf<PollStrategy, 'v1'>;

/** Model name → record type in cache version v2. */
export type PollRecordsV2 = RecordsOf<PollStrategy, 'v2'>;

/** A question as cache version v1 stores it: `{ id, questionText, pubDate, choiceIds }`. */
export type QuestionV1Record = PollRecordsV1['Question'];

/** A question as cache version v2 stores it: `questionText` is renamed `text`. */
export type QuestionV2Record = PollRecordsV2['Question'];

/** A choice, the same in both versions: `{ id, choiceText, questionId, voterIds }`. */
export type ChoiceRecord = PollRecordsV1['Choice'];

/** A user as v1 stores it (no votes): `{ id, username, dateJoined }`. */
export type UserV1Record = PollRecordsV1['User'];

/** A user as v2 stores it: with the choices they voted for (`voteIds`). */
export type UserV2Record = PollRecordsV2['User'];
