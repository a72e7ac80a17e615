/**
 * The benchmark's data, generated once in memory and then written to every database: the poll app
 * at `scale` × (1,000 users, 2,000 questions, 8,000 choices, 40,000 votes), every 10th user
 * inactive (hidden by the API's read rule). The same algorithm and PRNG as `seedPoll`
 * (examples/poll/seed.ts), so the data is the one the example app would make, but written with
 * bulk inserts (see databases.ts) instead of one ORM flush.
 */
import { createRandom } from '../../examples/poll/seed.js';

/** A user row. */
export interface UserRow {
  readonly id: number;
  readonly username: string;
  readonly dateJoined: Date;
  readonly active: boolean;
}
/** A question row. */
export interface QuestionRow {
  readonly id: number;
  readonly questionText: string;
  readonly pubDate: Date;
}
/** A choice row. */
export interface ChoiceRow {
  readonly id: number;
  readonly choiceText: string;
  readonly questionId: number;
}

/** The whole data set, ids assigned from 1 in creation order (as the ORM would). */
export interface PollData {
  readonly scale: number;
  readonly users: readonly UserRow[];
  readonly questions: readonly QuestionRow[];
  readonly choices: readonly ChoiceRow[];
  /** `[choiceId, userId]` pairs. */
  readonly votes: readonly (readonly [number, number])[];
}

/** Per unit of scale (scale 1 is the data set). */
export const PER_SCALE = { users: 1000, questions: 2000 } as const;
/** Choices per question and distinct voters per choice. */
export const CHOICES_PER_QUESTION = 4;
export const VOTES_PER_CHOICE = 5;

const EPOCH = Date.UTC(2024, 0, 1);
const HOUR = 3_600_000;

/**
 * Generates the data set. Votes are picked per choice by a partial Fisher–Yates shuffle of the
 * users, exactly as `seedPoll` does; the swaps are undone after each choice instead of copying
 * the user list, which gives the same picks in O(votes) instead of O(users) per choice.
 */
export function generatePoll(scale: number): PollData {
  const userCount = Math.round(PER_SCALE.users * scale);
  const questionCount = Math.round(PER_SCALE.questions * scale);
  if (userCount < VOTES_PER_CHOICE * 2 || questionCount < 50) {
    throw new RangeError(`bench: --scale=${scale} is too small (the Q1 page needs 50 questions)`);
  }
  const random = createRandom(1);
  const users: UserRow[] = [];
  for (let i = 0; i < userCount; i += 1) {
    users.push({
      id: i + 1,
      username: `user${String(i + 1).padStart(4, '0')}`,
      dateJoined: new Date(EPOCH + i * 60_000),
      active: i % 10 !== 9,
    });
  }
  const questions: QuestionRow[] = [];
  const choices: ChoiceRow[] = [];
  const votes: [number, number][] = [];
  const pool = users.map((u) => u.id);
  const swaps: number[] = [];
  for (let q = 0; q < questionCount; q += 1) {
    const questionId = q + 1;
    questions.push({
      id: questionId,
      questionText: `Question ${q + 1}: what is your favourite number?`,
      pubDate: new Date(EPOCH + q * HOUR),
    });
    for (let c = 0; c < CHOICES_PER_QUESTION; c += 1) {
      const choiceId = choices.length + 1;
      choices.push({ id: choiceId, choiceText: `Answer ${c + 1} to question ${q + 1}`, questionId });
      swaps.length = 0;
      for (let v = 0; v < VOTES_PER_CHOICE; v += 1) {
        const pick = v + Math.floor(random() * (pool.length - v));
        [pool[v], pool[pick]] = [pool[pick]!, pool[v]!];
        swaps.push(pick);
        votes.push([choiceId, pool[v]!]);
      }
      for (let v = VOTES_PER_CHOICE - 1; v >= 0; v -= 1) {
        const pick = swaps[v]!;
        [pool[v], pool[pick]] = [pool[pick]!, pool[v]!];
      }
    }
  }
  return { scale, users, questions, choices, votes };
}

/** A linked, read-optimised view of the data: what the floor serves and the freshness check compares with. */
export interface PollModel {
  readonly data: PollData;
  readonly userById: ReadonlyMap<number, UserRow>;
  readonly questionById: ReadonlyMap<number, QuestionRow>;
  /** Choices of each question, by id. */
  readonly choicesByQuestion: ReadonlyMap<number, readonly ChoiceRow[]>;
  /** Voter ids of each choice, ascending (active and inactive). */
  readonly voterIds: ReadonlyMap<number, readonly number[]>;
  /** Questions newest first (pubDate desc, id desc): the Q1 order. */
  readonly newestFirst: readonly QuestionRow[];
}

/** Builds the linked view. */
export function modelOf(data: PollData): PollModel {
  const choicesByQuestion = new Map<number, ChoiceRow[]>(data.questions.map((q) => [q.id, []]));
  for (const choice of data.choices) choicesByQuestion.get(choice.questionId)!.push(choice);
  const voterIds = new Map<number, number[]>(data.choices.map((c) => [c.id, []]));
  for (const [choiceId, userId] of data.votes) voterIds.get(choiceId)!.push(userId);
  for (const ids of voterIds.values()) ids.sort((a, b) => a - b);
  return {
    data,
    userById: new Map(data.users.map((u) => [u.id, u])),
    questionById: new Map(data.questions.map((q) => [q.id, q])),
    choicesByQuestion,
    voterIds,
    newestFirst: [...data.questions].sort((a, b) => b.pubDate.getTime() - a.pubDate.getTime() || b.id - a.id),
  };
}

/** The first `first` active voters of a voter-id list (ascending), as the API's `voters(first:)` reads them. */
export function firstActiveVoters(model: PollModel, ids: readonly number[], first: number): UserRow[] {
  const out: UserRow[] = [];
  for (const id of ids) {
    if (out.length >= first) break;
    const user = model.userById.get(id);
    if (user?.active) out.push(user);
  }
  return out;
}

/**
 * How many voter pks must be read to find the first `first` active voters: the shortest prefix of
 * the list that holds them (or the whole list). The "one key per record" count of a warm Q1 uses it.
 */
export function voterPrefixLength(model: PollModel, ids: readonly number[], first: number): number {
  let found = 0;
  for (let i = 0; i < ids.length; i += 1) {
    if (model.userById.get(ids[i]!)?.active) found += 1;
    if (found >= first) return i + 1;
  }
  return ids.length;
}
