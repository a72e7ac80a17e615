/**
 * MikroORM test databases: better-sqlite in memory (always) and the real Postgres (when it
 * answers; see services.ts). Every Postgres ORM gets a database of its own, created on start and
 * dropped by `close()`, so parallel test files never share data.
 */
import type { EventSubscriber, MikroORM } from '@mikro-orm/core';
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

/** Creates the poll schema on a fresh private database of the given kind. */
export async function createTestOrm(
  database: TestDatabase,
  options: { label: string; subscribers?: EventSubscriber[] },
): Promise<TestOrm> {
  const sql = createSqlCounter();
  const url =
    database === 'postgres'
      ? POSTGRES_URL.replace(/\/[^/]*$/, `/${uniqueDatabaseName(options.label)}`)
      : ':memory:';
  const orm = await createPollOrm({
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
