import type { LogContext, Logger, LoggerNamespace, LoggerOptions } from '@mikro-orm/core';

/**
 * Counts the SQL statements MikroORM actually executed, through its `loggerFactory`: MikroORM
 * calls `logQuery` after every statement it ran (whatever the debug mode), including BEGIN,
 * COMMIT and savepoints. Nothing is mocked; the statements ran against the real database.
 */
export interface SqlCounter {
  /** Pass to `MikroORM.init({ loggerFactory })`. */
  readonly loggerFactory: (options: LoggerOptions) => Logger;
  /** Every statement since the last `reset`, in order. */
  readonly statements: readonly string[];
  /** Statements since the last `reset`, without transaction control (begin, commit, savepoints). */
  readonly queries: readonly string[];
  /** Only the `select` statements since the last `reset`. */
  readonly selects: readonly string[];
  /** Forgets what was counted. */
  reset(): void;
  /** Runs `fn` and returns its result with the statements it ran (without transaction control). */
  measure<T>(fn: () => Promise<T>): Promise<{ result: T; queries: string[] }>;
}

const CONTROL = /^\s*(begin|commit|rollback|savepoint|release savepoint|rollback to savepoint)\b/i;

/** Creates a counter; give its `loggerFactory` to the ORM. */
export function createSqlCounter(): SqlCounter {
  let statements: string[] = [];
  const logger: Logger = {
    log() {},
    error() {},
    warn() {},
    setDebugMode() {},
    isEnabled: (_namespace: LoggerNamespace) => false,
    logQuery(context: LogContext) {
      if (context.query !== undefined && context.level !== 'error') statements.push(context.query);
    },
  };
  const queries = () => statements.filter((sql) => !CONTROL.test(sql));
  return {
    loggerFactory: () => logger,
    get statements() {
      return statements;
    },
    get queries() {
      return queries();
    },
    get selects() {
      return statements.filter((sql) => /^\s*select\b/i.test(sql));
    },
    reset() {
      statements = [];
    },
    async measure(fn) {
      const start = statements.length;
      const result = await fn();
      return { result, queries: statements.slice(start).filter((sql) => !CONTROL.test(sql)) };
    },
  };
}
