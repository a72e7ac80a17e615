/**
 * A DataLoader over raw SQL rows on Postgres: the hand-tuned alternative to an ORM. knex builds
 * the statements, pg returns plain rows, nothing is hydrated; one query per level per request,
 * exactly like the DataLoader + MikroORM contestant, and no shared cache. Writes go through the
 * example app's MikroORM `setVote` and need no invalidation.
 */
import DataLoader from 'dataloader';
import { DateTime } from '../../examples/poll/scalars.js';
import { connectionOf, execute, Q1, Q2, startApolloPair } from '../lib/apollo.js';
import type { Contestant } from '../lib/contestant.js';
import type { BenchDatabase, SqlCounter } from '../lib/databases.js';
import { sendVote, voteMutations } from './writes.js';

interface QuestionRow {
  readonly id: number;
  readonly question_text: string;
  readonly pub_date: Date;
}

/**
 * MikroORM registers pg type parsers that keep timestamps as strings (it converts them itself), and
 * this knex shares its pool: parse the one date column here, as an app on this stack would.
 */
const withDate = (row: { id: number; question_text: string; pub_date: string | Date }): QuestionRow => ({
  ...row,
  pub_date: new Date(row.pub_date),
});
interface ChoiceRow {
  readonly id: number;
  readonly choice_text: string;
  readonly question_id: number;
}
interface VoterRow {
  readonly choice_id: number;
  readonly id: number;
  readonly username: string;
}

/** Per-request DataLoaders over raw rows (see the file comment). */
export async function createRawRows(db: BenchDatabase): Promise<Contestant> {
  const knex = db.knex();
  // knex emits 'query' for every statement it sends: the reads of this contestant (MikroORM's own
  // statements, the writes, go to the database's logger counter instead).
  const sql: SqlCounter = { statements: 0 };
  knex.on('query', () => {
    sql.statements += 1;
  });
  const createContext = () => {
    const now = new Date();
    return {
      // Only the writes use the ORM: a fork only when a mutation asks for one.
      get em() {
        return db.orm.em.fork();
      },
      now,
      questionById: new DataLoader<number, QuestionRow | null>(async (ids) => {
        const rows = await knex('question')
          .select('id', 'question_text', 'pub_date')
          .whereIn('id', [...ids])
          .andWhere('pub_date', '<=', now);
        const byId = new Map(rows.map((row) => [row.id as number, withDate(row)]));
        return ids.map((id) => byId.get(id) ?? null);
      }),
      choicesByQuestion: new DataLoader<number, ChoiceRow[]>(async (ids) => {
        const rows: ChoiceRow[] = await knex('choice')
          .select('id', 'choice_text', 'question_id')
          .whereIn('question_id', [...ids])
          .orderBy('id');
        const byQuestion = new Map<number, ChoiceRow[]>(ids.map((id) => [id, []]));
        for (const row of rows) byQuestion.get(row.question_id)?.push(row);
        return ids.map((id) => byQuestion.get(id)!);
      }),
      // Active voters only (the API's read rule), ascending by id.
      votersByChoice: new DataLoader<number, VoterRow[]>(async (ids) => {
        const rows: VoterRow[] = await knex('choice_voters as cv')
          .join('user as u', 'u.id', 'cv.user_id')
          .select('cv.choice_id', 'u.id', 'u.username')
          .whereIn('cv.choice_id', [...ids])
          .andWhere('u.active', true)
          .orderBy([{ column: 'cv.choice_id' }, { column: 'u.id' }]);
        const byChoice = new Map<number, VoterRow[]>(ids.map((id) => [id, []]));
        for (const row of rows) byChoice.get(row.choice_id)?.push(row);
        return ids.map((id) => byChoice.get(id)!);
      }),
    };
  };
  type RawContext = ReturnType<typeof createContext>;
  const servers = await startApolloPair<RawContext>({
    DateTime,
    Query: {
      async questions(_parent: unknown, args: { first?: number | null }, context: RawContext) {
        const first = args.first ?? 20;
        const rows = (
          await knex('question')
            .select('id', 'question_text', 'pub_date')
            .where('pub_date', '<=', context.now)
            .orderBy([
              { column: 'pub_date', order: 'desc' },
              { column: 'id', order: 'desc' },
            ])
            .limit(first + 1)
        ).map(withDate);
        const page = rows.slice(0, first);
        return connectionOf(
          page,
          page.map((q) => [q.pub_date.toISOString(), q.id]),
          rows.length > first,
        );
      },
      question: (_parent: unknown, args: { id: string }, context: RawContext) =>
        context.questionById.load(Number(args.id)),
    },
    Mutation: voteMutations<RawContext>(),
    Question: {
      questionText: (row: QuestionRow) => row.question_text,
      pubDate: (row: QuestionRow) => row.pub_date,
      choices: (row: QuestionRow, _args: unknown, context: RawContext) =>
        context.choicesByQuestion.load(row.id),
    },
    Choice: {
      choiceText: (row: ChoiceRow) => row.choice_text,
      voters: async (row: ChoiceRow, args: { first?: number | null }, context: RawContext) => {
        const voters = await context.votersByChoice.load(row.id);
        return args.first === undefined || args.first === null ? voters : voters.slice(0, args.first);
      },
    },
  });
  return {
    id: `raw-rows-${db.kind}`,
    label: `DataLoader per request over raw SQL rows (knex + pg, ${db.kind === 'postgres' ? 'Postgres' : 'SQLite'})`,
    database: db.kind,
    store: 'none',
    notes: 'no ORM on reads: knex statements, plain pg rows; one query per level; no shared cache',
    sql,
    db,
    caches: false,
    request: (query, variables, cacheControl) =>
      execute(servers[cacheControl ? 'on' : 'off'], query === 'q1' ? Q1 : Q2, variables, createContext()),
    vote: (choiceId, userId, voted) => sendVote(servers.off, createContext(), choiceId, userId, voted),
    async close() {
      await servers.on.stop();
      await servers.off.stop();
      await db.close();
    },
  };
}
