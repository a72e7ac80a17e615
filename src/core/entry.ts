import { randomBytes } from 'node:crypto';

/**
 * Stored entries. A record entry is `{stamp}\n{json}` where `json` is the encoded record or
 * `null` for "no such instance"; its generation entry, at `{record key}:g`, holds the current
 * generation. Keys without a generation entry are at generation {@link INITIAL_GENERATION}.
 */
export const GENERATION_SUFFIX = ':g';

/** The generation of a key that was never invalidated. */
export const INITIAL_GENERATION = '0';

/** The encoded form of "no such instance" (negative caching). */
export const NOT_FOUND = 'null';

// Generations must be unique across processes and restarts: a stamp equal to an older
// generation would let a fill that raced a write be served. 9 random bytes per process plus a
// counter gives that without coordination.
const processTag = randomBytes(9).toString('base64url');
let counter = 0;

/** A new generation, never equal to any other generation issued anywhere. */
export function newGeneration(): string {
  counter += 1;
  return `${processTag}${counter.toString(36)}`;
}

/** `{stamp}\n{json}`. */
export function encodeEntry(stamp: string, json: string): string {
  return `${stamp}\n${json}`;
}

/**
 * The JSON of an entry whose stamp equals `generation`, `null` when the stamp differs (a stale
 * fill), `undefined` for an entry that is not in this format (corrupt).
 */
export function readEntry(entry: string, generation: string): string | null | undefined {
  const newline = entry.indexOf('\n');
  if (newline <= 0) return undefined;
  if (entry.length - 1 - newline === 0) return undefined;
  if (newline !== generation.length || !entry.startsWith(generation)) return null;
  return entry.slice(newline + 1);
}
