import { GraphQLError } from 'graphql';
import { InvalidPkError } from '../errors.js';

/** The `extensions.code` Apollo uses for bad arguments; clients branch on it. */
export const BAD_USER_INPUT = 'BAD_USER_INPUT';

/**
 * A GraphQL error for a bad argument (malformed id, cursor, page size): `extensions.code` is
 * `BAD_USER_INPUT`, plus any `extensions` given. The message is shown to the client as is.
 */
export function badUserInput(
  message: string,
  extensions: Readonly<Record<string, unknown>> = {},
): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code: BAD_USER_INPUT } });
}

/**
 * Turns what a cache read threw into what a client should see: an `InvalidPkError` (a malformed
 * id) becomes a {@link badUserInput} error naming the model and the id; anything else is returned
 * unchanged (Apollo masks it as an internal error).
 */
export function toGraphQLError(error: unknown): unknown {
  if (error instanceof InvalidPkError) {
    return badUserInput(error.message, { model: error.context.model });
  }
  return error;
}
