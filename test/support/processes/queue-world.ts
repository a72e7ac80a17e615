/**
 * The queue suites' world, shared by the test files and the worker child process (so it imports
 * no vitest): the poll app with the journal table on a database several OS processes can open (a
 * better-sqlite FILE, or a Postgres database), and a check of every cached record against the
 * database.
 */

import type { EventSubscriber, Logger, LoggerOptions, MikroORM } from '@mikro-orm/core';
import { Choice, pollEntities, Question, User } from '../../../examples/poll/entities.js';
import type { PollStrategy } from '../../../examples/poll/strategy.js';
import type { InstanceCache, Strategy } from '../../../src/index.js';
import { CacheJournalEntry } from '../../../src/mikro-orm/index.js';
import { compareWithDatabase as compareStore } from '../compare.js';

/** Options of {@link openQueueDatabase}. */
export interface OpenQueueDatabaseOptions {
  subscribers?: EventSubscriber[];
  loggerFactory?: (options: LoggerOptions) => Logger;
  /** Drop and create the schema (the process that owns the database). Default `false`. */
  fresh?: boolean;
}

/**
 * MikroORM on `where`: a `postgresql://` URL (the database is created when `fresh`), or the path
 * of a better-sqlite file (`:memory:` for a private one). Entities: the poll app's and the journal.
 */
export async function openQueueDatabase(
  where: string,
  options: OpenQueueDatabaseOptions = {},
): Promise<MikroORM> {
  const common = {
    entities: [...pollEntities, CacheJournalEntry],
    subscribers: options.subscribers ?? [],
    ...(options.loggerFactory ? { loggerFactory: options.loggerFactory } : {}),
  };
  let orm: MikroORM;
  if (/^postgres(ql)?:\/\//.test(where)) {
    const { MikroORM: PostgresOrm } = await import('@mikro-orm/postgresql');
    orm = (await PostgresOrm.init({ ...common, clientUrl: where })) as unknown as MikroORM;
    if (options.fresh) await orm.schema.ensureDatabase();
  } else {
    const { MikroORM: SqliteOrm } = await import('@mikro-orm/better-sqlite');
    orm = (await SqliteOrm.init({ ...common, dbName: where })) as unknown as MikroORM;
  }
  if (options.fresh) await orm.schema.refreshDatabase();
  return orm;
}

/** What {@link compareWithDatabase} found. */
export interface Comparison {
  /** Records compared (model × version × pk). */
  readonly compared: number;
  /** `Model@version:pk` of every record served that differs from the database. */
  readonly stale: string[];
}

const _MODELS = { Question, Choice, User } as const;

/** The poll app's cache (any store). */
export type PollCache = InstanceCache<PollStrategy extends Strategy<infer R> ? R : never>;

/**
 * Reads every record of every model in every version from `cache`'s store and compares it with a
 * fresh load + serialization from the database (test/support/compare.ts): the "0 stale" check.
 */
export async function compareWithDatabase(cache: PollCache, orm: MikroORM): Promise<Comparison> {
  const { compared, mismatches } = await compareStore(orm, cache.strategy, cache.store);
  return { compared, stale: mismatches.map(({ model, version, pk }) => `${model}@${version}:${pk}`) };
}
