/**
 * The common alternative: per-request DataLoaders over MikroORM, no shared cache. The root list is
 * one query for the page's question entities; each nested level is one DataLoader batch, one
 * query (`choices` by question, `voters` populated on the choices). Entities are built by the ORM
 * on every request, in a fresh fork of the entity manager.
 */
import type { EntityManager } from '@mikro-orm/core';
import DataLoader from 'dataloader';
import { Choice, type IChoice, type IQuestion, type IUser, Question } from '../../examples/poll/entities.js';
import { DateTime } from '../../examples/poll/scalars.js';
import { connectionOf, startApollo } from '../lib/graphql.js';
import type { BenchDatabase } from '../lib/services.js';
import { type BenchVariables, executeBenchQuery, type Variant } from '../lib/variant.js';

interface DataLoaderContext {
  readonly em: EntityManager;
  readonly now: Date;
  readonly choicesByQuestion: DataLoader<number, IChoice[]>;
  readonly votersByChoice: DataLoader<number, IUser[]>;
}

function createContext(em: EntityManager): DataLoaderContext {
  return {
    em,
    now: new Date(),
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

/** Per-request DataLoaders over MikroORM on `db` (see the file comment). */
export async function createDataLoaderVariant(
  db: BenchDatabase,
  variables: BenchVariables,
): Promise<Variant> {
  const server = await startApollo<DataLoaderContext>({
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
    },
    Question: {
      choices: (question: IQuestion, _args: unknown, context: DataLoaderContext) =>
        context.choicesByQuestion.load(question.id),
    },
    Choice: {
      question: (choice: IChoice) => choice.question,
      voters: (choice: IChoice, _args: unknown, context: DataLoaderContext) =>
        context.votersByChoice.load(choice.id),
    },
  });
  const { orm } = db;
  return {
    id: `dataloader-${db.kind}`,
    label: `DataLoader per request + MikroORM (${db.kind})`,
    transport: 'executeOperation',
    database: db.kind,
    store: 'none',
    baseline: `dataloader-${db.kind}`,
    phase: 1,
    notes: 'the common alternative: no shared cache, ORM entities built on every request',
    request: () => executeBenchQuery(server, variables, createContext(orm.em.fork())),
    close: () => server.stop(),
  };
}
