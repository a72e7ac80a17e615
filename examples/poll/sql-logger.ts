import { DefaultLogger, type LogContext, type Logger, type LoggerOptions } from '@mikro-orm/core';
import { countSqlQuery } from '../../src/apollo/index.js';

/**
 * MikroORM's default logger, plus one `countSqlQuery()` per statement, so each GraphQL request
 * reports the SQL it caused in `extensions.cache.sql`. MikroORM calls `logQuery` after every
 * statement whatever the debug mode; the statement itself is printed only in debug mode.
 */
class CountingLogger extends DefaultLogger {
  override logQuery(context: { query: string } & LogContext): void {
    if (context.level !== 'error') countSqlQuery();
    super.logQuery(context);
  }
}

/** Pass to `MikroORM.init({ loggerFactory })`. */
export function countingLoggerFactory(options: LoggerOptions): Logger {
  return new CountingLogger(options);
}
