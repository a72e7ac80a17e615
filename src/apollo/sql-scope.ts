import { AsyncLocalStorage } from 'node:async_hooks';

/** A request's SQL statement count, reported as `extensions.cache.sql`. */
export interface SqlCounter {
  /** Statements run on behalf of the request so far. */
  queries: number;
}

// One scope for the whole process. Node propagates it through promises, timers and DataLoader's
// batch scheduling (its batch runs in the async context of the first `load` of the tick), so an
// ORM logger called deep inside a loader still finds the request that caused the query.
const scope = new AsyncLocalStorage<SqlCounter>();

/** A zeroed {@link SqlCounter}. */
export function createSqlCounter(): SqlCounter {
  return { queries: 0 };
}

/**
 * Runs `fn` with `counter` as the current request's SQL counter: every {@link countSqlQuery} made
 * by `fn` and by anything it starts asynchronously lands in `counter`. With express, use
 * {@link sqlCounterMiddleware}; with another server, call it around the handler that runs
 * Apollo (`executeHTTPGraphQLRequest`, or the integration's middleware).
 */
export function runWithSqlCounter<T>(counter: SqlCounter, fn: () => T): T {
  return scope.run(counter, fn);
}

/**
 * Makes `counter` the SQL counter of the current async context and of everything it goes on to
 * start (the stats plugin's `countSql`, which has no function to wrap). @internal
 */
export function enterSqlScope(counter: SqlCounter): void {
  scope.enterWith(counter);
}

/**
 * Adds `count` statements to the current request's SQL counter; does nothing outside a request.
 * Call it from your ORM's query logger; for MikroORM, `createSqlCountingLoggerFactory()` from
 * `graphql-cached-instances/mikro-orm` does. Queries that one request's load runs on behalf of
 * another (single-flight) count for the request that started the load.
 */
export function countSqlQuery(count = 1): void {
  const counter = scope.getStore();
  if (counter) counter.queries += count;
}

/** The SQL counter of the request this code runs for, if it runs inside {@link runWithSqlCounter}. */
export function currentSqlCounter(): SqlCounter | undefined {
  return scope.getStore();
}

/** The part of an HTTP middleware signature {@link sqlCounterMiddleware} uses (express, connect). */
export type Middleware = (req: unknown, res: unknown, next: (error?: unknown) => void) => void;

/**
 * An express (or connect) middleware that gives each request its own SQL counter
 * ({@link runWithSqlCounter}), so that the statements counted by the ORM's logger land in that
 * request's `context.sql` and `extensions.cache.sql`. Mount it after the body parser and before
 * Apollo's middleware, on the GraphQL paths only:
 *
 * ```ts
 * app.use('/graphql/v2', express.json(), sqlCounterMiddleware(), expressMiddleware(server, { context }));
 * ```
 *
 * It turns on Node's async context tracking, which costs CPU on every promise of the process
 * (0–8% per warm nested request in the library's benchmark): mount it where per-request SQL counts are
 * worth that (development, staging, sampled production instances).
 */
export function sqlCounterMiddleware(): Middleware {
  return (_req, _res, next) => runWithSqlCounter(createSqlCounter(), next);
}
