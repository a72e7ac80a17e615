/**
 * MikroORM test databases: better-sqlite in memory (always) and the real Postgres (when it
 * answers; see services.ts). Every Postgres ORM gets a database of its own, created on start and
 * dropped by `close()`, so parallel test files never share data.
 */
import type { EntitySchema, EventSubscriber, MikroORM } from '@mikro-orm/core';
import { createPollOrm } from '../../examples/poll/orm.js';
import { POSTGRES_URL, servicesAvailable } from './services.js';
import { createSqlCounter, type SqlCounter } from './sql-counter.js';

/** A database a MikroORM suite runs on. */
export type TestDatabase = 'sqlite' | 'postgres';

/**
 * The databases to run a parameterised suite on: better-sqlite always, Postgres when it answers
 * (one skip line otherwise; a failure under REQUIRE_SERVICES=1).
 *
 * @example
 * describe.each(await testDatabases())('writes on %s', (db) => { ... });
 */
export async function testDatabases(): Promise<TestDatabase[]> {
  return (await servicesAvailable('postgres')) ? ['sqlite', 'postgres'] : ['sqlite'];
}

/** An ORM on a private poll database, with its SQL counter. */
export interface TestOrm {
  readonly orm: MikroORM;
  readonly sql: SqlCounter;
  readonly database: TestDatabase;
  /** Closes the ORM and, on Postgres, drops its database. */
  close(): Promise<void>;
}

let counter = 0;

/** A Postgres database name unique to this process and call. */
function uniqueDatabaseName(label: string): string {
  counter += 1;
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 24);
  return `gci_${safe}_${process.pid}_${counter}_${Date.now().toString(36)}`;
}

/**
 * Creates a schema on a fresh private database of the given kind: the poll app's, or the
 * `entities` given (a test's own schema, built the way the poll app builds its own).
 */
export async function createTestOrm(
  database: TestDatabase,
  options: { label: string; subscribers?: EventSubscriber[]; entities?: EntitySchema[] },
): Promise<TestOrm> {
  const sql = createSqlCounter();
  const url =
    database === 'postgres'
      ? POSTGRES_URL.replace(/\/[^/]*$/, `/${uniqueDatabaseName(options.label)}`)
      : ':memory:';
  const orm = options.entities
    ? await createOrmWith(url, options.entities, options.subscribers ?? [], sql)
    : await createPollOrm({
        database: url,
        loggerFactory: sql.loggerFactory,
        ...(options.subscribers ? { subscribers: options.subscribers } : {}),
      });
  sql.reset();
  return {
    orm,
    sql,
    database,
    async close() {
      if (database === 'postgres') await orm.schema.dropDatabase();
      await orm.close(true);
    },
  };
}

async function createOrmWith(
  url: string,
  entities: EntitySchema[],
  subscribers: EventSubscriber[],
  sql: SqlCounter,
): Promise<MikroORM> {
  const common = { entities, subscribers, loggerFactory: sql.loggerFactory };
  let orm: MikroORM;
  if (url.startsWith('postgres')) {
    const { MikroORM: PostgresOrm } = await import('@mikro-orm/postgresql');
    orm = (await PostgresOrm.init({ ...common, clientUrl: url })) as unknown as MikroORM;
    await orm.schema.ensureDatabase();
  } else {
    const { MikroORM: SqliteOrm } = await import('@mikro-orm/better-sqlite');
    orm = (await SqliteOrm.init({ ...common, dbName: url })) as unknown as MikroORM;
  }
  await orm.schema.refreshDatabase();
  return orm;
}

/**
 * Postgres only: resolves `true` once some session of this ORM's database waits for a lock
 * (polls `pg_stat_activity` every 10 ms), `false` after `timeoutMs`. The polling runs on a pool
 * connection of its own, outside any transaction.
 */
export async function waitForLockWait(orm: MikroORM, timeoutMs = 5000): Promise<boolean> {
  const sql =
    "select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'";
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rows = (await orm.em.getConnection().execute(sql)) as { waiting: number }[];
    if ((rows[0]?.waiting ?? 0) > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}
