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
  resolveFirst,
  toRows,
} from './connection.js';
import { badUserInput } from './errors.js';
import type { ListOptions } from './resolvers.js';

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
  const { pks, count, defaultFirst = 20, maxFirst = 100 } = options;
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
  const isCursor = options.isCursor ?? (isPkCursor as (value: JsonValue) => value is C);
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
    const counting = count && info && selects(info, 'totalCount') ? count({ args, context }) : undefined;
    const [raw, totalCount] = await Promise.all([pks({ args, context, limit: first + 1, after }), counting]);
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
