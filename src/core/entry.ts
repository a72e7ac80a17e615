import { randomBytes } from 'node:crypto';

/**
 * What the store holds, in both protocols (see `protocol.ts`):
 *
 * - A **record**: its model version's tag (`#` + 8 hex, see `ResolvedVersion.recordTag`), while a
 *   refresh is under way the refresh's token (`@token` and a newline), and the encoded record's
 *   JSON (`{…}`), or `null` for "no such instance".
 * - A **marker** (`~` + a generation): "invalidated; whoever fills next must have read exactly
 *   this". Checked-at-write stores keep it in the record's own key; checked-at-read stores keep
 *   the generation in a separate entry at `{record key}:g` and stamp records with it
 *   (`{generation}\n{json}`).
 */
export const GENERATION_SUFFIX = ':g';

/** The encoded form of "no such instance" (negative caching). */
export const NOT_FOUND = 'null';

/** The first character of a marker. */
export const MARKER_PREFIX = '~';

/** The first character of a stored record (its tag). */
export const RECORD_PREFIX = '#';

// Generations must be unique across processes and restarts: a stamp equal to an older generation
// would let a fill that raced a write be served. 9 random bytes per process plus a counter gives
// that without coordination.
const processTag = randomBytes(9).toString('base64url');
let counter = 0;

/** A new generation, never equal to any other generation issued anywhere. */
export function newGeneration(): string {
  counter += 1;
  return `${processTag}${counter.toString(36)}`;
}

/** A new marker: {@link MARKER_PREFIX} and a new generation. */
export function newMarker(): string {
  return MARKER_PREFIX + newGeneration();
}

/** True for a stored record (of any definition); false for markers and junk. */
export function isRecordText(value: string): boolean {
  return value.charCodeAt(0) === 35 /* # */;
}

/** Length of a record tag: `#` and 8 hex characters (see `ResolvedVersion.recordTag`). */
export const TAG_LENGTH = 9;

/** The first character after the tag of a record that carries a refresh token: `#tag@token\n{json}`. */
const TOKEN_PREFIX = '@';

/** The stored text of a record's JSON (`null` for "not found") under a model version's tag. */
export function tagRecord(tag: string, json: string): string {
  return tag + json;
}

/**
 * The JSON of a stored record written under `tag` (whatever refresh token it carries);
 * `undefined` when another definition wrote it.
 */
export function untagRecord(tag: string, text: string): string | undefined {
  if (!text.startsWith(tag)) return undefined;
  if (text.charAt(TAG_LENGTH) !== TOKEN_PREFIX) return text.slice(TAG_LENGTH);
  const newline = text.indexOf('\n', TAG_LENGTH);
  return newline < 0 ? undefined : text.slice(newline + 1);
}

/**
 * A stored record with its refresh token replaced by `token` (`#tag@token\n{json}`): what a
 * refresh writes when it begins, so that only the refresh that began last may write its load.
 * The memory store uses it; the Redis script does the same in Lua.
 */
export function withToken(text: string, token: string): string {
  let rest = text.slice(TAG_LENGTH);
  if (rest.charAt(0) === TOKEN_PREFIX) rest = rest.slice(rest.indexOf('\n') + 1);
  return `${text.slice(0, TAG_LENGTH)}${TOKEN_PREFIX}${token}\n${rest}`;
}

/**
 * The refresh token a stored record carries (`#tag@token\n{json}`), or `undefined` for a record
 * without one, a marker or junk. The memory store uses it; the Redis script does the same in Lua.
 */
export function refreshTokenOf(text: string): string | undefined {
  if (!isRecordText(text) || text.charAt(TAG_LENGTH) !== TOKEN_PREFIX) return undefined;
  const newline = text.indexOf('\n', TAG_LENGTH);
  return newline < 0 ? undefined : text.slice(TAG_LENGTH + 1, newline);
}

/** `{stamp}\n{json}`: a record stamped with the generation its reader saw (checked at read). */

export function encodeEntry(stamp: string, json: string): string {
  return `${stamp}\n${json}`;
}

/**
 * The JSON of a stamped entry whose stamp equals `generation`, `null` when the stamp differs (a
 * stale fill), `undefined` for an entry that is not in this format (corrupt).
 */
export function readEntry(entry: string, generation: string): string | null | undefined {
  const newline = entry.indexOf('\n');
  if (newline <= 0) return undefined;
  if (entry.length - 1 - newline === 0) return undefined;
  if (newline !== generation.length || !entry.startsWith(generation)) return null;
  return entry.slice(newline + 1);
}
