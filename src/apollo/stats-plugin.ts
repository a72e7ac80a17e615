import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { CacheStats } from '../core/stats.js';
import { InvalidOptionError } from '../errors.js';
import { currentSqlCounter, enterSqlScope, type SqlCounter } from './sql-scope.js';

/** The figures of one request, as `extensions.cache` carries them. */
export interface ResponseCacheStats {
  /** SQL statements run for the request (see `countSqlQuery`). */
  sql: number;
  /** Store calls (one `MGET`, one script): one per level of nesting on a warm request, none from L1. */
  storeRoundTrips: number;
  /** Loads answered by the request's DataLoader memo. */
  memoHits: number;
  /** Records served from the cache (the store or L1). */
  hits: number;
  /** The records and cached lists of `hits` and `listHits` that L1 served, with no round trip. */
  l1Hits: number;
  /** Records that had to be loaded from the database. */
  misses: number;
  /** Cached root lists served without running their query. */
  listHits: number;
  /** Cached root lists whose query had to run. */
  listMisses: number;
  /** Fills that raced a write, detected and not served. */
  staleRejected: number;
}

/** Sums over every request a plugin saw, for metrics. */
export interface CacheStatsTotals extends ResponseCacheStats {
  /** Requests counted. */
  requests: number;
}

/** What the plugin reads from a context: the fields {@link cachedContext} adds. */
export interface CacheStatsContext extends BaseContext {
  readonly cacheStats: CacheStats;
  readonly sql: SqlCounter;
}

/** Options of {@link ApolloServerPluginCacheStats}. */
export interface CacheStatsPluginOptions {
  /**
   * Put `extensions.cache` on every response. Default `false`: only on requests that send the
   * {@link header}. Turn it on for development or benchmarks; the figures reveal how a query was
   * served (cached or not), which production APIs usually keep to themselves.
   */
  enabled?: boolean;
  /**
   * A request header that turns the figures on for one request when its value is `1`. Default
   * `'x-cache-stats'`; `false` ignores headers.
   */
  header?: string | false;
  /** Called once per request (enabled or not) with its figures: feed your metrics here. Default: none. */
  onResponse?(stats: ResponseCacheStats): void;
  /**
   * Give each request its own SQL scope when the server set none (no `sqlCounterMiddleware()` or
   * `runWithSqlCounter` around it): the statements the ORM logger counts during the operation then
   * land in `extensions.cache.sql`, on any server, `startStandaloneServer` included. It turns on
   * Node's async context tracking, which costs CPU on every promise of the process (0–8% per warm
   * nested request in the library's benchmark). Default `false`: without a scope `sql` stays 0.
   */
  countSql?: boolean;
}

/** The stats plugin: an Apollo plugin plus running {@link CacheStatsTotals}. */
export interface CacheStatsPlugin<Context extends CacheStatsContext> extends ApolloServerPlugin<Context> {
  /** Totals since the plugin was created (live object; read, do not write). */
  readonly totals: Readonly<CacheStatsTotals>;
}

function figures(context: CacheStatsContext): ResponseCacheStats {
  const { cacheStats: s, sql } = context;
  return {
    sql: sql.queries,
    storeRoundTrips: s.storeRoundTrips,
    memoHits: s.memoHits,
    hits: s.hits,
    l1Hits: s.l1Hits,
    misses: s.misses,
    listHits: s.listHits,
    listMisses: s.listMisses,
    staleRejected: s.staleRejected,
  };
}

// Requests already claimed by a stats plugin. Apollo hands every plugin of a server the same
// request context object, so a second ApolloServerPluginCacheStats on one server (added by the
// user and by a helper, say) finds the request claimed and stays out: nothing is counted or
// reported twice.
const claimed = new WeakSet<object>();

/**
 * Reports each request's cache figures: with the plugin enabled (or the request header set),
 * every response carries `extensions.cache = { sql, storeRoundTrips, memoHits, hits, l1Hits,
 * misses, listHits, listMisses, staleRejected }`, and every request is added to `plugin.totals`. Needs a context made by
 * {@link cachedContext}; requests whose context lacks the fields are left alone.
 *
 * The figures are taken in `willSendResponse`, after execution: they cover resolvers, loaders and
 * the mutation's own cache refresh, but not HTTP-level rejections (CSRF, bad JSON), which never
 * reach the pipeline.
 *
 * Adding the plugin twice to one server is harmless: the first instance in the `plugins` list
 * reports and counts each request; the others stay idle (their `totals` stay zero) and the
 * server's logger warns once.
 *
 * @example
 * new ApolloServer({ typeDefs, resolvers, plugins: [ApolloServerPluginCacheStats({ enabled: true })] });
 */
export function ApolloServerPluginCacheStats<Context extends CacheStatsContext = CacheStatsContext>(
  options: CacheStatsPluginOptions = {},
): CacheStatsPlugin<Context> {
  const header = options.header === undefined ? 'x-cache-stats' : options.header;
  if (header !== false && (typeof header !== 'string' || header === '')) {
    throw new InvalidOptionError(
      `ApolloServerPluginCacheStats: options.header must be a header name or false, got ${String(header)}`,
    );
  }
  const headerName = header === false ? null : header.toLowerCase();
  if (options.countSql !== undefined && typeof options.countSql !== 'boolean') {
    throw new InvalidOptionError(
      `ApolloServerPluginCacheStats: options.countSql must be a boolean, got ${String(options.countSql)}`,
    );
  }
  const countSql = options.countSql === true;
  const totals = createCacheStatsTotals();
  let warned = false;
  return {
    totals,
    async requestDidStart(requestContext) {
      const { request } = requestContext;
      if (claimed.has(requestContext)) {
        if (!warned) {
          warned = true;
          requestContext.logger.warn(
            'ApolloServerPluginCacheStats was added to this server more than once; only the first instance reports',
          );
        }
        return;
      }
      claimed.add(requestContext);
      // Entered before this function's first await, so in the pipeline's own async context: the
      // operation that runs after it (resolvers, loaders, their SQL) counts into this request.
      const sql = requestContext.contextValue?.sql;
      if (countSql && sql && currentSqlCounter() === undefined) enterSqlScope(sql);
      const show =
        options.enabled === true || (headerName !== null && request.http?.headers.get(headerName) === '1');
      return {
        async willSendResponse({ response, contextValue }) {
          if (!contextValue?.cacheStats || !contextValue.sql) return;
          const stats = figures(contextValue);
          totals.requests += 1;
          for (const key of Object.keys(stats) as (keyof ResponseCacheStats)[]) totals[key] += stats[key];
          options.onResponse?.(stats);
          if (!show) return;
          const result =
            response.body.kind === 'single' ? response.body.singleResult : response.body.initialResult;
          result.extensions = { ...result.extensions, cache: stats };
        },
      };
    },
  };
}

/** Zeroed {@link CacheStatsTotals}. */
export function createCacheStatsTotals(): CacheStatsTotals {
  return {
    requests: 0,
    sql: 0,
    storeRoundTrips: 0,
    memoHits: 0,
    hits: 0,
    l1Hits: 0,
    misses: 0,
    listHits: 0,
    listMisses: 0,
    staleRejected: 0,
  };
}
