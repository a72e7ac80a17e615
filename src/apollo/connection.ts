import type { JsonValue } from '../codecs/codec.js';
import type { Pk } from '../strategy/pk.js';
import { badUserInput } from './errors.js';

/** A page of a root list, in the Relay connection shape. */
export interface Connection<R> {
  /** The page's records with their cursors. */
  readonly edges: Edge<R>[];
  /** The page's records (the same as `edges[].node`, for clients that need no cursors). */
  readonly nodes: R[];
  readonly pageInfo: PageInfo;
  /**
   * The size of the whole list (every page), when the query selected `totalCount` and the list
   * has a `count` query; absent otherwise (the field then resolves to `null`).
   */
  readonly totalCount?: number;
}

/** One record of a {@link Connection} and the cursor to continue after it. */
export interface Edge<R> {
  readonly cursor: string;
  readonly node: R;
}

/** Where a {@link Connection} page ends. */
export interface PageInfo {
  /** Whether a page follows this one. */
  readonly hasNextPage: boolean;
  /** The cursor to pass as `after` for the next page; `null` for an empty page. */
  readonly endCursor: string | null;
}

/** One row of a pk-list query: the pk and the sort key the next page continues after. */
export interface PkRow<C extends JsonValue> {
  readonly pk: Pk;
  /** The row's position in the list order, e.g. `[pubDate, id]`. It becomes the opaque cursor. */
  readonly cursor: C;
}

/** What a root list asks its pk query for: one page, in order. */
export interface PkPageRequest<Args, Context, C extends JsonValue> {
  /** The field's arguments (filters, order), as GraphQL coerced them. */
  readonly args: Args;
  readonly context: Context;
  /** Return at most this many rows: the page size plus one, which tells whether a page follows. */
  readonly limit: number;
  /** The cursor value of the row to continue after (decoded and checked), or `null` for the first page. */
  readonly after: C | null;
}

/** The `first` / `after` arguments of a paginated root list. */
export interface PageArgs {
  readonly first?: number | null;
  readonly after?: string | null;
}

/** Encodes a cursor value as an opaque string (base64url of its JSON). */
export function encodeCursor(value: JsonValue): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/**
 * Decodes an `after` argument. A string that {@link encodeCursor} did not write, or whose value
 * fails `isCursor`, is a `BAD_USER_INPUT` error: cursors are opaque to clients.
 */
export function decodeCursor<C extends JsonValue>(
  text: string,
  isCursor: (value: JsonValue) => value is C,
): C {
  let value: JsonValue;
  try {
    if (!/^[A-Za-z0-9_-]{1,1024}$/.test(text)) throw new Error('not base64url'); // caught below
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as JsonValue;
  } catch {
    throw badUserInput(
      `Invalid cursor ${JSON.stringify(text.slice(0, 64))}: pass an endCursor this API returned`,
      {
        argument: 'after',
      },
    );
  }
  if (!isCursor(value)) {
    throw badUserInput(
      `Invalid cursor ${JSON.stringify(text.slice(0, 64))}: it does not belong to this list; pass an endCursor this list returned`,
      { argument: 'after' },
    );
  }
  return value;
}

/** Checks `first`: an integer from 0 to `max`, `defaultFirst` when absent. */
export function resolveFirst(first: number | null | undefined, defaultFirst: number, max: number): number {
  if (first === null || first === undefined) return defaultFirst;
  if (!Number.isInteger(first) || first < 0 || first > max) {
    throw badUserInput(`Invalid page size: first must be an integer from 0 to ${max}, got ${first}`, {
      argument: 'first',
      max,
    });
  }
  return first;
}

/** A cursor that is the row's pk (the default, for lists ordered by pk). */
export function isPkCursor(value: JsonValue): value is Pk {
  return (
    (typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'string' && value !== '')
  );
}

/** Normalises the rows a pk query returned: bare pks become rows whose cursor is the pk. */
export function toRows<C extends JsonValue>(rows: readonly (Pk | PkRow<C>)[]): PkRow<C | Pk>[] {
  return rows.map((row) => (typeof row === 'object' && row !== null ? row : { pk: row, cursor: row }));
}
