/**
 * The floor: the same schema and queries resolved from plain in-memory objects that already point
 * at each other (question.choices, choice.voters), built once from the generated data. No cache,
 * no database, no DataLoader: what graphql-js and Apollo cost by themselves for these responses.
 * Its answers are the reference every other contestant must match byte for byte.
 */
import { DateTime } from '../../examples/poll/scalars.js';
import { connectionOf, execute, Q1, Q2, startApolloPair } from '../lib/apollo.js';
import type { Contestant } from '../lib/contestant.js';
import type { PollModel } from '../lib/data.js';

interface PlainUser {
  readonly id: number;
  readonly username: string;
  readonly dateJoined: Date;
}
interface PlainChoice {
  readonly id: number;
  readonly choiceText: string;
  readonly question: PlainQuestion;
  /** Active voters only (the API's read rule), ascending by id. */
  readonly voters: readonly PlainUser[];
}
interface PlainQuestion {
  readonly id: number;
  readonly questionText: string;
  readonly pubDate: Date;
  readonly choices: PlainChoice[];
}
interface FloorContext {
  readonly now: Date;
}

/** Links the model's rows into plain objects, read rules applied. */
function linkPlainPoll(model: PollModel): { newestFirst: PlainQuestion[]; byId: Map<number, PlainQuestion> } {
  const byId = new Map<number, PlainQuestion>();
  for (const q of model.data.questions) {
    byId.set(q.id, { id: q.id, questionText: q.questionText, pubDate: q.pubDate, choices: [] });
  }
  const users = new Map<number, PlainUser>();
  for (const u of model.data.users) {
    if (u.active) users.set(u.id, { id: u.id, username: u.username, dateJoined: u.dateJoined });
  }
  for (const choice of model.data.choices) {
    const question = byId.get(choice.questionId)!;
    const voters = (model.voterIds.get(choice.id) ?? [])
      .map((id) => users.get(id))
      .filter((u): u is PlainUser => u !== undefined);
    question.choices.push({ id: choice.id, choiceText: choice.choiceText, question, voters });
  }
  return { newestFirst: model.newestFirst.map((q) => byId.get(q.id)!), byId };
}

const published = (q: PlainQuestion, context: FloorContext) => q.pubDate.getTime() <= context.now.getTime();

/** The floor contestant (see the file comment). */
export async function createFloor(model: PollModel): Promise<Contestant> {
  const { newestFirst, byId } = linkPlainPoll(model);
  const servers = await startApolloPair<FloorContext>({
    DateTime,
    Query: {
      questions(_parent: unknown, args: { first?: number | null }, context: FloorContext) {
        const first = args.first ?? 20;
        const rows: PlainQuestion[] = [];
        for (const question of newestFirst) {
          if (!published(question, context)) continue;
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
      question(_parent: unknown, args: { id: string }, context: FloorContext) {
        const question = byId.get(Number(args.id));
        return question && published(question, context) ? question : null;
      },
    },
    Choice: {
      voters: (choice: PlainChoice, args: { first?: number | null }) =>
        args.first === undefined || args.first === null ? choice.voters : choice.voters.slice(0, args.first),
    },
  });
  return {
    id: 'floor',
    label: 'floor: plain in-memory objects',
    database: 'none',
    store: 'none',
    notes:
      'linked plain objects built once; default resolvers below the root; no cache, no DB, no DataLoader',
    caches: false,
    request: (query, variables, cacheControl) =>
      execute(servers[cacheControl ? 'on' : 'off'], query === 'q1' ? Q1 : Q2, variables, { now: new Date() }),
    async close() {
      await servers.on.stop();
      await servers.off.stop();
    },
  };
}
