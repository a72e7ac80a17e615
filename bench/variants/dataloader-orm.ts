/**
 * The common alternative: per-request DataLoaders over MikroORM, no shared cache. The root list is
 * one query for the page's question entities; each nested level is one DataLoader batch and one
 * query (choices by question; choices with their voters populated). Entities are built by the ORM
 * on every request, in a fresh fork of the entity manager. Writes need no invalidation.
 */
import type { EntityManager } from '@mikro-orm/core';
import DataLoader from 'dataloader';
import { Choice, type IChoice, type IQuestion, type IUser, Question } from '../../examples/poll/entities.js';
import { DateTime } from '../../examples/poll/scalars.js';
import { connectionOf, execute, Q1, Q2, startApolloPair } from '../lib/apollo.js';
import type { Contestant } from '../lib/contestant.js';
import type { BenchDatabase } from '../lib/databases.js';
import { sendVote, voteMutations } from './writes.js';

interface DataLoaderContext {
  readonly em: EntityManager;
  readonly now: Date;
  readonly questionById: DataLoader<number, IQuestion | null>;
  readonly choicesByQuestion: DataLoader<number, IChoice[]>;
  readonly votersByChoice: DataLoader<number, IUser[]>;
}

function createContext(em: EntityManager): DataLoaderContext {
  const now = new Date();
  return {
    em,
    now,
    questionById: new DataLoader(async (ids) => {
      const rows = await em.find(Question, { id: { $in: [...ids] }, pubDate: { $lte: now } });
      const byId = new Map(rows.map((q) => [q.id, q]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    choicesByQuestion: new DataLoader(async (questionIds) => {
      const choices = await em.find(
        Choice,
        { question: { $in: [...questionIds] } },
        { orderBy: { id: 'asc' } },
      );
      const byQuestion = new Map<number, IChoice[]>(questionIds.map((id) => [id, []]));
      for (const choice of choices) byQuestion.get(choice.question.id)?.push(choice);
      return questionIds.map((id) => byQuestion.get(id)!);
    }),
    votersByChoice: new DataLoader(async (choiceIds) => {
      const choices = await em.find(Choice, { id: { $in: [...choiceIds] } }, { populate: ['voters'] });
      const byChoice = new Map<number, IUser[]>();
      for (const choice of choices) {
        // The API's read rule: inactive users are hidden.
        const voters = choice.voters.getItems().filter((user) => user.active);
        byChoice.set(
          choice.id,
          voters.sort((a, b) => a.id - b.id),
        );
      }
      return choiceIds.map((id) => byChoice.get(id) ?? []);
    }),
  };
}

/** Per-request DataLoaders over MikroORM on its own copy of the data (see the file comment). */
export async function createDataLoaderOrm(db: BenchDatabase): Promise<Contestant> {
  const servers = await startApolloPair<DataLoaderContext>({
    DateTime,
    Query: {
      async questions(_parent: unknown, args: { first?: number | null }, context: DataLoaderContext) {
        const first = args.first ?? 20;
        const rows = await context.em.find(
          Question,
          { pubDate: { $lte: context.now } },
          { orderBy: [{ pubDate: 'desc' }, { id: 'desc' }], limit: first + 1 },
        );
        const page = rows.slice(0, first);
        return connectionOf(
          page,
          page.map((q) => [q.pubDate.toISOString(), q.id]),
          rows.length > first,
        );
      },
      question: (_parent: unknown, args: { id: string }, context: DataLoaderContext) =>
        context.questionById.load(Number(args.id)),
    },
    Mutation: voteMutations<DataLoaderContext>(),
    Question: {
      choices: (question: IQuestion, _args: unknown, context: DataLoaderContext) =>
        context.choicesByQuestion.load(question.id),
    },
    Choice: {
      question: (choice: IChoice) => choice.question,
      voters: async (choice: IChoice, args: { first?: number | null }, context: DataLoaderContext) => {
        const voters = await context.votersByChoice.load(choice.id);
        return args.first === undefined || args.first === null ? voters : voters.slice(0, args.first);
      },
    },
  });
  const { orm } = db;
  return {
    id: `dataloader-${db.kind}`,
    label: `DataLoader per request + MikroORM (${db.kind === 'postgres' ? 'Postgres' : 'SQLite'})`,
    database: db.kind,
    store: 'none',
    notes: 'the common alternative: no shared cache, ORM entities built on every request',
    sql: db.sql,
    db,
    caches: false,
    request: (query, variables, cacheControl) =>
      execute(
        servers[cacheControl ? 'on' : 'off'],
        query === 'q1' ? Q1 : Q2,
        variables,
        createContext(orm.em.fork()),
      ),
    vote: (choiceId, userId, voted) =>
      sendVote(servers.off, createContext(orm.em.fork()), choiceId, userId, voted),
    async close() {
      await servers.on.stop();
      await servers.off.stop();
      await db.close();
    },
  };
}
