/**
 * Every contestant of the benchmark, in the order they are created, verified and listed. Each one
 * gets its own database; see bench/README.md for what each one is.
 */
import type { Contestant } from './lib/contestant.js';
import type { PollData, PollModel } from './lib/data.js';
import { type BenchDatabase, openSqlite, type PostgresDatabases, REDIS_URL } from './lib/databases.js';
import { CACHED_INSTANCES_VARIANTS, createCachedInstances } from './variants/cached-instances.js';
import { createDataLoaderOrm } from './variants/dataloader-orm.js';
import { createFloor } from './variants/floor.js';
import { createLayeredLoader } from './variants/layered-loader.js';
import { createNaive } from './variants/naive.js';
import { createRawRows } from './variants/raw-rows.js';
import { createResponseCache } from './variants/response-cache.js';

/** A contestant to create, or the reason it cannot run here. */
export interface ContestantDefinition {
  readonly id: string;
  /** Why its service is missing; `undefined` when it can run. */
  readonly down: string | undefined;
  make(): Promise<Contestant>;
}

/** What the definitions need from the run. */
export interface ContestantEnvironment {
  readonly data: PollData;
  readonly model: PollModel;
  /** This run's Postgres databases; `undefined` when Postgres does not answer. */
  readonly postgres: PostgresDatabases | undefined;
  readonly postgresDown: string | undefined;
  readonly redisDown: string | undefined;
  /** The prefix of every Redis key and channel of this run. */
  readonly redisPrefix: string;
}

/** Opens a database and builds a contestant on it, closing the database if that fails. */
async function on(db: Promise<BenchDatabase>, make: (db: BenchDatabase) => Promise<Contestant>) {
  const opened = await db;
  try {
    return await make(opened);
  } catch (error) {
    await opened.close();
    throw error;
  }
}

/**
 * The contestants. Those that are not tied to one database read Postgres when it answers, SQLite
 * otherwise.
 */
export function contestantDefinitions(env: ContestantEnvironment): ContestantDefinition[] {
  const { data, model, postgres, postgresDown, redisDown, redisPrefix } = env;
  const mainDb = (): Promise<BenchDatabase> => (postgres ? postgres.copy() : openSqlite(data));
  const pg = () => {
    if (!postgres) throw new Error('bench: Postgres is not available');
    return postgres.copy();
  };
  const records = data.users.length + data.questions.length + data.choices.length;
  const run = (id: string) => ({ redisUrl: REDIS_URL, namespace: `${redisPrefix}-${id}`, records });
  return [
    { id: 'floor', down: undefined, make: () => createFloor(model) },
    { id: 'dataloader-sqlite', down: undefined, make: () => on(openSqlite(data), createDataLoaderOrm) },
    { id: 'dataloader-postgres', down: postgresDown, make: () => on(pg(), createDataLoaderOrm) },
    { id: 'raw-rows-postgres', down: postgresDown, make: () => on(pg(), createRawRows) },
    { id: 'naive', down: undefined, make: () => on(mainDb(), createNaive) },
    {
      id: 'response-cache',
      down: undefined,
      make: () => on(mainDb(), (db) => createResponseCache(db, run('response-cache'))),
    },
    {
      id: 'layered-loader-redis',
      down: redisDown,
      make: () => on(mainDb(), (db) => createLayeredLoader(db, 'redis', `${redisPrefix}-llr`)),
    },
    {
      id: 'layered-loader-memory-redis',
      down: redisDown,
      make: () => on(mainDb(), (db) => createLayeredLoader(db, 'memory-redis', `${redisPrefix}-llm`)),
    },
    ...CACHED_INSTANCES_VARIANTS.map((variant) => ({
      id: variant.id,
      down: variant.needsRedis ? redisDown : undefined,
      make: () => on(mainDb(), (db) => createCachedInstances(variant, db, run(variant.id))),
    })),
  ];
}
