import { type FieldNode, type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';
import type { JsonValue } from '../codecs/codec.js';
import { InvalidOptionError } from '../errors.js';
import type { Strategy } from '../strategy/define.js';
import { normalizePk, type Pk } from '../strategy/pk.js';
import {
  type Connection,
  decodeCursor,
  type Edge,
  encodeCursor,
  isPkCursor,
  type PkRow,
  resolveFirst,
  toRows,
} from './connection.js';
import type { CachedContext } from './context.js';
import { badUserInput } from './errors.js';
import type { ListCacheOptions, ListOptions } from './resolvers.js';

/** Reads records aligned with `pks`: the readable record, or `null`. */
type ReadAligned<Context> = (
  context: Context,
  model: string,
  pks: readonly Pk[],
) => (object | null)[] | Promise<(object | null)[]>;

function checkCount(value: number, name: string, model: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(
      `list("${model}"): options.${name} must be a non-negative integer, got ${String(value)}`,
    );
  }
}

/**
 * The root list resolver behind `createCachedResolvers().list`: check `first` and `after`, ask the
 * pk query for one row more than the page (that extra row answers `hasNextPage` without a COUNT),
 * read the page's records in ONE batched call, drop the unreadable ones and build the connection.
 * @internal
 */
export function createListResolver<
  R,
  Args extends { first?: number | null; after?: string | null },
  Context,
  C extends JsonValue,
>(
  model: string,
  options: ListOptions<Args, Context, C>,
  readAligned: ReadAligned<Context>,
): (parent: unknown, args: Args, context: Context, info?: GraphQLResolveInfo) => Promise<Connection<R>> {
  const { pks, count, defaultFirst = 20, maxFirst = 100, cache: listCache } = options;
  if (typeof pks !== 'function')
    throw new InvalidOptionError(`list("${model}"): options.pks must be a function`);
  if (count !== undefined && typeof count !== 'function')
    throw new InvalidOptionError(`list("${model}"): options.count must be a function`);
  checkCount(defaultFirst, 'defaultFirst', model);
  checkCount(maxFirst, 'maxFirst', model);
  if (defaultFirst > maxFirst) {
    throw new InvalidOptionError(
      `list("${model}"): defaultFirst (${defaultFirst}) exceeds maxFirst (${maxFirst})`,
    );
  }
  if (listCache !== undefined && (listCache === null || typeof listCache !== 'object')) {
    throw new InvalidOptionError(`list("${model}"): options.cache must be an object of list cache options`);
  }
  const isCursor = options.isCursor ?? (isPkCursor as (value: JsonValue) => value is C);

  // The request's view of the shared cache for this list: answers stored under the list's name and
  // the request's key, in the request's cache version, counted in its stats.
  function cachedList(
    cacheOptions: ListCacheOptions<Args, Context>,
    request: { args: Args; context: Context },
    info: GraphQLResolveInfo | undefined,
  ) {
    const { cache, cacheVersion, cacheStats } = request.context as Partial<
      CachedContext<Record<string, object>>
    >;
    if (!cache) return null;
    const base = cacheOptions.key ? cacheOptions.key(request) : defaultListKey(request.args);
    if (base === null) return null;
    const name = cacheOptions.name ?? (info ? `${info.parentType.name}.${info.fieldName}` : model);
    return {
      read: (part: string, load: () => Promise<readonly JsonValue[]>) =>
        cache.getList(model, name, `${base}\n${part}`, load, {
          version: cacheVersion,
          stats: cacheStats,
          validUntil: cacheOptions.validUntil && (() => cacheOptions.validUntil!(request)),
        }),
    };
  }
  return async (_parent, args, context, info) => {
    const first = resolveFirst(args?.first, defaultFirst, maxFirst);
    let after = args?.after === null || args?.after === undefined ? null : decodeCursor(args.after, isCursor);
    // A default (pk) cursor must also be a pk of this model's type: '"abc"' for a numeric model
    // would otherwise reach SQL and fail there as an internal error.
    const strategy = (context as { cache?: { strategy?: Strategy } } | undefined)?.cache?.strategy;
    if (after !== null && !options.isCursor && strategy) {
      try {
        after = normalizePk(after, strategy.model(model).pkType, model) as C;
      } catch {
        throw badUserInput(
          `Invalid cursor ${JSON.stringify(String(args.after).slice(0, 64))}: it does not belong to this list; pass an endCursor this list returned`,
          { argument: 'after' },
        );
      }
    }
    // The count runs beside the pk query, and only when the query selects totalCount.
    const loadRows = () => pks({ args, context, limit: first + 1, after });
    const loadCount =
      count && info && selects(info, 'totalCount') ? () => count({ args, context }) : undefined;
    const cached = listCache ? cachedList(listCache, { args, context }, info) : null;
    const [raw, totalCount] = await Promise.all(
      cached
        ? [
            cached.read(
              `${first + 1}\n${JSON.stringify(after)}`,
              loadRows as () => Promise<readonly JsonValue[]>,
            ) as Promise<readonly (Pk | PkRow<C>)[]>,
            loadCount &&
              cached.read('count', async () => [await loadCount()]).then((one) => one[0] as number),
          ]
        : [loadRows(), loadCount?.()],
    );
    if (!options.isCursor && raw.some((row) => typeof row === 'object' && row !== null)) {
      throw new InvalidOptionError(
        `list("${model}"): the pk query returned { pk, cursor } rows; give options.isCursor`,
      );
    }
    const rows = toRows(raw).slice(0, first);
    const records = await readAligned(
      context,
      model,
      rows.map((row) => row.pk),
    );
    const nodes: R[] = [];
    const readable: number[] = [];
    rows.forEach((_, i) => {
      const node = records[i];
      if (node) {
        nodes.push(node as R);
        readable.push(i);
      }
    });
    const last = rows[rows.length - 1];
    let edges: Edge<R>[] | undefined;
    return {
      // Cursors are encoded only when the query asks for edges.
      get edges() {
        edges ??= readable.map((i, n) => ({ cursor: encodeCursor(rows[i]!.cursor), node: nodes[n]! }));
        return edges;
      },
      nodes,
      // The end cursor is the last row fetched, readable or not, so paging never stalls on hidden rows.
      pageInfo: { hasNextPage: raw.length > first, endCursor: last ? encodeCursor(last.cursor) : null },
      ...(totalCount === undefined ? {} : { totalCount }),
    };
  };
}

/** The default cache key of a list request: its arguments other than `first` and `after`. */
function defaultListKey(args: object | null | undefined): string {
  const rest = Object.entries(args ?? {})
    .filter(([name]) => name !== 'first' && name !== 'after')
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify(rest);
}

/** Whether the field being resolved selects `name` directly (through fragments too, under any alias). */
function selects(info: GraphQLResolveInfo, name: string): boolean {
  const seen = new Set<string>();
  const inSet = (set: SelectionSetNode | undefined): boolean =>
    set?.selections.some((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === name;
      if (selection.kind === Kind.INLINE_FRAGMENT) return inSet(selection.selectionSet);
      const fragmentName = selection.name.value;
      if (seen.has(fragmentName)) return false;
      seen.add(fragmentName);
      return inSet(info.fragments[fragmentName]?.selectionSet);
    }) ?? false;
  return info.fieldNodes.some((node: FieldNode) => inSet(node.selectionSet));
}
