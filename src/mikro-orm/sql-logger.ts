import { DefaultLogger, type LogContext, type Logger, type LoggerOptions } from '@mikro-orm/core';
import { countSqlQuery } from '../apollo/sql-scope.js';
import { InvalidOptionError } from '../errors.js';

/** A MikroORM `loggerFactory`: what `MikroORM.init({ loggerFactory })` takes. */
export type LoggerFactory = (options: LoggerOptions) => Logger;

/**
 * A MikroORM `loggerFactory` whose loggers also count every SQL statement (transaction
 * statements included, failed ones not) into the current request's SQL counter, so that
 * `context.sql` and `extensions.cache.sql` (`ApolloServerPluginCacheStats`) report what each
 * GraphQL request cost the database — with no code in your resolvers or loaders.
 *
 * MikroORM calls `logQuery` after every statement whatever its debug mode; statements are still
 * printed only when debug mode says so. Everything else is delegated to the logger `base` makes
 * (default: MikroORM's `DefaultLogger`).
 *
 * Counting needs a per-request scope: with express, mount `sqlCounterMiddleware()` (from
 * `graphql-cached-instances/apollo`) before Apollo's middleware; elsewhere, wrap the request in
 * `runWithSqlCounter`. Outside a scope nothing is counted.
 *
 * @example
 * const orm = await MikroORM.init({ ...config, loggerFactory: createSqlCountingLoggerFactory() });
 */
export function createSqlCountingLoggerFactory(
  base: LoggerFactory = (options) => new DefaultLogger(options),
): LoggerFactory {
  if (typeof base !== 'function') {
    throw new InvalidOptionError(
      `createSqlCountingLoggerFactory(base): base must be a MikroORM loggerFactory, got ${typeof base}`,
    );
  }
  return (options) => {
    const inner = base(options);
    return {
      log: (namespace, message, context) => inner.log(namespace, message, context),
      error: (namespace, message, context) => inner.error(namespace, message, context),
      warn: (namespace, message, context) => inner.warn(namespace, message, context),
      setDebugMode: (debugMode) => inner.setDebugMode(debugMode),
      isEnabled: (namespace, context) => inner.isEnabled(namespace, context),
      logQuery(context: LogContext) {
        if (context.level !== 'error') countSqlQuery();
        inner.logQuery(context);
      },
    };
  };
}
