/**
 * The queue suites' world, shared by the test files and the worker child process (so it imports
 * no vitest): the poll app with the journal table on a database several OS processes can open (a
 * better-sqlite FILE, or a Postgres database), and a check of every cached record against the
 * database.
 */
import type { EventSubscriber, Logger, LoggerOptions, MikroORM } from '@mikro-orm/core';
import { Choice, pollEntities, Question, User } from '../../../examples/poll/entities.js';
import { POLL_VERSIONS, type PollStrategy } from '../../../examples/poll/strategy.js';
import type { InstanceCache, Pk, Strategy } from '../../../src/index.js';
import { CacheJournalEntry } from '../../../src/mikro-orm/index.js';

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

const MODELS = { Question, Choice, User } as const;

/** The poll app's cache (any store). */
export type PollCache = InstanceCache<PollStrategy extends Strategy<infer R> ? R : never>;

/**
 * Reads every record of every model in every version through `cache` and compares it with a
 * fresh load + serialization from the database (through the record codec, as a cached record
 * is): the "0 stale" check.
 */
export async function compareWithDatabase(cache: PollCache, orm: MikroORM): Promise<Comparison> {
  const strategy = cache.strategy;
  const stale: string[] = [];
  let compared = 0;
  for (const [model, entity] of Object.entries(MODELS)) {
    const rows = (await orm.em.fork().find(entity as typeof Question, {}, { fields: ['id'] })) as {
      id: number;
    }[];
    const pks: Pk[] = rows.map((row) => row.id);
    for (const version of POLL_VERSIONS) {
      const resolved = strategy.resolve(model, version);
      const loaded = new Map<Pk, unknown>();
      for (const one of await resolved.load(pks, { model, version })) loaded.set(resolved.pkOf(one), one);
      const served = await cache.getInstances(model as keyof typeof MODELS, pks, { version });
      pks.forEach((pk, i) => {
        const record = loaded.has(pk) ? resolved.serialize!(loaded.get(pk)) : null;
        const fresh = record === null ? null : resolved.codec.decode(resolved.codec.encode(record));
        compared += 1;
        if (JSON.stringify(served[i]) !== JSON.stringify(fresh)) stale.push(`${model}@${version}:${pk}`);
      });
    }
  }
  return { compared, stale };
}
