import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { codecs } from '../../src/index.js';

// Years 1 to 9999: what a four-digit ISO year can say, what a JavaScript Date, PostgreSQL's
// timestamptz and SQLite all store and read back. Year 0 (1 BC) is refused: PostgreSQL fails on it.
const FIRST = new Date('0001-01-01T00:00:00Z').getTime();
const LAST = new Date('9999-12-31T23:59:59.999Z').getTime();

function parseInstant(value: unknown): Date {
  let date: Date | null = null;
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
    try {
      // The codec's reading: a zone-less string is UTC, digits past the millisecond are cut.
      date = new Date(codecs.datetime.encode(value) as string);
    } catch {
      date = null;
    }
  }
  if (!date) {
    throw new GraphQLError(
      `DateTime: expected an ISO-8601 instant such as "2024-05-01T10:00:00Z", got ${JSON.stringify(value)?.slice(0, 64)}`,
    );
  }
  if (date.getTime() < FIRST || date.getTime() > LAST) {
    throw new GraphQLError(`DateTime: expected a year from 0001 to 9999, got ${JSON.stringify(value)}`);
  }
  return date;
}

/** `scalar DateTime`: a `Date` in resolvers, an ISO-8601 UTC string on the wire. */
export const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An instant, as an ISO-8601 string in UTC with milliseconds, years 0001 to 9999.',
  serialize(value) {
    if (value instanceof Date) return value.toISOString();
    return parseInstant(value).toISOString();
  },
  parseValue: parseInstant,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTime: expected a string literal');
    return parseInstant(ast.value);
  },
});
