/**
 * A few thousand poll rows in a private database, written with multi-row inserts (an ORM flush
 * of a graph this size is slow and recurses deeply): the benchmark's generator at a small scale,
 * so the data is the one the example app would make.
 */
import type { MikroORM } from '@mikro-orm/core';
import { generatePoll, type PollData } from '../../bench/lib/data.js';
import {
  Choice,
  type IChoice,
  type IQuestion,
  type IUser,
  Question,
  User,
} from '../../examples/poll/entities.js';

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Writes `generatePoll(scale)` (scale 1: 1,000 users, 2,000 questions, 8,000 choices) into the
 * poll schema of `orm` (Postgres), which must be empty, and moves the sequences past the ids.
 */
export async function seedRows(orm: MikroORM, scale: number): Promise<PollData> {
  const data = generatePoll(scale);
  const em = orm.em.fork();
  for (const part of chunks(data.users, 1000))
    await em.insertMany<IUser>(
      User,
      part.map((u) => ({ ...u })),
    );
  for (const part of chunks(data.questions, 1000))
    await em.insertMany<IQuestion>(
      Question,
      part.map((q) => ({ ...q })),
    );
  for (const part of chunks(data.choices, 1000)) {
    await em.insertMany<IChoice>(
      Choice,
      part.map((c) => ({ id: c.id, choiceText: c.choiceText, question: c.questionId })),
    );
  }
  const connection = em.getConnection();
  for (const part of chunks(data.votes, 5000)) {
    await connection.execute(
      `insert into choice_voters (choice_id, user_id) values ${part.map(() => '(?, ?)').join(', ')}`,
      part.flat(),
    );
  }
  for (const table of ['user', 'question', 'choice']) {
    await connection.execute(
      `select setval(pg_get_serial_sequence('"${table}"', 'id'), (select max(id) from "${table}"))`,
    );
  }
  return data;
}
