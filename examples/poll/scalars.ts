import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

function parseInstant(value: unknown): Date {
  const date = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) {
    throw new GraphQLError(
      `DateTime: expected an ISO-8601 instant such as "2024-05-01T10:00:00Z", got ${JSON.stringify(value)}`,
    );
  }
  return date;
}

/** `scalar DateTime`: a `Date` in resolvers, an ISO-8601 UTC string on the wire. */
export const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An instant, as an ISO-8601 string in UTC with milliseconds.',
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
