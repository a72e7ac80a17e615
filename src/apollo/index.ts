/**
 * `graphql-cached-instances/apollo`: Apollo Server types resolved from the instance cache, one
 * cache version per schema version.
 *
 * - {@link cachedContext} adds per-request loaders, version and stats to a context function.
 * - {@link createCachedResolvers} declares resolvers: by id, related pks, paginated root lists,
 *   with a `canRead` check on every path.
 * - {@link ApolloServerPluginCacheStats} reports `extensions.cache` per request.
 * - {@link createGraphQLHttpHandler} / {@link startGraphQLServer} serve `/graphql/v1`,
 *   `/graphql/v2`, … from one `node:http` server.
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
export {
  createGraphQLHttpHandler,
  type GraphQLHttpHandlerOptions,
  type GraphQLRoute,
  graphqlRoute,
  type HttpContextArgs,
} from './http-handler.js';
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
  type ListCountRequest,
  type ListOptions,
  type LoaderContext,
  type ReadAccess,
  type RelatedOptions,
  readableThrough,
  type TypeResolvers,
} from './resolvers.js';
export {
  type GraphQLVersion,
  type RunningGraphQLServer,
  type StartGraphQLServerOptions,
  startGraphQLServer,
} from './server.js';
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
