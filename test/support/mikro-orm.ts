/**
 * MikroORM test databases: better-sqlite in memory (always), and the real Postgres and MariaDB
 * when they answer (see services.ts: POSTGRES_URL, MARIADB_URL). Every Postgres or MariaDB ORM
 * gets a database of its own, created on start and dropped by `close()`, so parallel test files
 * never share data and no test touches a database it did not create.
 */
import type { EntitySchema, EventSubscriber, MikroORM } from '@mikro-orm/core';
import { pollEntities } from '../../examples/poll/entities.js';
import { createPollOrm } from '../../examples/poll/orm.js';
import { MARIADB_URL, POSTGRES_URL, servicesAvailable } from './services.js';
import { createSqlCounter, type SqlCounter } from './sql-counter.js';

/** A database a MikroORM suite runs on. */
export type TestDatabase = 'sqlite' | 'postgres' | 'mariadb';

/**
 * The databases to run a parameterised suite on: better-sqlite always, Postgres and MariaDB when
 * they answer (one skip line each otherwise; a failure under REQUIRE_SERVICES=1).
 *
 * @example
 * describe.each(await testDatabases())('writes on %s', (db) => { ... });
 */
export async function testDatabases(): Promise<TestDatabase[]> {
  const [postgres, mariadb] = await Promise.all([
    servicesAvailable('postgres'),
    servicesAvailable('mariadb'),
  ]);
  return ['sqlite', ...(postgres ? (['postgres'] as const) : []), ...(mariadb ? (['mariadb'] as const) : [])];
}

/** True for the databases with row locks (`select … for update`): the subscriber's lookups lock there. */
export function locksRows(database: TestDatabase): boolean {
  return database !== 'sqlite';
}

/** An ORM on a private poll database, with its SQL counter. */
export interface TestOrm {
  readonly orm: MikroORM;
  readonly sql: SqlCounter;
  readonly database: TestDatabase;
  /** Closes the ORM and, on Postgres and MariaDB, drops its database. */
  close(): Promise<void>;
}

let counter = 0;

/** A database name unique to this process and call (at most 64 characters, MariaDB's limit). */
function uniqueDatabaseName(label: string): string {
  counter += 1;
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 24);
  return `gci_${safe}_${process.pid}_${counter}_${Date.now().toString(36)}`;
}

/** The URL of a new private database on the given server. */
function privateDatabaseUrl(database: 'postgres' | 'mariadb', label: string): string {
  const server = database === 'postgres' ? POSTGRES_URL : MARIADB_URL;
  return server.replace(/\/[^/]*$/, `/${uniqueDatabaseName(label)}`);
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
  const subscribers = options.subscribers ?? [];
  let orm: MikroORM;
  if (database === 'mariadb') {
    orm = await createOrmWith(
      database,
      privateDatabaseUrl(database, options.label),
      options.entities ?? pollEntities,
      subscribers,
      sql,
    );
  } else {
    const url = database === 'postgres' ? privateDatabaseUrl(database, options.label) : ':memory:';
    orm = options.entities
      ? await createOrmWith(database, url, options.entities, subscribers, sql)
      : await createPollOrm({ database: url, loggerFactory: sql.loggerFactory, subscribers });
  }
  sql.reset();
  return {
    orm,
    sql,
    database,
    async close() {
      if (database !== 'sqlite') await orm.schema.dropDatabase();
      await orm.close(true);
    },
  };
}

async function createOrmWith(
  database: TestDatabase,
  url: string,
  entities: readonly EntitySchema[],
  subscribers: EventSubscriber[],
  sql: SqlCounter,
): Promise<MikroORM> {
  const common = { entities: [...entities], subscribers, loggerFactory: sql.loggerFactory };
  let orm: MikroORM;
  if (database === 'postgres') {
    const { MikroORM: PostgresOrm } = await import('@mikro-orm/postgresql');
    orm = (await PostgresOrm.init({ ...common, clientUrl: url })) as unknown as MikroORM;
    await orm.schema.ensureDatabase();
  } else if (database === 'mariadb') {
    const { MikroORM: MariaDbOrm } = await import('@mikro-orm/mariadb');
    orm = (await MariaDbOrm.init({ ...common, clientUrl: url })) as unknown as MikroORM;
    await orm.schema.ensureDatabase();
  } else {
    const { MikroORM: SqliteOrm } = await import('@mikro-orm/better-sqlite');
    orm = (await SqliteOrm.init({ ...common, dbName: url })) as unknown as MikroORM;
  }
  await orm.schema.refreshDatabase();
  return orm;
}

/**
 * Postgres and MariaDB: resolves `true` once some session on this ORM's own database waits for a
 * row lock (polls every 10 ms), `false` after `timeoutMs`. The polling runs on a pool connection
 * of its own, outside any transaction, and reads only sessions of this database.
 */
export async function waitForLockWait(
  orm: MikroORM,
  database: TestDatabase,
  timeoutMs = 5000,
): Promise<boolean> {
  const sql =
    database === 'postgres'
      ? "select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'"
      : "select count(*) as waiting from information_schema.innodb_trx t join information_schema.processlist p on p.id = t.trx_mysql_thread_id where t.trx_state = 'LOCK WAIT' and p.db = database()";
  // InnoDB refreshes the cache behind information_schema.innodb_trx only when it was not read in
  // the last 100 ms: polling faster would read the same stale snapshot forever.
  const interval = database === 'postgres' ? 10 : 150;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rows = (await orm.em.getConnection().execute(sql)) as { waiting: number | string | bigint }[];
    if (Number(rows[0]?.waiting ?? 0) > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
  return false;
}
