/**
 * `graphql-cached-instances/apollo`: Apollo Server types resolved from the instance cache, one
 * cache version per schema version. Serving stays Apollo's own (`startStandaloneServer`, or an
 * integration such as `@as-integrations/express5` for several versions on one port); this entry
 * adds what goes into each `ApolloServer`:
 *
 * - {@link cachedContext} adds per-request loaders, version and stats to a context function.
 * - {@link createCachedResolvers} declares resolvers: by id, related pks, paginated root lists
 *   (with an optional `totalCount`), with a `canRead` check on every path that may follow
 *   relations ({@link readableThrough}).
 * - {@link createQueryLimits} refuses too deep or too costly operations before they run.
 * - {@link createErrorFormatter} masks internal errors (an error id for the client, the cause in
 *   your logs); {@link checkTextArgument} turns text the database would refuse into
 *   `BAD_USER_INPUT`.
 * - {@link ApolloServerPluginCacheStats} reports `extensions.cache` per request;
 *   {@link sqlCounterMiddleware} scopes SQL counting per request.
 *
 * @packageDocumentation
 */
export {
  type Connection,
  decodeCursor,
  type Edge,
  encodeCursor,
  type PageArgs,
  type PageInfo,
  type PkPageRequest,
  type PkRow,
} from './connection.js';
export {
  type CachedContext,
  type CachedContextOptions,
  type ContextFunctionOf,
  cachedContext,
  clearLoaders,
} from './context.js';
export { BAD_USER_INPUT, badUserInput, toGraphQLError } from './errors.js';
export {
  createErrorFormatter,
  type ErrorFormatterOptions,
  type ErrorLogger,
  INTERNAL_SERVER_ERROR,
} from './format-error.js';
export { checkTextArgument, type TextArgumentOptions } from './input.js';
export {
  createQueryLimits,
  type QueryLimits,
  type QueryLimitsOptions,
  type QueryRefusal,
} from './limits.js';
export {
  type CachedFieldResolver,
  type CachedResolvers,
  type CachedResolversOptions,
  type CanRead,
  type CanReadRule,
  createCachedResolvers,
  type FieldMap,
  type ListCacheOptions,
  type ListCountRequest,
  type ListOptions,
  type LoaderContext,
  type ReadAccess,
  type RelatedOptions,
  readableThrough,
  type TypeResolvers,
} from './resolvers.js';
export {
  countSqlQuery,
  createSqlCounter,
  type Middleware,
  runWithSqlCounter,
  type SqlCounter,
  sqlCounterMiddleware,
} from './sql-scope.js';
export {
  ApolloServerPluginCacheStats,
  type CacheStatsContext,
  type CacheStatsPlugin,
  type CacheStatsPluginOptions,
  type CacheStatsTotals,
  createCacheStatsTotals,
  type ResponseCacheStats,
} from './stats-plugin.js';
