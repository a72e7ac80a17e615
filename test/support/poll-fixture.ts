/**
 * A small poll data source for the core tests: plain rows in Maps playing the database, with
 * loaders that count their calls and can be paused on a promise the test holds. The core has no
 * ORM; the MikroORM suites run the same behaviours against real SQLite and Postgres.
 */
import { codecs, defineModel, defineStrategy, type Pk, type Ref } from '../../src/index.js';
import { deferred } from './deferred.js';

export interface QuestionRow {
  id: number;
  text: string;
  pubDate: Date;
}
export interface ChoiceRow {
  id: number;
  text: string;
  questionId: number;
}
export interface UserRow {
  id: number;
  username: string;
  active: boolean;
  groupId: number | null;
}

/** A loaded entity: the row plus the related pks its records need. */
export type QuestionEntity = QuestionRow & { choiceIds: number[] };
export type ChoiceEntity = ChoiceRow & { voterIds: number[] };
export type UserEntity = UserRow & { voteIds: number[] };

/** A test's handle on a pause: `paused` resolves when a load is waiting; `release()` lets it go. */
export interface Pause {
  paused: Promise<void>;
  release(): void;
}

/** Options of {@link createPollDb}. */
export interface PollDbOptions {
  /** `listFields` of Question in both versions (lets its root lists be cached). Default: none. */
  questionListFields?: readonly string[] | 'all';
}

export function createPollDb(options: PollDbOptions = {}) {
  const questions = new Map<number, QuestionRow>();
  const choices = new Map<number, ChoiceRow>();
  const users = new Map<number, UserRow>();
  const groups = new Map<number, { id: number; name: string }>();
  const votes = new Set<string>();
  const loadCalls: { model: string; version: string; pks: Pk[] }[] = [];
  let pauseNext: { model: string; gate: Promise<void>; arrived: () => void } | undefined;

  const db = {
    questions,
    choices,
    users,
    groups,
    votes,
    loadCalls,
    vote(choiceId: number, userId: number) {
      votes.add(`${choiceId}:${userId}`);
    },
    unvote(choiceId: number, userId: number) {
      votes.delete(`${choiceId}:${userId}`);
    },
    /** Pause the next load of `model` after it has read the rows, before it returns them. */
    pauseNextLoad(model: string): Pause {
      const gate = deferred();
      const arrived = deferred();
      pauseNext = { model, gate: gate.promise, arrived: arrived.resolve };
      return { paused: arrived.promise, release: gate.resolve };
    },

    /** While true, every load fails (after its pause, if any), like a database that went away. */
    failing: false,
    loadsOf(model: string) {
      return loadCalls.filter((call) => call.model === model);
    },
  };

  async function track<T>(model: string, version: string, pks: readonly Pk[], read: () => T[]): Promise<T[]> {
    loadCalls.push({ model, version, pks: [...pks] });
    // Read first, then wait: a paused load holds data read before the test's write, like a slow
    // query that ran before a commit.
    const rows = read();
    if (pauseNext?.model === model) {
      const { gate, arrived } = pauseNext;
      pauseNext = undefined;
      arrived();
      await gate;
    }
    if (db.failing) throw new Error('database is down');
    return rows;
  }

  const loadQuestions = (pks: readonly Pk[], ctx: { version: string }) =>
    track('Question', ctx.version, pks, () =>
      pks.flatMap((pk) => {
        const row = questions.get(pk as number);
        if (!row) return [];
        const choiceIds = [...choices.values()].filter((c) => c.questionId === row.id).map((c) => c.id);
        return [{ ...row, choiceIds }];
      }),
    );
  const loadChoices = (pks: readonly Pk[], ctx: { version: string }) =>
    track('Choice', ctx.version, pks, () =>
      pks.flatMap((pk) => {
        const row = choices.get(pk as number);
        if (!row) return [];
        const voterIds = [...votes]
          .filter((v) => v.startsWith(`${row.id}:`))
          .map((v) => Number(v.split(':')[1]));
        return [{ ...row, voterIds }];
      }),
    );
  const loadUsers = (pks: readonly Pk[], ctx: { version: string }) =>
    track('User', ctx.version, pks, () =>
      pks.flatMap((pk) => {
        const row = users.get(pk as number);
        if (!row) return [];
        const voteIds = [...votes]
          .filter((v) => v.endsWith(`:${row.id}`))
          .map((v) => Number(v.split(':')[0]));
        return [{ ...row, voteIds }];
      }),
    );

  type QuestionV1 = { id: number; text: string; pubDate: Date; choiceIds: number[] };
  type QuestionV2 = {
    id: number;
    questionText: string;
    pubDate: Date;
    choiceIds: number[];
    choiceCount: number;
  };
  const question = defineModel<'Question', QuestionEntity, QuestionV1 | QuestionV2>('Question', {
    load: loadQuestions,
    invalidate: () => [],
    ...(options.questionListFields ? { listFields: options.questionListFields as never } : {}),
    versions: {
      v1: {
        serialize: (q: QuestionEntity) => ({
          id: q.id,
          text: q.text,
          pubDate: q.pubDate,
          choiceIds: q.choiceIds,
        }),
        codecs: { pubDate: codecs.datetime, choiceIds: codecs.pkList },
      },
      v2: {
        serialize: (q: QuestionEntity) => ({
          id: q.id,
          questionText: q.text,
          pubDate: q.pubDate,
          choiceIds: q.choiceIds,
          choiceCount: q.choiceIds.length,
        }),
        codecs: { pubDate: codecs.datetime, choiceIds: codecs.pkList },
      },
    },
  });
  type ChoiceRecord = { id: number; text: string; questionId: number; voterIds: number[] };
  type UserRecord = { id: number; username: string; voteIds: number[] };
  const choice = defineModel<'Choice', ChoiceEntity, ChoiceRecord>('Choice', {
    load: loadChoices,
    serialize: (c: ChoiceEntity) => ({
      id: c.id,
      text: c.text,
      questionId: c.questionId,
      voterIds: c.voterIds,
    }),
    codecs: { questionId: codecs.pk, voterIds: codecs.pkList },
    // The question's choiceIds and each voter's voteIds are computed from this row: name the
    // ones of the new state and of the previous record, so a move from A to B refreshes both.
    invalidate(
      entity: ChoiceEntity | null,
      previous: { questionId: number; voterIds: number[] } | null,
    ): Ref[] {
      const refs: Ref[] = [];
      for (const state of [entity, previous]) {
        if (!state) continue;
        refs.push({ model: 'Question', pk: state.questionId });
        for (const userId of state.voterIds) refs.push({ model: 'User', pk: userId });
      }
      return refs;
    },
  });
  const user = defineModel<'User', UserEntity, UserRecord>('User', {
    load: loadUsers,
    // Inactive users are hidden: they read as not found.
    serialize: (u: UserEntity) => (u.active ? { id: u.id, username: u.username, voteIds: u.voteIds } : null),
    codecs: { voteIds: codecs.pkList },
    invalidate(entity: UserEntity | null, previous: UserRecord | null): Ref[] {
      const ids = new Set([...(entity?.voteIds ?? []), ...(previous?.voteIds ?? [])]);
      return [...ids].map((pk) => ({ model: 'Choice', pk }));
    },
  });
  // Invalidator-only, as drf-cached-instances' Group: never stored, but a change to a group
  // refreshes its members.
  const group = defineModel('Group', {
    load: (pks: readonly Pk[], ctx) =>
      track('Group', ctx.version, pks, () => pks.flatMap((pk) => groups.get(pk as number) ?? [])),
    serialize: null,
    invalidate: (entity: { id: number } | null) =>
      entity
        ? [...users.values()].filter((u) => u.groupId === entity.id).map((u) => ({ model: 'User', pk: u.id }))
        : [],
  });

  const strategy = defineStrategy({
    versions: ['v1', 'v2'],
    defaultVersion: 'v1',
    models: [question, choice, user, group],
  });
  return { db, strategy };
}

/** Seeds: question 1 (choices 1, 2), question 2 (choice 3), users 1–3, votes 1←1, 1←2, 3←3. */
export function seedPoll(db: ReturnType<typeof createPollDb>['db']) {
  db.questions.set(1, { id: 1, text: 'Best color?', pubDate: new Date('2024-05-01T10:00:00.123Z') });
  db.questions.set(2, { id: 2, text: 'Best pet?', pubDate: new Date('2024-05-02T08:30:00.000Z') });
  db.choices.set(1, { id: 1, text: 'Red', questionId: 1 });
  db.choices.set(2, { id: 2, text: 'Blue', questionId: 1 });
  db.choices.set(3, { id: 3, text: 'Cat', questionId: 2 });
  db.groups.set(1, { id: 1, name: 'staff' });
  for (const id of [1, 2, 3])
    db.users.set(id, { id, username: `user${id}`, active: true, groupId: id === 3 ? null : 1 });
  db.vote(1, 1);
  db.vote(1, 2);
  db.vote(3, 3);
}
