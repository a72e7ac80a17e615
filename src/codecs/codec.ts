import { CodecError } from '../errors.js';

/** A JSON value, as stored in a record. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Turns one field's runtime value into JSON and back, so that a record reads back identical from
 * every store. `null` and `undefined` never reach a codec: they are stored as `null`.
 */
export interface Codec<T = unknown> {
  /** Short stable name; it is part of the strategy hash, so renaming a codec starts a fresh cache. */
  readonly name: string;
  /** Runtime value → JSON. Throws a `CodecError` for a value of the wrong kind. */
  encode(value: T): JsonValue;
  /** JSON → runtime value. Throws when the JSON is not what `encode` writes (a corrupt entry). */
  decode(json: JsonValue): T;
}

function fail(codec: string, expected: string, got: unknown): never {
  const shown = typeof got === 'string' ? JSON.stringify(got) : Object.prototype.toString.call(got);
  throw new CodecError(`codecs.${codec}: expected ${expected}, got ${shown}`);
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * A calendar date with no time of day. Accepts a `Date` (its UTC date is taken) or a
 * `'YYYY-MM-DD'` string; stores and reads back the `'YYYY-MM-DD'` string, which is what
 * MikroORM's `date` type holds. No time zone can shift it.
 */
export const dateOnly: Codec<string | Date> = {
  name: 'dateOnly',
  encode(value) {
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) fail('dateOnly', 'a valid Date', value);
      return value.toISOString().slice(0, 10);
    }
    if (
      typeof value === 'string' &&
      ISO_DATE.test(value) &&
      !Number.isNaN(Date.parse(`${value}T00:00:00Z`))
    ) {
      return value;
    }
    return fail('dateOnly', "a Date or a 'YYYY-MM-DD' string", value);
  },
  decode(json) {
    if (typeof json === 'string' && ISO_DATE.test(json)) return json;
    return fail('dateOnly', "a 'YYYY-MM-DD' string", json);
  },
};

// An ISO-8601 date-time (or date): `T` or a space between date and time, optional seconds and
// fraction (any number of digits), optional zone (`Z`, `+05:30`, `+0530`, `+05`).
const ISO_DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * Parses an ISO-8601 string as an instant. A string without a zone is UTC (as
 * drf-cached-instances and most databases read a naive timestamp), never the process's local time,
 * so the same string gives the same instant on every server. Digits past the millisecond are cut.
 */
/** `Date.prototype.toISOString()` of a year between 0000 and 9999. */
const CANONICAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function parseInstant(text: string): Date | null {
  const match = ISO_DATETIME.exec(text);
  if (!match) return null;
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', zone] = match;
  // JavaScript rolls '2024-02-30' over to March 1st: a day past the month's end is refused.
  if (Number(day) > new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate()) return null;
  const millis = fraction.slice(0, 3).padEnd(3, '0');
  let offset = 'Z';
  if (zone && zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    offset = `${zone[0]}${digits.slice(0, 2)}:${digits.slice(2, 4) || '00'}`;
  }
  const date = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}.${millis}${offset}`);
  return Number.isNaN(date.getTime()) ? null : date;
}

/**
 * An instant. Accepts a `Date`, an ISO-8601 string, or epoch milliseconds; stores the UTC ISO
 * string with milliseconds (`2024-05-01T10:00:00.123Z`) and reads back a `Date` for the same
 * instant.
 *
 * - Precision is the millisecond (what a `Date` holds): microseconds in a string
 *   (`'…:04.892566'`, as Postgres and Django write them) are cut to `.892`, not rounded.
 * - A string without a zone (`'2015-11-04 16:40:04.892566'`) is read as UTC, whatever the
 *   process's `TZ`, as drf-cached-instances reads it.
 * - The zone an input was written in is not kept: instants are compared and served in UTC.
 * - Strings that are not ISO-8601 (`'May 1, 2024'`) are refused: their meaning depends on the
 *   JavaScript engine and the local zone.
 */
export const datetime: Codec<Date | string | number> = {
  name: 'datetime',
  encode(value) {
    const date =
      value instanceof Date
        ? value
        : typeof value === 'number'
          ? new Date(value)
          : typeof value === 'string'
            ? parseInstant(value)
            : null;
    if (date === null || Number.isNaN(date.getTime()))
      return fail('datetime', 'a valid Date, ISO-8601 string or epoch ms', value);
    return date.toISOString();
  },
  decode(json) {
    // What encode wrote (`toISOString()`, 24 characters ending in Z) needs no parsing of ours.
    if (
      typeof json === 'string' &&
      json.length === 24 &&
      json.charCodeAt(23) === 90 /* Z */ &&
      CANONICAL.test(json)
    ) {
      return new Date(json);
    }
    const date = typeof json === 'string' ? parseInstant(json) : null;
    if (date === null) return fail('datetime', 'an ISO string', json);
    return date;
  },
};

const DAY = 86_400_000;
// ISO-8601 durations of fixed length: weeks, or days and a time part. Years and months are
// refused: their length depends on the calendar.
const ISO_DURATION =
  /^([+-])?P(?:(\d+(?:[.,]\d+)?)W|(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?)$/i;

function parseDuration(text: string): number | null {
  const match = ISO_DURATION.exec(text);
  if (!match || /T$/i.test(text) || /^[+-]?P$/i.test(text)) return null;
  const [, sign, weeks, days, hours, minutes, seconds] = match;
  const part = (value: string | undefined, unit: number) =>
    value === undefined ? 0 : Number(value.replace(',', '.')) * unit;
  const millis = Math.trunc(
    part(weeks, 7 * DAY) +
      part(days, DAY) +
      part(hours, 3_600_000) +
      part(minutes, 60_000) +
      part(seconds, 1000),
  );
  if (!Number.isSafeInteger(millis)) return null;
  return sign === '-' ? -millis : millis;
}

/**
 * A duration (drf-cached-instances' `TimeDelta`), as a number of milliseconds. Accepts a number
 * of milliseconds or an ISO-8601 duration of fixed length (`'PT1H30M'`, `'P2DT4H'`, `'P1W'`,
 * `'-PT0.5S'`); stores the integer number of milliseconds and reads back that number.
 *
 * - Precision is the millisecond: sub-millisecond parts are cut toward zero.
 * - Years and months (`'P1M'`) are refused: a month has no fixed length. Store such values as
 *   text, or as a number of days.
 * - Negative durations are kept.
 * - `fromMikroOrm` does not pick it for a column by itself (an `interval` column reads back as
 *   text whose format depends on the driver): declare it, `codecs: { timeout: codecs.duration }`.
 */
export const duration: Codec<number | string> = {
  name: 'duration',
  encode(value) {
    const millis =
      typeof value === 'number' && Number.isFinite(value)
        ? Math.trunc(value) + 0 // `+ 0` turns -0 into 0
        : typeof value === 'string'
          ? parseDuration(value)
          : null;
    if (millis === null || !Number.isSafeInteger(millis)) {
      return fail('duration', "a number of milliseconds or an ISO-8601 duration such as 'PT1H30M'", value);
    }
    return millis;
  },
  decode(json) {
    if (typeof json === 'number' && Number.isSafeInteger(json)) return json;
    return fail('duration', 'an integer number of milliseconds', json);
  },
};

const INTEGER = /^-?(0|[1-9]\d*)$/;

/** A `bigint` (MikroORM `bigint` columns), stored as its decimal string, read back as a `bigint`. */
export const bigint: Codec<bigint | string | number> = {
  name: 'bigint',
  encode(value) {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    if (typeof value === 'string' && INTEGER.test(value)) return value;
    return fail('bigint', 'a bigint, safe integer or integer string', value);
  },
  decode(json) {
    if (typeof json === 'string' && INTEGER.test(json)) return BigInt(json);
    return fail('bigint', 'an integer string', json);
  },
};

const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?$/;

/**
 * An exact decimal (money, MikroORM `decimal` columns), kept as a string so that no digit is lost
 * to floating point. A finite `number` is accepted and written with `String(n)`.
 */
export const decimal: Codec<string | number> = {
  name: 'decimal',
  encode(value) {
    // String(1e21) is '1e+21': a number that prints in exponent form is refused, not stored in a
    // form decode would reject. Pass such values as strings.
    const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
    if (typeof text === 'string' && DECIMAL.test(text)) return text;
    return fail('decimal', 'a decimal string, or a number that prints without an exponent', value);
  },
  decode(json) {
    if (typeof json === 'string' && DECIMAL.test(json)) return json;
    return fail('decimal', 'a decimal string', json);
  },
};

/** Bytes (`Buffer` or `Uint8Array`), stored as base64, read back as a `Buffer`. */
export const buffer: Codec<Uint8Array> = {
  name: 'buffer',
  encode(value) {
    if (value instanceof Uint8Array)
      return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
    return fail('buffer', 'a Buffer or Uint8Array', value);
  },
  decode(json) {
    if (typeof json === 'string') return Buffer.from(json, 'base64');
    return fail('buffer', 'a base64 string', json);
  },
};

/**
 * A JSON column: any JSON value, checked on write (no `Date`, `bigint`, `undefined` inside, no
 * cycles) so that what is read equals what was written.
 */
export const json: Codec<JsonValue> = {
  name: 'json',
  encode(value) {
    assertJson(value, 'json');
    return value;
  },
  decode(value) {
    return value;
  },
};

/** A primary key of a related instance (a to-one relation): a safe integer or a string. */
export const pk: Codec<number | string> = {
  name: 'pk',
  encode(value) {
    if ((typeof value === 'number' && Number.isSafeInteger(value)) || typeof value === 'string') return value;
    return fail('pk', 'a safe integer or string', value);
  },
  decode(json) {
    if ((typeof json === 'number' && Number.isSafeInteger(json)) || typeof json === 'string') return json;
    return fail('pk', 'a safe integer or string', json);
  },
};

function comparePks(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/**
 * The pks of related instances (a to-many or many-to-many relation), stored sorted and without
 * duplicates so that the same set always encodes the same way: change detection compares encoded
 * records, and an unsorted list would look changed on every refresh.
 */
export const pkList: Codec<readonly (number | string)[]> = {
  name: 'pkList',
  encode(value) {
    if (!Array.isArray(value)) return fail('pkList', 'an array of pks', value);
    const out: (number | string)[] = [];
    for (const item of value) out.push(pk.encode(item) as number | string);
    out.sort(comparePks);
    return out.filter((item, i) => i === 0 || item !== out[i - 1]);
  },
  decode(json) {
    if (!Array.isArray(json)) return fail('pkList', 'an array of pks', json);
    // Checked in place, not copied: the array came from JSON.parse and is the record's own.
    for (const item of json) pk.decode(item);
    return json as (number | string)[];
  },
};

/**
 * Throws unless `value` survives `JSON.stringify` → `JSON.parse` unchanged: plain objects, arrays,
 * strings, finite numbers, booleans and null only.
 */
export function assertJson(
  value: unknown,
  where: string,
  seen: Set<object> = new Set(),
): asserts value is JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return;
    fail(where, 'a finite number', value);
  }
  if (typeof value === 'object') {
    if (seen.has(value)) fail(where, 'an acyclic JSON value', value);
    if (Array.isArray(value)) {
      seen.add(value);
      for (const item of value) assertJson(item, where, seen);
      seen.delete(value);
      return;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      seen.add(value);
      for (const item of Object.values(value)) {
        if (item !== undefined) assertJson(item, where, seen);
      }
      seen.delete(value);
      return;
    }
  }
  fail(where, 'a JSON value (use a codec for Dates, bigints, Buffers)', value);
}

/** The built-in codecs, for `codecs: { pubDate: codecs.datetime }` in a model definition. */
export const codecs = { dateOnly, datetime, duration, bigint, decimal, buffer, json, pk, pkList } as const;
