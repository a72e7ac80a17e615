/**
 * The benchmark's databases. Every contestant that reads a database gets its OWN copy of the same
 * data, with its own MikroORM instance and SQL counter: its SQL per request is exact even under
 * concurrency, and in the mixed workload only its own writes (and its own invalidation) touch its
 * data. SQLite copies are private in-memory databases; Postgres copies are `CREATE DATABASE …
 * TEMPLATE` copies of one seeded template, all named `gci_bench_<pid>_<time>…` and dropped at the end.
 */
import {
  DefaultLogger,
  type LogContext,
  type Logger,
  type LoggerOptions,
  type MikroORM,
} from '@mikro-orm/core';
import { type Knex, knex } from '@mikro-orm/postgresql';
import {
  Choice,
  type IChoice,
  type IQuestion,
  type IUser,
  pollEntities,
  Question,
  User,
} from '../../examples/poll/entities.js';
import type { PollData } from './data.js';

/** PostgreSQL to use (trust auth, user `postgres` on the project's machines). */
export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
/** Redis to use. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** A URL without its password, for messages. */
export const safeUrl = (url: string) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');

/**
 * Connections per Postgres contestant. Every contestant's pool has the same size, so DB-bound
 * contestants are compared at the same parallelism; 8 concurrent requests queue for 4 connections.
 */
export const POSTGRES_POOL_MAX = 4;

/** SQL statements a database has run (every statement MikroORM logs, plus raw knex queries where counted). */
export interface SqlCounter {
  statements: number;
}

class CountingLogger extends DefaultLogger {
  readonly #counter: SqlCounter;
  constructor(options: LoggerOptions, counter: SqlCounter) {
    super(options);
    this.#counter = counter;
  }
  override logQuery(context: { query: string } & LogContext): void {
    if (context.level !== 'error') this.#counter.statements += 1;
    super.logQuery(context);
  }
}

/** One contestant's database. */
export interface BenchDatabase {
  readonly kind: 'sqlite' | 'postgres';
  /** The database's name (Postgres) or `:memory:`. */
  readonly name: string;
  readonly orm: MikroORM;
  /** Statements run through `orm` (MikroORM's logger sees every one, raw `execute` included). */
  readonly sql: SqlCounter;
  /** The ORM's own knex (same pool), for contestants that skip the ORM. */
  knex(): Knex;
  close(): Promise<void>;
}

async function initOrm(kind: 'sqlite' | 'postgres', url: string, sql: SqlCounter): Promise<MikroORM> {
  const common = {
    entities: pollEntities,
    loggerFactory: (options: LoggerOptions): Logger => new CountingLogger(options, sql),
  };
  if (kind === 'postgres') {
    const { MikroORM: PostgresOrm } = await import('@mikro-orm/postgresql');
    return (await PostgresOrm.init({
      ...common,
      clientUrl: url,
      pool: { min: 0, max: POSTGRES_POOL_MAX },
    })) as unknown as MikroORM;
  }
  const { MikroORM: SqliteOrm } = await import('@mikro-orm/better-sqlite');
  return (await SqliteOrm.init({ ...common, dbName: url })) as unknown as MikroORM;
}

function knexOf(orm: MikroORM): Knex {
  return (orm.em as unknown as { getKnex(): Knex }).getKnex();
}

function chunks<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/** Creates the schema and writes the data (see {@link writePollData}). */
async function seed(orm: MikroORM, kind: 'sqlite' | 'postgres', data: PollData): Promise<void> {
  await orm.schema.createSchema();
  await writePollData(orm, kind, data);
}

/**
 * Writes the data into the (empty) poll schema of `orm` with multi-row inserts (users, questions
 * and choices through `em.insertMany`, which converts types as the ORM stores them; the pivot
 * table as raw multi-row VALUES), then moves Postgres sequences past the explicit ids. An ORM
 * flush of a graph this size is slow and recurses deeply; the CLI tests seed with this too.
 */
export async function writePollData(
  orm: MikroORM,
  kind: 'sqlite' | 'postgres',
  data: PollData,
): Promise<void> {
  const em = orm.em.fork();
  for (const part of chunks(data.users, 1000))
    await em.insertMany<IUser>(
      User,
      part.map((u) => ({ ...u })),
    );
  for (const part of chunks(data.questions, 1000))
    await em.insertMany<IQuestion>(
      Question,
      part.map((q) => ({ ...q })),
    );
  for (const part of chunks(data.choices, 1000)) {
    await em.insertMany<IChoice>(
      Choice,
      part.map((c) => ({ id: c.id, choiceText: c.choiceText, question: c.questionId })),
    );
  }
  const k = knexOf(orm);
  for (const part of chunks(data.votes, 5000)) {
    await k.raw(
      `insert into choice_voters (choice_id, user_id) values ${part.map(() => '(?, ?)').join(', ')}`,
      part.flat(),
    );
  }
  if (kind === 'postgres') {
    for (const table of ['user', 'question', 'choice']) {
      await k.raw(
        `select setval(pg_get_serial_sequence('"${table}"', 'id'), (select max(id) from "${table}"))`,
      );
    }
  }
}

/** A private in-memory SQLite database with the data. */
export async function openSqlite(data: PollData): Promise<BenchDatabase> {
  const sql: SqlCounter = { statements: 0 };
  const orm = await initOrm('sqlite', ':memory:', sql);
  try {
    await seed(orm, 'sqlite', data);
  } catch (error) {
    await orm.close(true);
    throw error;
  }
  return {
    kind: 'sqlite',
    name: ':memory:',
    orm,
    sql,
    knex: () => knexOf(orm),
    close: () => orm.close(true),
  };
}

/** The SQLite version string, for the report. */
export async function sqliteVersion(db: BenchDatabase): Promise<string> {
  const rows = await db.orm.em.getConnection().execute<{ v: string }[]>('select sqlite_version() as v');
  return `SQLite ${rows[0]?.v ?? '?'} (better-sqlite3, in memory)`;
}

function databaseUrl(name: string): string {
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * This run's Postgres databases: a seeded template, then one copy per contestant. `dropAll()`
 * drops every one of them (`WITH (FORCE)`, so a connection left open cannot keep one alive).
 */
export class PostgresDatabases {
  readonly version: string;
  readonly #admin: Knex;
  readonly #template: string;
  readonly #created: string[] = [];
  #copies = 0;

  private constructor(admin: Knex, template: string, version: string) {
    this.#admin = admin;
    this.#template = template;
    this.version = version;
  }

  /** Connects to POSTGRES_URL, creates and seeds the template. Rejects when Postgres does not answer. */
  static async create(data: PollData, runId: string): Promise<PostgresDatabases> {
    const admin = knex({
      client: 'pg',
      connection: { connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 },
      pool: { min: 0, max: 1 },
    });
    let databases: PostgresDatabases | undefined;
    try {
      const rows = (await admin.raw('show server_version')) as { rows: { server_version: string }[] };
      const template = `gci_bench_${runId}`;
      databases = new PostgresDatabases(admin, template, `PostgreSQL ${rows.rows[0]?.server_version ?? '?'}`);
      await databases.#createDatabase(template);
      const orm = await initOrm('postgres', databaseUrl(template), { statements: 0 });
      try {
        await seed(orm, 'postgres', data);
      } finally {
        await orm.close(true);
      }
      return databases;
    } catch (error) {
      if (databases) await databases.dropAll();
      else await admin.destroy();
      throw error;
    }
  }

  async #createDatabase(name: string, template?: string): Promise<void> {
    await this.#admin.raw(`create database "${name}"${template ? ` template "${template}"` : ''}`);
    this.#created.push(name);
  }

  /** A fresh copy of the template for one contestant, with its own ORM and SQL counter. */
  async copy(): Promise<BenchDatabase> {
    this.#copies += 1;
    const name = `${this.#template}_${this.#copies}`;
    await this.#createDatabase(name, this.#template);
    const sql: SqlCounter = { statements: 0 };
    const orm = await initOrm('postgres', databaseUrl(name), sql);
    return { kind: 'postgres', name, orm, sql, knex: () => knexOf(orm), close: () => orm.close(true) };
  }

  /** Drops every database this run created (copies first, then the template) and disconnects. */
  async dropAll(): Promise<string[]> {
    const failed: string[] = [];
    for (const name of [...this.#created].reverse()) {
      try {
        await this.#admin.raw(`drop database if exists "${name}" with (force)`);
      } catch {
        failed.push(name);
      }
    }
    this.#created.length = 0;
    await this.#admin.destroy();
    return failed;
  }
}
