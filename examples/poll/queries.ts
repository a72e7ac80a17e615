import type { SqlEntityManager } from '@mikro-orm/better-sqlite';
import { type EntityManager, type FilterQuery, raw } from '@mikro-orm/core';
import { checkTextArgument, type ListOptions, type PageArgs, type PkRow } from '../../src/apollo/index.js';
import type { JsonValue } from '../../src/index.js';
import type { PollContext } from './context.js';
import { type IQuestion, Question } from './entities.js';

/** The arguments of `Query.questions`, in both versions. */
export interface QuestionListArgs extends PageArgs {
  readonly search?: string | null;
  readonly order?: 'NEWEST' | 'OLDEST' | null;
}

/** A question list cursor: the last row's `[pubDate ISO string, id]`. */
export type QuestionCursor = [string, number];

function isQuestionCursor(value: JsonValue): value is QuestionCursor {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    typeof value[0] === 'string' &&
    !Number.isNaN(Date.parse(value[0])) &&
    typeof value[1] === 'number' &&
    Number.isSafeInteger(value[1])
  );
}

/** Escapes LIKE wildcards so a search for `50%` matches the text `50%`. */
function likePattern(search: string): string {
  return `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The `search` argument, checked (a NUL character would fail the query on Postgres), or null. */
export function searchOf(args: QuestionListArgs): string | null {
  if (args.search === undefined || args.search === null) return null;
  return checkTextArgument(args.search, { argument: 'search', maxLength: 200, trim: false }) || null;
}

/** The filters shared by a page query and the count: visibility and search, in SQL. */
function questionFilters(options: {
  search?: string | null;
  publishedBy: Date | null;
}): FilterQuery<IQuestion>[] {
  const where: FilterQuery<IQuestion>[] = [];
  if (options.publishedBy) where.push({ pubDate: { $lte: options.publishedBy } });
  if (options.search) {
    // lower() on both sides: LIKE is case-insensitive on SQLite but not on Postgres.
    where.push({ [raw("lower(question_text) like ? escape '\\'", [likePattern(options.search)])]: [] });
  }
  return where;
}

/**
 * The pks of one page of questions: ONE query selecting only `id` and `pub_date`, with the
 * visibility rule (published only, unless staff), the search, the order and keyset pagination
 * after the cursor's `(pubDate, id)` all in SQL. Nothing else of a question is read here: the
 * records come from the cache.
 */
export async function questionPage(
  em: EntityManager,
  options: {
    limit: number;
    after: QuestionCursor | null;
    search?: string | null;
    order?: 'NEWEST' | 'OLDEST' | null;
    publishedBy: Date | null;
  },
): Promise<PkRow<QuestionCursor>[]> {
  const dir = options.order === 'OLDEST' ? 'asc' : 'desc';
  const beyond = dir === 'asc' ? '$gt' : '$lt';
  const where = questionFilters(options);
  if (options.after) {
    const [iso, id] = options.after;
    const pubDate = new Date(iso);
    where.push({ $or: [{ pubDate: { [beyond]: pubDate } }, { pubDate, id: { [beyond]: id } }] });
  }
  // Only the pk and the sort key are selected, and no entity is built (`execute('all', true)`
  // maps columns to properties and converts types, nothing more): the records come from the
  // cache. Building 50 partial entities with em.find cost 2–4 ms of a 20 ms warm request.
  const rows: { id: number; pubDate: Date }[] = await (em as SqlEntityManager)
    .createQueryBuilder(Question)
    .select(['id', 'pubDate'])
    .where(where.length > 0 ? { $and: where } : {})
    .orderBy([{ pubDate: dir }, { id: dir }])
    .limit(options.limit)
    .execute('all', true);
  return rows.map((row) => ({ pk: row.id, cursor: [row.pubDate.toISOString(), row.id] }));
}

/**
 * How many questions the list holds (every page): one `COUNT` with the same filters as
 * {@link questionPage}, for `QuestionConnection.totalCount`.
 */
export async function questionCount(
  em: EntityManager,
  options: { search?: string | null; publishedBy: Date | null },
): Promise<number> {
  const where = questionFilters(options);
  return em.count(Question, where.length > 0 ? { $and: where } : {});
}

/**
 * When the public list stops being right without any write: the next scheduled publication
 * (the earliest `pubDate` after `now`), or `null` when none is scheduled.
 */
export async function nextPublication(em: EntityManager, now: Date): Promise<Date | null> {
  const [row]: { next: Date | string | number | null }[] = await (em as SqlEntityManager)
    .createQueryBuilder(Question)
    .select(raw('min(pub_date) as next'))
    .where({ pubDate: { $gt: now } })
    .execute('all', false);
  return row?.next === null || row?.next === undefined ? null : new Date(row.next);
}

/** `Query.questions` for both versions: the list options of `createCachedResolvers().list`. */
export const questionListOptions: ListOptions<QuestionListArgs, PollContext, QuestionCursor> = {
  defaultFirst: 20,
  maxFirst: 100,
  isCursor: isQuestionCursor,
  pks: ({ args, context, limit, after }) =>
    questionPage(context.em, {
      limit,
      after,
      search: searchOf(args),
      order: args.order,
      // The same rule as canRead, in SQL, so that pages stay full; canRead stays the safety net.
      publishedBy: context.viewer.staff ? null : context.now,
    }),
  // Asked only when a query selects totalCount; it counts what the public may see, like the pages.
  count: ({ args, context }) =>
    questionCount(context.em, {
      search: searchOf(args),
      publishedBy: context.viewer.staff ? null : context.now,
    }),
  // Pages (and counts) are cached: a warm list runs no SQL. Question declares the fields the
  // query filters and sorts on (listFields), so creates, deletes and changes to them invalidate
  // every cached page. The key is everything else the query depends on: the search, the order
  // and whether the viewer is staff; the public list also changes with time, when a scheduled
  // question is published, so it is cached until then.
  cache: {
    key: ({ args, context }) =>
      JSON.stringify([searchOf(args) ?? null, args.order ?? 'NEWEST', context.viewer.staff]),
    validUntil: ({ context }) => (context.viewer.staff ? null : nextPublication(context.em, context.now)),
  },
};
