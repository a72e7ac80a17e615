import type { EntityManager } from '@mikro-orm/core';
import { Choice, type IChoice, type IQuestion, type IUser, Question, User } from './entities.js';

/** Options of {@link seedPoll}. */
export interface SeedPollOptions {
  /** Number of questions. */
  questions: number;
  /** Choices per question. */
  choicesPerQuestion: number;
  /** Number of users. */
  users: number;
  /** Distinct voters per choice (at most `users`). */
  votesPerChoice: number;
  /** PRNG seed: the same options and seed always give the same data. Default `1`. */
  seed?: number;
}

/** The pks of what {@link seedPoll} created, in creation order. */
export interface SeededPoll {
  readonly questionIds: readonly number[];
  readonly choiceIds: readonly number[];
  readonly userIds: readonly number[];
}

/** mulberry32: a tiny, fast, seeded PRNG (uniform in [0, 1)). Deterministic across runs and machines. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EPOCH = Date.UTC(2024, 0, 1);
const HOUR = 3_600_000;

/**
 * Fills a poll database with deterministic sample data (drf-cached-instances' sample app):
 * users, questions published an hour apart, choices, and `votesPerChoice` distinct voters per
 * choice picked by a seeded PRNG. One flush, batched by MikroORM. Used by the tests, the example
 * server and the benchmark.
 *
 * Seed before registering a cache subscriber, or expect the flush to refresh every new instance.
 */
export async function seedPoll(em: EntityManager, options: SeedPollOptions): Promise<SeededPoll> {
  const { questions, choicesPerQuestion, users, votesPerChoice } = options;
  for (const [name, value] of Object.entries({ questions, choicesPerQuestion, users, votesPerChoice })) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`seedPoll: ${name} must be a non-negative integer, got ${String(value)}`);
    }
  }
  if (votesPerChoice > users) {
    throw new TypeError(`seedPoll: votesPerChoice (${votesPerChoice}) cannot exceed users (${users})`);
  }
  const random = createRandom(options.seed ?? 1);
  const userList: IUser[] = [];
  for (let i = 0; i < users; i += 1) {
    userList.push(
      em.create(User, {
        username: `user${String(i + 1).padStart(4, '0')}`,
        dateJoined: new Date(EPOCH + i * 60_000),
        active: i % 10 !== 9,
      }),
    );
  }
  const questionList: IQuestion[] = [];
  const choiceList: IChoice[] = [];
  for (let q = 0; q < questions; q += 1) {
    const question = em.create(Question, {
      questionText: `Question ${q + 1}: what is your favourite number?`,
      pubDate: new Date(EPOCH + q * HOUR),
    });
    questionList.push(question);
    for (let c = 0; c < choicesPerQuestion; c += 1) {
      const choice = em.create(Choice, { choiceText: `Answer ${c + 1} to question ${q + 1}`, question });
      // A partial Fisher–Yates shuffle picks distinct voters.
      const pool = userList.slice();
      for (let v = 0; v < votesPerChoice; v += 1) {
        const pick = v + Math.floor(random() * (pool.length - v));
        [pool[v], pool[pick]] = [pool[pick]!, pool[v]!];
        choice.voters.add(pool[v]!);
      }
      choiceList.push(choice);
    }
  }
  await em.flush();
  return {
    questionIds: questionList.map((q) => q.id),
    choiceIds: choiceList.map((c) => c.id),
    userIds: userList.map((u) => u.id),
  };
}
