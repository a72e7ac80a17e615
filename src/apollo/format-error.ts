import { randomUUID } from 'node:crypto';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { InvalidOptionError } from '../errors.js';

/** Where {@link createErrorFormatter} logs internal errors. `console` fits. */
export interface ErrorLogger {
  error(message: string, details: Readonly<Record<string, unknown>>): void;
}

/** Options of {@link createErrorFormatter}. */
export interface ErrorFormatterOptions {
  /**
   * Receives every internal error with its id and cause (the full error: message, SQL, bound
   * values, stack). Required: masking an error nobody can read later would hide bugs.
   */
  logger: ErrorLogger;
  /**
   * Send internal errors' own messages and Apollo's stack traces to clients. Default `false`,
   * whatever `NODE_ENV` says. Turn it on for local development only: messages of database errors
   * carry SQL, bound values and constraint names, and stack traces carry file paths.
   */
  includeDetails?: boolean;
}

/** The `extensions.code` of a masked error. */
export const INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR';

const BAD_REQUEST = 'BAD_REQUEST';

/**
 * An Apollo `formatError` that masks unexpected errors. An error is expected when it was thrown
 * on purpose as a `GraphQLError` with a `code` (`BAD_USER_INPUT`, `FORBIDDEN`, …) or an HTTP
 * status from 400 to 499 (`extensions.http`), or produced by Apollo and graphql-js for a bad
 * request (parse, validation, variable coercion, CSRF, a persisted-query hash that does not
 * match): those reach the client with their message and code (`BAD_REQUEST` for a 4xx error
 * that has none). Everything else — a database error, a `TypeError`,
 * a failed context function, an error whose code is `INTERNAL_SERVER_ERROR` — reaches the client
 * as
 *
 * ```json
 * { "message": "Internal server error (error id 6f1c…)", "path": ["vote"],
 *   "extensions": { "code": "INTERNAL_SERVER_ERROR", "errorId": "6f1c…" } }
 * ```
 *
 * and is logged with the same id and its cause, so support can find it from what the client
 * shows. Stack traces (`extensions.stacktrace`, which Apollo adds whenever `NODE_ENV` is neither
 * `production` nor `test` — also when it is unset) are removed from every error unless
 * `includeDetails` is set.
 *
 * @example
 * new ApolloServer({ typeDefs, resolvers, formatError: createErrorFormatter({ logger: console }) });
 */
export function createErrorFormatter(
  options: ErrorFormatterOptions,
): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  const logger = options?.logger;
  if (!logger || typeof logger.error !== 'function') {
    throw new InvalidOptionError(
      'createErrorFormatter: options.logger must have an error(message, details) method (console works)',
      { context: { option: 'logger' } },
    );
  }
  const includeDetails = options.includeDetails === true;

  return (formatted, error) => {
    const code = formatted.extensions?.code;
    const cause = unwrapResolverError(error);
    const expected =
      isGraphQLError(cause) &&
      ((code !== INTERNAL_SERVER_ERROR && code !== undefined) || isClientStatus(cause));
    if (expected) {
      const { stacktrace, ...extensions } = formatted.extensions ?? {};
      // A 4xx error without a code of its own gets Apollo's code for a bad request.
      if (code === INTERNAL_SERVER_ERROR || code === undefined) extensions.code = BAD_REQUEST;
      if (includeDetails && stacktrace !== undefined) extensions.stacktrace = stacktrace;
      return { ...formatted, extensions };
    }
    const errorId = randomUUID();
    try {
      logger.error(`Internal server error ${errorId}: ${describe(cause)}`, {
        errorId,
        error: cause,
        ...(formatted.path ? { path: formatted.path } : {}),
      });
    } catch {
      // A failing logger must not turn a masked error into an unmasked one.
    }
    if (includeDetails) {
      return { ...formatted, extensions: { ...formatted.extensions, code: INTERNAL_SERVER_ERROR, errorId } };
    }
    return {
      message: `Internal server error (error id ${errorId})`,
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: INTERNAL_SERVER_ERROR, errorId },
    };
  };
}

function describe(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return String(cause);
}

// By its tag rather than `instanceof`: an app, Apollo and a bundler may hold different copies of
// graphql, and a GraphQLError of any copy is one (graphql 16 tags its class 'GraphQLError').
function isGraphQLError(value: unknown): boolean {
  return Object.prototype.toString.call(value) === '[object GraphQLError]';
}

// A GraphQLError that answers the request with a 4xx status is about the request, not a failure.
function isClientStatus(error: unknown): boolean {
  const status = (error as { extensions?: { http?: { status?: unknown } } }).extensions?.http?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}
