import { InvalidOptionError } from '../errors.js';
import { badUserInput } from './errors.js';

/** Options of {@link checkTextArgument}. */
export interface TextArgumentOptions {
  /** The argument's name, used in the message and as `extensions.argument`. */
  argument: string;
  /**
   * Longest text accepted, in characters as SQL counts them for `varchar(n)` (code points: an
   * emoji is one, not two UTF-16 units). Default: no limit — set it to the column's length.
   */
  maxLength?: number;
  /** Shortest text accepted, after trimming. Default `0`. */
  minLength?: number;
  /** Remove white space at both ends first. Default `true`. */
  trim?: boolean;
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Checks a text argument before it reaches the database, and returns it (trimmed). Each refusal
 * is a `BAD_USER_INPUT` error naming the argument, where the database would otherwise fail the
 * write with an internal error or change the text silently:
 *
 * - a NUL character (U+0000): PostgreSQL refuses it in text (`invalid byte sequence`);
 * - a lone surrogate (`"\uD800"` in JSON): not Unicode; it would be stored as U+FFFD, so what is
 *   read back differs from what was written;
 * - more than `maxLength` characters (a `varchar(n)` column refuses it on PostgreSQL, and SQLite
 *   stores it whole), or fewer than `minLength`.
 *
 * @example
 * const text = checkTextArgument(args.text, { argument: 'text', minLength: 1, maxLength: 200 });
 */
export function checkTextArgument(value: string, options: TextArgumentOptions): string {
  const { argument, maxLength = Number.POSITIVE_INFINITY, minLength = 0, trim = true } = options;
  if (typeof argument !== 'string' || argument === '') {
    throw new InvalidOptionError('checkTextArgument: options.argument must name the argument');
  }
  if (typeof value !== 'string') {
    throw badUserInput(`${argument} must be a string`, { argument });
  }
  if (value.includes('\u0000')) {
    throw badUserInput(`${argument} must not contain NUL characters (U+0000)`, { argument });
  }
  if (LONE_SURROGATE.test(value)) {
    throw badUserInput(`${argument} is not well-formed Unicode: it contains a lone surrogate`, {
      argument,
    });
  }
  const text = trim ? value.trim() : value;
  const length = countCharacters(text, maxLength);
  if (length < minLength || length > maxLength) {
    const range =
      maxLength === Number.POSITIVE_INFINITY ? `at least ${minLength}` : `${minLength} to ${maxLength}`;
    throw badUserInput(`${argument} must be ${range} characters`, { argument });
  }
  return text;
}

// Code points, stopping once past `max` (a megabyte of text is not walked to the end).
function countCharacters(text: string, max: number): number {
  let count = 0;
  for (const _character of text) {
    count += 1;
    if (count > max) break;
  }
  return count;
}
