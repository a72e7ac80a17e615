/**
 * The real poll server on an ephemeral loopback port, on each backend the HTTP suites run on:
 * better-sqlite in memory + the in-process cache (always), and Postgres + Redis (when both answer;
 * a failure, not a skip, under REQUIRE_SERVICES=1). Each server gets a private Postgres database
 * and a private Redis key namespace, so test files never see each other's data.
 */

import type { SeedPollOptions } from '../../examples/poll/seed.js';
import { type PollServer, startPollServer } from '../../examples/poll/server.js';
import type { ErrorLogger, ResponseCacheStats } from '../../src/apollo/index.js';
import { createTestRedisStore } from '../support/redis.js';
import { POSTGRES_URL, servicesAvailable } from '../support/services.js';

/** A backend the HTTP suites run on. */
export type Backend = 'sqlite+memory' | 'postgres+redis';

/** The small deterministic data set the suites use. */
export const TEST_SEED: SeedPollOptions = {
  questions: 30,
  choicesPerQuestion: 3,
  users: 40,
  votesPerChoice: 4,
};

/** The backends to run on: SQLite always; Postgres + Redis when both answer. */
export async function testBackends(): Promise<Backend[]> {
  const [postgres, redis] = await Promise.all([servicesAvailable('postgres'), servicesAvailable('redis')]);
  return postgres && redis ? ['sqlite+memory', 'postgres+redis'] : ['sqlite+memory'];
}

let counter = 0;

/** Starts the poll server on `backend`; `close()` also drops its database and Redis keys. */
export async function startTestServer(
  backend: Backend,
  label: string,
  options: { cacheStats?: boolean; seed?: SeedPollOptions; logger?: ErrorLogger } = {},
): Promise<PollServer> {
  const seed = options.seed ?? TEST_SEED;
  // Internal errors are logged, not printed, unless a test collects them.
  const logger = options.logger ?? { error: () => {} };
  if (backend === 'sqlite+memory') {
    return startPollServer({ port: 0, seed, cacheStats: options.cacheStats, logger });
  }
  counter += 1;
  const name = `gci_http_${label.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}_${process.pid}_${counter}_${Date.now().toString(36)}`;
  const store = await createTestRedisStore(`http-${label}`);
  const server = await startPollServer({
    port: 0,
    seed,
    cacheStats: options.cacheStats,
    logger,
    databaseUrl: POSTGRES_URL.replace(/\/[^/]*$/, `/${name}`),
    resetDatabase: true,
    dropDatabaseOnClose: true,
    store,
  });
  return Object.assign(Object.create(server) as PollServer, {
    async close() {
      await server.close();
      await store.cleanup();
    },
  });
}

/** A GraphQL response as the server sends it. */
export interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string } & Record<string, unknown> }[];
  extensions?: { cache?: CacheFigures } & Record<string, unknown>;
}

/** `extensions.cache`. */
export type CacheFigures = ResponseCacheStats;

/** POSTs a GraphQL request with `fetch` (stats header on unless told otherwise); `text` is the raw body. */
export async function post(
  url: string,
  query: string,
  options: { variables?: Record<string, unknown>; headers?: Record<string, string>; stats?: boolean } = {},
): Promise<{ status: number; body: GraphQLBody; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.stats === false ? {} : { 'x-cache-stats': '1' }),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as GraphQLBody, text };
}

/** POSTs and fails the test unless the response has data and no errors; returns data and figures. */
export async function query<T = Record<string, unknown>>(
  url: string,
  text: string,
  options: { variables?: Record<string, unknown>; headers?: Record<string, string> } = {},
): Promise<{ data: T; cache: CacheFigures }> {
  const { status, body } = await post(url, text, options);
  if (status !== 200 || body.errors || !body.data || !body.extensions?.cache) {
    throw new Error(`expected data without errors, got ${status} ${JSON.stringify(body).slice(0, 500)}`);
  }
  return { data: body.data as T, cache: body.extensions.cache };
}

/**
 * Every row of the poll tables, read straight from the database (not through the cache), as one
 * comparable string: equal before and after a probe means the probe wrote nothing.
 */
export async function databaseState(server: PollServer): Promise<string> {
  const connection = server.orm.em.fork().getConnection();
  const tables = [
    'select id, question_text, pub_date from question order by id',
    'select id, choice_text, question_id from choice order by id',
    'select choice_id, user_id from choice_voters order by choice_id, user_id',
    'select id, username, active from "user" order by id',
  ];
  const rows = [];
  for (const sql of tables) rows.push(await connection.execute(sql));
  return JSON.stringify(rows);
}

/** What a response must never carry: SQL, database internals, file paths, stack traces. */
export const LEAK_PATTERNS: readonly RegExp[] = [
  /\b(select|insert|update|delete)\b[^"]{0,200}\b(from|into|set|where)\b/i,
  /violates|constraint|duplicate key|syntax error at|invalid byte sequence|SQLITE_|sqlite3?\b/i,
  /(["\s(]|^)\/(work|home|usr|tmp|opt|app|srv|var)\/|node_modules|file:\/\/|[A-Za-z]:\\\\/,
  /\.(ts|js|mjs|cjs):\d+/,
  /\bat [\w.<>$]+ \(|\n\s+at |stacktrace/,
];

/** The patterns of {@link LEAK_PATTERNS} that `text` matches (none, for a clean response). */
export function leaksIn(text: string): string[] {
  return LEAK_PATTERNS.filter((pattern) => pattern.test(text)).map(String);
}
