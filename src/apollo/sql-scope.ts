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
 * by `fn` and by anything it starts asynchronously lands in `counter`.
 * `createGraphQLHttpHandler` does this for every request; call it yourself around
 * `executeHTTPGraphQLRequest` (or your framework's handler) when you use another transport.
 */
export function runWithSqlCounter<T>(counter: SqlCounter, fn: () => T): T {
  return scope.run(counter, fn);
}

/**
 * Adds `count` statements to the current request's SQL counter; does nothing outside a request.
 * Call it from your ORM's query logger, e.g. a MikroORM `loggerFactory` whose `logQuery` calls
 * `countSqlQuery()`. Queries that one request's load runs on behalf of another (single-flight)
 * count for the request that started the load.
 */
export function countSqlQuery(count = 1): void {
  const counter = scope.getStore();
  if (counter) counter.queries += count;
}

/** The SQL counter of the request this code runs for, if it runs inside {@link runWithSqlCounter}. */
export function currentSqlCounter(): SqlCounter | undefined {
  return scope.getStore();
}
