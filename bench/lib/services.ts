import {
  DefaultLogger,
  type LogContext,
  type Logger,
  type LoggerOptions,
  type MikroORM,
} from '@mikro-orm/core';
import { createPollOrm } from '../../examples/poll/orm.js';
import { type SeededPoll, type SeedPollOptions, seedPoll } from '../../examples/poll/seed.js';
import { probeTcp } from '../../test/support/probe-tcp.js';

/** The machine's Postgres (STACK.md): trust auth, user `postgres`. */
export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
/** The machine's Redis. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * SQL statements run so far, by every ORM of the benchmark. Requests run one at a time, so the
 * difference around one request is exactly that request's SQL. (The library's own per-request
 * counter, `runWithSqlCounter`, is not used for this: it enables an AsyncLocalStorage, which
 * slows every promise in the process from then on; see the README.)
 */
export const sqlCounter = { statements: 0 };

class CountingLogger extends DefaultLogger {
  override logQuery(context: { query: string } & LogContext): void {
    if (context.level !== 'error') sqlCounter.statements += 1;
    super.logQuery(context);
  }
}

function countingLoggerFactory(options: LoggerOptions): Logger {
  return new CountingLogger(options);
}

/** A seeded poll database. */
export interface BenchDatabase {
  readonly kind: 'sqlite' | 'postgres';
  readonly orm: MikroORM;
  readonly seeded: SeededPoll;
  /** The server's version string. */
  readonly version: string;
  close(): Promise<void>;
}

/** better-sqlite in memory, seeded. */
export async function openSqlite(seed: SeedPollOptions): Promise<BenchDatabase> {
  const orm = await createPollOrm({ database: ':memory:', loggerFactory: countingLoggerFactory });
  const seeded = await seedPoll(orm.em.fork(), seed);
  const rows = await orm.em.getConnection().execute<{ v: string }[]>('select sqlite_version() as v');
  return {
    kind: 'sqlite',
    orm,
    seeded,
    version: `SQLite ${rows[0]?.v ?? '?'} (better-sqlite3, in memory)`,
    close: () => orm.close(true),
  };
}

/** A private Postgres database for this run (created now, dropped on close), seeded. */
export async function openPostgres(seed: SeedPollOptions): Promise<BenchDatabase> {
  await probeTcp(POSTGRES_URL, 5432);
  const name = `gci_bench_${process.pid}_${Date.now().toString(36)}`;
  const url = POSTGRES_URL.replace(/\/[^/]*$/, `/${name}`);
  const orm = await createPollOrm({ database: url, loggerFactory: countingLoggerFactory });
  try {
    const seeded = await seedPoll(orm.em.fork(), seed);
    const rows = await orm.em.getConnection().execute<{ server_version: string }[]>('show server_version');
    const version = `PostgreSQL ${rows[0]?.server_version ?? '?'}`;
    return {
      kind: 'postgres',
      orm,
      seeded,
      version,
      async close() {
        await orm.schema.dropDatabase();
        await orm.close(true);
      },
    };
  } catch (error) {
    await orm.schema.dropDatabase().catch(() => {});
    await orm.close(true);
    throw error;
  }
}
