import { createHash } from 'node:crypto';
import { InvalidPkError } from '../errors.js';

/** A primary key: a safe integer or a string, as the model declares. */
export type Pk = number | string;

/**
 * The declared type of a model's primary key. `'number'` accepts safe integers and their decimal
 * strings (`'42'` from a GraphQL `ID` becomes `42`); `'string'` accepts non-empty, well-formed strings only.
 */
export type PkType = 'number' | 'string';

const DECIMAL_INT = /^-?(0|[1-9]\d{0,15})$/;
// In a `u` regex a well-formed surrogate pair is one code point, so this matches lone halves only:
// strings that cannot be encoded as UTF-8 (and would make encodeURIComponent throw).
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Normalises a raw pk to the model's declared type, or throws an {@link InvalidPkError} naming the
 * model and the bad value. Never coerces anything that is not exactly an integer for a `'number'`
 * model (`'1.0'`, `' 1'`, `'0x1'` are all rejected).
 */
export function normalizePk(raw: unknown, type: PkType, model: string): Pk {
  if (type === 'number') {
    if (typeof raw === 'number' && Number.isSafeInteger(raw)) return raw;
    if (typeof raw === 'string' && DECIMAL_INT.test(raw)) {
      const value = Number(raw);
      if (Number.isSafeInteger(value)) return value;
    }
  } else if (typeof raw === 'string' && raw.length > 0 && !LONE_SURROGATE.test(raw)) {
    return raw;
  }
  const shown =
    typeof raw === 'string' ? JSON.stringify(raw.length > 64 ? `${raw.slice(0, 64)}…` : raw) : String(raw);
  throw new InvalidPkError(
    `Invalid id for ${model}: expected ${type === 'number' ? 'an integer' : 'a non-empty, well-formed string'}, got ${shown}`,
    { context: { model, pk: raw } },
  );
}

const SAFE_CHARS = /^[A-Za-z0-9_.~-]*$/;
const MAX_ENCODED = 120;

/**
 * Encodes a normalised pk for use in a key. Numbers are written in decimal; strings get an `s`
 * prefix and percent-encoding of every byte outside `[A-Za-z0-9_.~-]` (so `:` never appears and no
 * two strings collide), and strings whose encoding exceeds 120 characters are replaced by `h` and
 * their SHA-256 in base64url. Numbers never start with a letter, so the forms cannot meet.
 */
export function encodePk(pk: Pk): string {
  if (typeof pk === 'number') return String(pk);
  const encoded = SAFE_CHARS.test(pk)
    ? pk
    : encodeURIComponent(pk).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (encoded.length <= MAX_ENCODED) return `s${encoded}`;
  return `h${createHash('sha256').update(pk, 'utf8').digest('base64url')}`;
}
