/**
 * The floor: the same schema and query resolved from plain in-memory objects that already point at
 * each other (question.choices, choice.voters). No cache, no database, no DataLoader: what
 * graphql-js and Apollo cost by themselves for this response.
 */
import { Choice, Question, User } from '../../examples/poll/entities.js';
import { DateTime } from '../../examples/poll/scalars.js';
import { connectionOf, startApollo } from '../lib/graphql.js';
import type { BenchDatabase } from '../lib/services.js';
import { type BenchVariables, executeBenchQuery, type Variant } from '../lib/variant.js';

interface PlainUser {
  readonly id: number;
  readonly username: string;
  readonly dateJoined: Date;
}
interface PlainChoice {
  readonly id: number;
  readonly choiceText: string;
  question: PlainQuestion | null;
  readonly voters: PlainUser[];
}
interface PlainQuestion {
  readonly id: number;
  readonly questionText: string;
  readonly pubDate: Date;
  readonly choices: PlainChoice[];
}

/** Reads the whole poll once into linked plain objects, with the read rules applied (active voters only). */
async function readPlainPoll(db: BenchDatabase): Promise<PlainQuestion[]> {
  const em = db.orm.em.fork();
  const [questions, choices, users] = await Promise.all([
    em.find(Question, {}),
    em.find(Choice, {}, { populate: ['voters'] }),
    em.find(User, {}),
  ]);
  const userById = new Map(
    users
      .filter((u) => u.active)
      .map((u) => [u.id, { id: u.id, username: u.username, dateJoined: u.dateJoined }] as const),
  );
  const plainQuestions = new Map<number, PlainQuestion>(
    questions.map((q) => [q.id, { id: q.id, questionText: q.questionText, pubDate: q.pubDate, choices: [] }]),
  );
  for (const choice of [...choices].sort((a, b) => a.id - b.id)) {
    const voters = choice.voters
      .getItems()
      .map((u) => userById.get(u.id))
      .filter((u): u is PlainUser => u !== undefined)
      .sort((a, b) => a.id - b.id);
    const question = plainQuestions.get(choice.question.id) ?? null;
    const plain: PlainChoice = { id: choice.id, choiceText: choice.choiceText, question, voters };
    question?.choices.push(plain);
  }
  return [...plainQuestions.values()].sort(
    (a, b) => b.pubDate.getTime() - a.pubDate.getTime() || b.id - a.id,
  );
}

/** The floor variant (see the file comment). */
export async function createFloorVariant(db: BenchDatabase, variables: BenchVariables): Promise<Variant> {
  const newestFirst = await readPlainPoll(db);
  interface FloorContext {
    now: Date;
  }
  const server = await startApollo<FloorContext>({
    DateTime,
    Query: {
      questions(_parent: unknown, args: { first?: number | null }, context: FloorContext) {
        const first = args.first ?? 20;
        const rows: PlainQuestion[] = [];
        for (const question of newestFirst) {
          if (question.pubDate.getTime() > context.now.getTime()) continue;
          rows.push(question);
          if (rows.length > first) break;
        }
        const page = rows.slice(0, first);
        return connectionOf(
          page,
          page.map((q) => [q.pubDate.toISOString(), q.id]),
          rows.length > first,
        );
      },
    },
  });
  return {
    id: 'floor',
    label: 'floor: plain in-memory objects',
    transport: 'executeOperation',
    database: 'none',
    store: 'none',
    baseline: 'dataloader-sqlite',
    phase: 1,
    notes: 'linked plain objects, default resolvers below the root; no cache, no DB, no DataLoader',
    request: () => executeBenchQuery(server, variables, { now: new Date() }),
    close: () => server.stop(),
  };
}
