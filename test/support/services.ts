/**
 * One place to ask whether a real service answers, for every services-backed suite. Where they
 * are: REDIS_URL, POSTGRES_URL and MARIADB_URL (defaults: the machine's shared services on
 * 127.0.0.1, see below). Built on
 * gate.ts: when a service is down the suite is skipped with ONE line saying why, unless
 * REQUIRE_SERVICES=1, in which case the test file FAILS.
 *
 * @example
 * await describeServices(['postgres', 'redis'], 'the cache on Postgres and Redis', () => { ... });
 * // or, to parameterise:
 * const pg = await servicesAvailable('postgres');
 * describe.runIf(pg)('on Postgres', () => { ... });
 */

import { describe } from 'vitest';
import { gate } from './gate.js';
import { probeTcp } from './probe-tcp.js';

/** A service a suite may need. */
export type ServiceName = 'postgres' | 'redis' | 'mariadb';

/**
 * The shared Postgres of the machine (STACK.md): trust auth, user `postgres`. Suites connect to
 * this database only to create (and later drop) a database of their own.
 */
export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/**
 * The shared MariaDB (or MySQL) of the machine: user `root`, empty password. As with Postgres,
 * suites only create and drop databases of their own on it.
 */
export const MARIADB_URL = process.env.MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** A URL with its password (if any) left out, for messages. */
export function withoutPassword(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');
}

const checks = new Map<ServiceName, Promise<boolean>>();

async function probePostgres(): Promise<void> {
  await probeTcp(POSTGRES_URL, 5432);
  const { MikroORM } = await import('@mikro-orm/postgresql');
  const orm = await MikroORM.init({
    clientUrl: POSTGRES_URL,
    entities: [],
    discovery: { warnWhenNoEntities: false },
    connect: false,
  });
  try {
    const status = await orm.checkConnection();
    if (!status.ok) throw new Error(status.reason);
  } finally {
    await orm.close(true);
  }
}

async function probeMariaDb(): Promise<void> {
  await probeTcp(MARIADB_URL, 3306);
  const { MikroORM } = await import('@mikro-orm/mariadb');
  const orm = await MikroORM.init({
    clientUrl: MARIADB_URL,
    entities: [],
    discovery: { warnWhenNoEntities: false },
    connect: false,
  });
  try {
    const status = await orm.checkConnection();
    if (!status.ok) throw new Error(status.reason);
  } finally {
    await orm.close(true);
  }
}

/**
 * Whether suites needing `name` should run: probes once per process (the answer is shared by
 * every suite of the file). Down + REQUIRE_SERVICES=1 → rejects, failing the file.
 */
export function servicesAvailable(name: ServiceName): Promise<boolean> {
  let check = checks.get(name);
  if (!check) {
    check =
      name === 'postgres'
        ? gate('PostgreSQL', withoutPassword(POSTGRES_URL), probePostgres)
        : name === 'mariadb'
          ? gate('MariaDB', withoutPassword(MARIADB_URL), probeMariaDb)
          : import('./redis.js').then((redis) => redis.redisAvailable);
    checks.set(name, check);
  }
  return check;
}

/**
 * `describe` for a suite that needs services: it runs when every one answers, is skipped (one line
 * per service on stderr) when one does not, and fails the file under REQUIRE_SERVICES=1. Await it
 * at the top level of the test file.
 */
export async function describeServices(
  services: readonly ServiceName[],
  title: string,
  fn: () => void,
): Promise<void> {
  const available = await Promise.all(services.map((name) => servicesAvailable(name)));
  describe.runIf(available.every(Boolean))(title, fn);
}
