import type { GraphQLResolveInfo } from 'graphql';
import type { JsonValue } from '../codecs/codec.js';
import { InvalidOptionError } from '../errors.js';
import { type ReadValue, readRecord, readRecords } from '../loaders/request-batcher.js';
import type { Pk } from '../strategy/pk.js';
import type { Connection, PageArgs, PkPageRequest, PkRow } from './connection.js';
import { badUserInput, toGraphQLError } from './errors.js';
import { createListResolver } from './list.js';

/** What the builders need from a context: the per-request `loaders` of {@link cachedContext}. */
export interface LoaderContext {
  readonly loaders: object;
}

/**
 * What a {@link CanRead} rule may read besides its own record: whether the request may read
 * another record. The read goes through the request's loaders (batched with every other read of
 * the tick, memoized for the request) and applies that model's own `canRead`, so rules chain
 * along relations: a choice is readable when its question is, a vote when its choice is.
 */
export interface ReadAccess {
  /**
   * Whether this request may read `model`'s record `pk`: it exists, is not hidden by the
   * strategy, and passes `canRead[model]`. `false` for a `null`/`undefined` pk. Synchronous when
   * the record is already memoized in the request and the rules on the way are synchronous.
   */
  canRead(model: string, pk: Pk | null | undefined): boolean | Promise<boolean>;
}

/**
 * One model's read rule: whether this request may see `record`. It may read related records
 * through `access` (see {@link ReadAccess}, {@link readableThrough}).
 */
export type CanReadRule<R, Context> = (
  record: R,
  context: Context,
  access: ReadAccess,
) => boolean | Promise<boolean>;

/**
 * Per-model read authorization: `canRead.Question(record, context, access)` says whether this
 * request may see this record. Records are shared by every user through the cache, so the check
 * runs per request, after the read, on every path (by id, lists, nested relations). `false` makes
 * the record read as missing (`null`, or left out of a list). A rule may depend on related
 * records: `canRead.Choice = readableThrough('Question', 'questionId')` hides the choices of a
 * hidden question everywhere.
 */
export type CanRead<Records extends object, Context> = {
  readonly [M in keyof Records & string]?: CanReadRule<Records[M], Context>;
};

/**
 * A {@link CanReadRule} that makes a record readable exactly when the record its `field` points
 * to (a to-one relation's pk) is readable: `Choice: readableThrough('Question', 'questionId')`.
 * The related read is batched: a list of 50 choices costs one read of their questions (none when
 * they are memoized already). Combine it with a rule of the record's own:
 *
 * @example
 * canRead: {
 *   Question: (q, ctx) => ctx.viewer.staff || q.pubDate <= ctx.now,
 *   Choice: readableThrough('Question', 'questionId'),
 *   Comment: (c, ctx, access) => !c.deleted && access.canRead('Choice', c.choiceId),
 * }
 */
export function readableThrough<F extends string>(
  model: string,
  field: F,
): CanReadRule<{ readonly [K in F]?: Pk | null }, unknown> {
  if (typeof model !== 'string' || model === '' || typeof field !== 'string' || field === '') {
    throw new InvalidOptionError(
      `readableThrough(model, field): expected a model name and a record field, got ${String(model)}, ${String(field)}`,
    );
  }
  return (record, _context, access) => access.canRead(model, record[field]);
}

/**
 * How many `canRead` rules may read through one another for one record. A chain longer than this
 * is almost certainly a cycle (Question → Choice → Question …).
 */
const MAX_READ_CHAIN = 8;

/** Options of {@link createCachedResolvers}. */
export interface CachedResolversOptions<Records extends object, Context> {
  /**
   * Per-model read checks applied on every path (root, list, nested), possibly through related
   * records ({@link readableThrough}). Default: none (every record the strategy serves is
   * readable).
   */
  canRead?: CanRead<Records, Context>;
}

/** Options of {@link CachedResolvers.list}. */
export interface ListOptions<Args extends PageArgs, Context, C extends JsonValue> {
  /**
   * The one cheap query of the list: the pks of one page, in order, with filters and ordering in
   * SQL. Return at most `limit` rows, each a pk (its cursor is the pk) or `{ pk, cursor }`.
   */
  pks(request: PkPageRequest<Args, Context, C>): Promise<readonly (Pk | PkRow<C>)[]>;
  /** Page size when `first` is absent. Default 20. */
  defaultFirst?: number;
  /** Largest `first` accepted; a larger one is a `BAD_USER_INPUT` error. Default 100. */
  maxFirst?: number;
  /**
   * Checks a decoded `after` cursor. Default: a pk (for lists ordered by pk). Required when rows
   * carry their own `cursor` values.
   */
  isCursor?: (value: JsonValue) => value is C;
  /**
   * Counts the whole list (every page) for the connection's `totalCount` field — drf's
   * `count()`, for page-number pagination. Apply the same filters as {@link pks}; records that
   * `canRead` hides later are still counted, so filter visibility in SQL too. It runs only when
   * the query selects `totalCount` (beside the pk query, not after it). Default: none, and
   * `totalCount` resolves to `null`.
   */
  count?(request: ListCountRequest<Args, Context>): Promise<number>;
  /**
   * Caches the list's answers (the pk query's rows, and the count) in the shared cache, so that a
   * warm list costs no SQL: opt-in, for lists read far more often than their model is written.
   * The model must declare `listFields` (the record fields the query filters or sorts on): every
   * create, delete or hide of an instance, and every change to one of those fields, invalidates
   * all cached lists of the model. Default: none, the pk query runs on every request.
   */
  cache?: ListCacheOptions<Args, Context>;
}

/** Options of {@link ListOptions.cache}. */
export interface ListCacheOptions<Args, Context> {
  /**
   * Tells this list apart from the model's other cached lists. Default: the GraphQL field's
   * coordinate, e.g. `Query.questions`.
   */
  name?: string;
  /**
   * Everything the pk query depends on besides `first` and `after` (which are added): filters,
   * order, and whatever of the viewer it reads (`staff` or not). Return `null` to skip the cache
   * for this request. Default: the arguments other than `first` and `after`, as JSON — right only
   * for a query that depends on nothing but its arguments.
   */
  key?(request: ListCountRequest<Args, Context>): string | null;
  /**
   * For a list that also changes with time (`published before now`): when an answer loaded now
   * stops being right, e.g. the next scheduled publication. Called on a miss only. Default: none.
   */
  validUntil?(
    request: ListCountRequest<Args, Context>,
  ): Date | number | null | undefined | Promise<Date | number | null | undefined>;
}

/** What a list's `count` query is asked: the whole list's size, with the same filters. */
export interface ListCountRequest<Args, Context> {
  /** The field's arguments (filters), as GraphQL coerced them; ignore `first` and `after`. */
  readonly args: Args;
  readonly context: Context;
}

/** Options of {@link CachedResolvers.related}. */
export interface RelatedOptions {
  /**
   * The name of a field argument that limits the list to its first N readable records
   * (`voters(first: 5)`), in pk-list order. Default: none, every related record.
   */
  firstArgument?: string;
  /** Largest accepted value of that argument; a larger one is a `BAD_USER_INPUT` error. Default 100. */
  maxFirst?: number;
}

/**
 * The field map of {@link CachedResolvers.type}: per GraphQL field, a record field name (an alias)
 * or a resolver whose parent is the record.
 */
export type FieldMap<R, Context> = {
  readonly [field: string]:
    | (keyof R & string)
    | ((parent: R, args: never, context: Context, info: GraphQLResolveInfo) => unknown);
};

/** The resolvers {@link CachedResolvers.type} returns: aliases become resolvers that read the record. */
export type TypeResolvers<R, F> = {
  [K in keyof F]: F[K] extends keyof R ? (parent: R) => R[F[K]] : F[K];
};

/**
 * A field resolver over a parent of type `P`. It returns the result itself when every record it
 * needs is already memoized in the request, and a promise otherwise.
 */
export type CachedFieldResolver<P, Context, Result> = (
  parent: P,
  args: unknown,
  context: Context,
) => Result | Promise<Result>;

/** The resolver builders of one schema version; see {@link createCachedResolvers}. */
export interface CachedResolvers<Records extends object, Context extends LoaderContext> {
  /** Reads one record (`null` if missing, hidden or not readable). A malformed pk is `BAD_USER_INPUT`. */
  load<M extends keyof Records & string>(context: Context, model: M, pk: Pk): Promise<Records[M] | null>;
  /** Reads records in `pks` order, leaving out missing, hidden and unreadable ones. */
  loadMany<M extends keyof Records & string>(
    context: Context,
    model: M,
    pks: readonly Pk[],
  ): Promise<Records[M][]>;
  /** Root field "fetch model M by the `arg` argument" (default `id`): `question(id: ID!): Question`. */
  byId<M extends keyof Records & string, A extends string = 'id'>(
    model: M,
    arg?: A,
  ): (parent: unknown, args: { readonly [K in A]: Pk }, context: Context) => Promise<Records[M] | null>;
  /**
   * "This field is the related-pk list `field` of model M": `choices` ← `record.choiceIds`. With
   * `firstArgument`, the field returns the first N readable records: it reads the first N pks
   * and, only when some are missing or unreadable, the next ones.
   */
  related<M extends keyof Records & string, K extends string>(
    model: M,
    field: K,
    options?: RelatedOptions,
  ): CachedFieldResolver<{ readonly [P in K]?: readonly Pk[] | null }, Context, Records[M][]>;
  /** "This field is the related pk `field` of model M": `question` ← `record.questionId`. */
  relatedOne<M extends keyof Records & string, K extends string>(
    model: M,
    field: K,
  ): CachedFieldResolver<{ readonly [P in K]?: Pk | null }, Context, Records[M] | null>;
  /**
   * Root list: one pk query for a page (filters, order, `first`/`after` in SQL), then ONE batched
   * read of the records — drf-cached-instances' CachedQueryset, with cursors. `first` is checked
   * against `maxFirst`; a malformed `after` is `BAD_USER_INPUT`. Unreadable records are left out
   * of the page (the page then holds fewer than `first`; filter in SQL too to keep pages full).
   * With `count`, the connection's `totalCount` is that query's answer, asked only when selected.
   */
  list<M extends keyof Records & string, Args extends PageArgs, C extends JsonValue = Pk>(
    model: M,
    options: ListOptions<Args, Context, C>,
  ): (
    parent: unknown,
    args: Args,
    context: Context,
    info?: GraphQLResolveInfo,
  ) => Promise<Connection<Records[M]>>;
  /**
   * "This GraphQL type is model M": the type's resolvers, typed on M's record. A string value is
   * an alias (`text: 'questionText'` serves the GraphQL field `text` from the record field
   * `questionText`); other values are resolvers, usually from {@link related} and
   * {@link relatedOne}. Fields not listed read the record field of the same name.
   */
  type<M extends keyof Records & string, F extends FieldMap<Records[M], Context>>(
    model: M,
    fields: F,
  ): TypeResolvers<Records[M], F>;
}

function checkFirst(value: unknown, argument: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw badUserInput(`Invalid ${argument}: expected an integer from 0 to ${max}, got ${String(value)}`, {
      argument,
      max,
    });
  }
  return value;
}

function loadersOf(context: LoaderContext): object {
  const loaders = context?.loaders;
  if (!loaders) {
    throw new InvalidOptionError(
      'graphql-cached-instances/apollo: the context has no loaders. Build the context with cachedContext(cache, …)',
    );
  }
  return loaders;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | null)?.then === 'function';
}

/**
 * Creates the resolver builders of one schema version. `Records` are the record types of the
 * cache version the schema reads (what `serialize` returns for it); `Context` is the schema's
 * context, made by {@link cachedContext}. Every builder reads through the request's DataLoaders,
 * so each level of a nested query is one batched store read, and applies `canRead` on every
 * path, so a record hidden from a request is hidden however the query reaches it.
 *
 * @example
 * // Records: your strategy's record types (RecordsOf<typeof strategy, 'v1'>); Context: your
 * // request context with the cache's fields (YourContext & CachedContext<Records>).
 * const cached = createCachedResolvers<Records, Context>({
 *   canRead: { Question: (q, ctx) => q.pubDate <= new Date() || ctx.viewer.staff },
 * });
 * const resolvers = {
 *   Query: { question: cached.byId('Question') },
 *   Question: cached.type('Question', { choices: cached.related('Choice', 'choiceIds') }),
 * };
 */
export function createCachedResolvers<Records extends object, Context extends LoaderContext>(
  options: CachedResolversOptions<Records, Context> = {},
): CachedResolvers<Records, Context> {
  const canRead = (options.canRead ?? {}) as Readonly<
    Record<string, CanReadRule<object, Context> | undefined>
  >;
  for (const [model, check] of Object.entries(canRead)) {
    if (check !== undefined && typeof check !== 'function') {
      throw new InvalidOptionError(
        `createCachedResolvers: canRead.${model} must be a function, got ${typeof check}`,
      );
    }
  }

  // The records of `pks` this request may read: aligned with `pks` (`null` for a missing, hidden
  // or unreadable one), or only the present ones. The keys join the request's one batch per tick;
  // when every record is already memoized or in L1 (and the rules are synchronous) the answer is
  // returned synchronously, which spares graphql-js a promise per field. One pass over the
  // records; no array but the answer is allocated. `depth` counts how many canRead rules led to
  // this read (see MAX_READ_CHAIN).
  function readAll(
    context: Context,
    model: string,
    pks: readonly unknown[],
    aligned: boolean,
    depth = 0,
  ): (object | null)[] | Promise<(object | null)[]> {
    const values = readRecords(loadersOf(context), model, pks);
    return isPromise(values)
      ? values.then((settled) => readable(context, model, settled, aligned, depth))
      : readable(context, model, values, aligned, depth);
  }

  function readable(
    context: Context,
    model: string,
    values: ReadValue[],
    aligned: boolean,
    depth: number,
  ): (object | null)[] | Promise<(object | null)[]> {
    const check = canRead[model];
    if (!check) {
      const out: (object | null)[] = aligned ? (values as (object | null)[]) : [];
      for (const value of values) {
        if (value instanceof Error) throw toGraphQLError(value);
        if (!aligned && value !== null) out.push(value);
      }
      return out;
    }
    const access = accessAt(context, model, depth + 1);
    let verdicts: (boolean | Promise<boolean>)[] | undefined;
    for (let i = 0; i < values.length; i += 1) {
      const value = values[i]!;
      if (value instanceof Error) throw toGraphQLError(value);
      const verdict = value === null ? false : check(value, context, access);
      if (verdicts) verdicts.push(verdict);
      else if (isPromise(verdict)) {
        verdicts = values.slice(0, i).map((v) => v !== null);
        verdicts.push(verdict);
      } else if (!verdict) values[i] = null;
    }
    const keep = (allowed: readonly boolean[] | undefined) => {
      if (allowed) {
        for (let i = 0; i < values.length; i += 1) if (!allowed[i]) values[i] = null;
      }
      return aligned ? (values as (object | null)[]) : (values.filter((v) => v !== null) as object[]);
    };
    return verdicts ? Promise.all(verdicts).then(keep) : keep(undefined);
  }

  // Whether `pk` of `model` exists and this request may read it (its own rule applied).
  function readableOne(
    context: Context,
    model: string,
    pk: unknown,
    depth: number,
  ): boolean | Promise<boolean> {
    const record = readOne(context, model, pk, depth);
    return isPromise(record) ? record.then((found) => found !== null) : record !== null;
  }

  // What the rules of `from` records may read. One object per checked batch, not per record.
  function accessAt(context: Context, from: string, depth: number): ReadAccess {
    return {
      canRead(model, pk) {
        if (pk === null || pk === undefined) return false;
        if (depth > MAX_READ_CHAIN) {
          throw new InvalidOptionError(
            `createCachedResolvers: canRead.${from} reads ${model} through more than ${MAX_READ_CHAIN} canRead rules; do the rules read through each other in a cycle?`,
          );
        }
        return readableOne(context, model, pk, depth);
      },
    };
  }

  // The record of `pk` of `model` if it exists and this request may read it; `depth`: how many
  // canRead rules deep this read is (0 for a resolver's own read).
  function readOne(
    context: Context,
    model: string,
    pk: unknown,
    depth = 0,
  ): object | null | Promise<object | null> {
    const value = readRecord(loadersOf(context), model, pk);
    const decide = (settled: ReadValue): object | null | Promise<object | null> => {
      if (settled instanceof Error) throw toGraphQLError(settled);
      if (settled === null) return null;
      const check = canRead[model];
      if (!check) return settled;
      const verdict = check(settled, context, accessAt(context, model, depth + 1));

      return isPromise(verdict) ? verdict.then((ok) => (ok ? settled : null)) : verdict ? settled : null;
    };
    return isPromise(value) ? value.then(decide) : decide(value);
  }

  function readMany(context: Context, model: string, pks: readonly unknown[]): object[] | Promise<object[]> {
    if (pks.length === 0) return [];
    return readAll(context, model, pks, false) as object[] | Promise<object[]>;
  }

  // The first `first` readable records of `pks`: reads `first` pks, then more only when some
  // were missing or unreadable (twice the shortfall each time), so a long list costs one read.
  function readFirst(
    context: Context,
    model: string,
    pks: readonly Pk[],
    first: number,
  ): object[] | Promise<object[]> {
    if (first === 0 || pks.length === 0) return [];
    const collect = (found: object[], from: number, want: number): object[] | Promise<object[]> => {
      const chunk = from === 0 && want >= pks.length ? pks : pks.slice(from, from + want);
      const read = readMany(context, model, chunk);
      const next = (records: object[]) => {
        const all = found.length === 0 ? records : found.concat(records);
        const end = from + chunk.length;
        if (all.length >= first || end >= pks.length) return all.length > first ? all.slice(0, first) : all;
        return collect(all, end, (first - all.length) * 2);
      };
      return isPromise(read) ? read.then(next) : next(read);
    };
    return collect([], 0, first);
  }

  // List resolvers read pks aligned with their rows.
  const readAligned = (context: Context, model: string, pks: readonly Pk[]) =>
    readAll(context, model, pks, true);

  type R<M extends keyof Records> = Records[M];
  return {
    load: async (context, model, pk) => (await readOne(context, model, pk)) as R<typeof model> | null,
    loadMany: async (context, model, pks) => (await readMany(context, model, pks)) as R<typeof model>[],
    byId(model, arg) {
      const name = arg ?? 'id';
      return async (_parent, args, context) => {
        const pk = (args as Readonly<Record<string, unknown>>)[name];
        if (typeof pk !== 'string' && typeof pk !== 'number') {
          throw badUserInput(`Invalid id for ${model}: the "${name}" argument is missing`, {
            argument: name,
          });
        }
        return (await readOne(context, model, pk)) as R<typeof model> | null;
      };
    },
    related(model, field, relatedOptions = {}) {
      const { firstArgument, maxFirst = 100 } = relatedOptions;
      if (firstArgument !== undefined && (typeof firstArgument !== 'string' || firstArgument === '')) {
        throw new InvalidOptionError(
          `related("${model}", "${field}"): options.firstArgument must be an argument name, got ${String(firstArgument)}`,
        );
      }
      if (!Number.isSafeInteger(maxFirst) || maxFirst < 0) {
        throw new InvalidOptionError(
          `related("${model}", "${field}"): options.maxFirst must be a non-negative integer, got ${String(maxFirst)}`,
        );
      }
      return (parent, args, context) => {
        const pks = parent?.[field];
        if (!pks) return [];
        if (firstArgument === undefined) {
          return readMany(context, model, pks) as R<typeof model>[] | Promise<R<typeof model>[]>;
        }
        const first = (args as Readonly<Record<string, unknown>> | undefined)?.[firstArgument];
        if (first === undefined || first === null) {
          return readMany(context, model, pks) as R<typeof model>[] | Promise<R<typeof model>[]>;
        }
        return readFirst(context, model, pks, checkFirst(first, firstArgument, maxFirst)) as
          | R<typeof model>[]
          | Promise<R<typeof model>[]>;
      };
    },
    relatedOne(model, field) {
      return (parent, _args, context) => {
        const pk = parent?.[field];
        return (pk === null || pk === undefined ? null : readOne(context, model, pk)) as
          | R<typeof model>
          | null
          | Promise<R<typeof model> | null>;
      };
    },
    list<M extends keyof Records & string, Args extends PageArgs, C extends JsonValue = Pk>(
      model: M,
      listOptions: ListOptions<Args, Context, C>,
    ) {
      return createListResolver<Records[M], Args, Context, C>(model, listOptions, readAligned);
    },
    type(model, fields) {
      const out: Record<string, unknown> = {};
      for (const [name, spec] of Object.entries(fields)) {
        if (typeof spec === 'string') out[name] = (parent: Record<string, unknown>) => parent[spec];
        else if (typeof spec === 'function') out[name] = spec;
        else
          throw new InvalidOptionError(
            `type("${model}"): field "${name}" must be a record field name or a resolver`,
          );
      }
      return out as TypeResolvers<R<typeof model>, typeof fields>;
    },
  };
}
