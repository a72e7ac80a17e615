import type { EventSubscriber, Logger, LoggerOptions, MikroORM } from '@mikro-orm/core';
import { CacheJournalEntry } from '../../src/mikro-orm/index.js';
import { pollEntities } from './entities.js';

/** Options of {@link createPollOrm}. */
export interface CreatePollOrmOptions {
  /**
   * Where the data lives. `':memory:'` (default) is a private better-sqlite database; a
   * `postgresql://…` URL is a real Postgres database, created if missing.
   */
  database?: string;
  /** Subscribers registered at init (register the cache subscriber first). Default: none. */
  subscribers?: EventSubscriber[];
  /** A MikroORM `loggerFactory` (the tests count SQL statements through one). Default: MikroORM's. */
  loggerFactory?: (options: LoggerOptions) => Logger;
  /** Drop and recreate the schema. Default `true` (a fresh, empty database). */
  fresh?: boolean;
}

/**
 * Initialises MikroORM for the poll app on better-sqlite (in memory) or Postgres, and creates the
 * schema (the poll tables and the cache journal's `gci_cache_journal`). Both drivers are loaded on demand, so an app that uses one never loads the other.
 *
 * @example
 * const orm = await createPollOrm({ database: process.env.DATABASE_URL ?? ':memory:' });
 */
export async function createPollOrm(options: CreatePollOrmOptions = {}): Promise<MikroORM> {
  const database = options.database ?? ':memory:';
  const common = {
    // The cache's durable journal lives beside the data, in the same transactions.
    entities: [...pollEntities, CacheJournalEntry],
    subscribers: options.subscribers ?? [],
    ...(options.loggerFactory ? { loggerFactory: options.loggerFactory } : {}),
  };
  let orm: MikroORM;
  if (/^postgres(ql)?:\/\//.test(database)) {
    const { MikroORM: PostgresOrm } = await import('@mikro-orm/postgresql');
    orm = (await PostgresOrm.init({ ...common, clientUrl: database })) as unknown as MikroORM;
    await orm.schema.ensureDatabase();
  } else {
    const { MikroORM: SqliteOrm } = await import('@mikro-orm/better-sqlite');
    orm = (await SqliteOrm.init({ ...common, dbName: database })) as unknown as MikroORM;
  }
  if (options.fresh ?? true) await orm.schema.refreshDatabase();
  return orm;
}
