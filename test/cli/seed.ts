/**
 * A few thousand poll rows in a private database, written with multi-row inserts (an ORM flush
 * of a graph this size is slow and recurses deeply): the benchmark's generator at a small scale,
 * so the data is the one the example app would make.
 */
import type { MikroORM } from '@mikro-orm/core';
import { generatePoll, type PollData } from '../../bench/lib/data.js';
import { writePollData } from '../../bench/lib/databases.js';

/**
 * Writes `generatePoll(scale)` (scale 1: 1,000 users, 2,000 questions, 8,000 choices) into the
 * poll schema of `orm` (Postgres), which must be empty, and moves the sequences past the ids.
 */
export async function seedRows(orm: MikroORM, scale: number): Promise<PollData> {
  const data = generatePoll(scale);
  await writePollData(orm, 'postgres', data);
  return data;
}
