/**
 * Naive resolvers: no DataLoader, no cache, one ORM query per resolved relation — the N+1 pattern
 * a first GraphQL server often starts with. Q1 costs 1 + 50 + 200 statements. It is slow, so its
 * warm-up is shorter than the others' (the report says so) and, its chunks being time-boxed like
 * everyone's, it completes far fewer timed requests.
 */
import type { EntityManager } from '@mikro-orm/core';
import { Choice, type IChoice, type IQuestion, Question, User } from '../../examples/poll/entities.js';
import { DateTime } from '../../examples/poll/scalars.js';
import { connectionOf, execute, Q1, Q2, startApolloPair } from '../lib/apollo.js';
import type { Contestant } from '../lib/contestant.js';
import type { BenchDatabase } from '../lib/databases.js';
import { sendVote, voteMutations } from './writes.js';

interface NaiveContext {
  readonly em: EntityManager;
  readonly now: Date;
}

/** The naive contestant on its own copy of the data (see the file comment). */
export async function createNaive(db: BenchDatabase): Promise<Contestant> {
  const servers = await startApolloPair<NaiveContext>({
    DateTime,
    Query: {
      async questions(_parent: unknown, args: { first?: number | null }, context: NaiveContext) {
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
      question: (_parent: unknown, args: { id: string }, context: NaiveContext) =>
        context.em.findOne(Question, { id: Number(args.id), pubDate: { $lte: context.now } }),
    },
    Mutation: voteMutations<NaiveContext>(),
    Question: {
      choices: (question: IQuestion, _args: unknown, context: NaiveContext) =>
        context.em.find(Choice, { question: question.id }, { orderBy: { id: 'asc' } }),
    },
    Choice: {
      question: (choice: IChoice) => choice.question,
      voters: (choice: IChoice, args: { first?: number | null }, context: NaiveContext) =>
        context.em.find(
          User,
          { votes: choice.id, active: true },
          { orderBy: { id: 'asc' }, ...(typeof args.first === 'number' ? { limit: args.first } : {}) },
        ),
    },
  });
  const { orm } = db;
  const context = (): NaiveContext => ({ em: orm.em.fork(), now: new Date() });
  return {
    id: 'naive',
    label: `naive resolvers, a query per field (MikroORM, ${db.kind === 'postgres' ? 'Postgres' : 'SQLite'})`,
    database: db.kind,
    store: 'none',
    notes: 'no DataLoader: one statement per resolved relation (N+1); shorter warm-up',
    sql: db.sql,
    db,
    caches: false,
    slow: true,
    request: (query, variables, cacheControl) =>
      execute(servers[cacheControl ? 'on' : 'off'], query === 'q1' ? Q1 : Q2, variables, context()),
    vote: (choiceId, userId, voted) => sendVote(servers.off, context(), choiceId, userId, voted),
    async close() {
      await servers.on.stop();
      await servers.off.stop();
      await db.close();
    },
  };
}
