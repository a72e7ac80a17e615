/**
 * `npm start`: the poll API on http://127.0.0.1:4000/graphql/v1 and /graphql/v2.
 *
 * - Default: SQLite in memory and an in-process cache, seeded with sample data.
 * - `PORT` changes the port; `REDIS_URL` keeps the cache in Redis; `DATABASE_URL` (postgres://)
 *   uses Postgres (schema created if missing, seeded when empty).
 * - Every response carries `extensions.cache` (set `CACHE_STATS=0` to send it only on requests
 *   with the `x-cache-stats: 1` header).
 * - Internal errors reach clients as an error id and are logged on stderr with their cause;
 *   `ERROR_DETAILS=1` sends their messages and stack traces to clients (local development only).
 * - SIGINT / SIGTERM: graceful shutdown (in-flight requests finish).
 */
import { startPollServer } from './server.js';

const port = Number(process.env.PORT ?? 4000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, got ${process.env.PORT}`);
  process.exit(1);
}

const server = await startPollServer({
  port,
  databaseUrl: process.env.DATABASE_URL,
  redisUrl: process.env.REDIS_URL,
  cacheStats: process.env.CACHE_STATS !== '0',
  errorDetails: process.env.ERROR_DETAILS === '1',
});

const where = (url: string | undefined) => (url ? url.replace(/\/\/[^@/]*@/, '//') : undefined);
console.log(
  `poll API (database: ${where(process.env.DATABASE_URL) ?? 'SQLite in memory'}, cache: ${where(process.env.REDIS_URL) ?? 'in memory'})`,
);
if (server.seeded) {
  const { questionIds, choiceIds, userIds } = server.seeded;
  console.log(`seeded ${questionIds.length} questions, ${choiceIds.length} choices, ${userIds.length} users`);
}
console.log(`  v1: ${server.urls.v1}`);
console.log(`  v2: ${server.urls.v2}`);
console.log(`try:
  curl -s ${server.urls.v2} -H 'content-type: application/json' \\
    -d '{"query":"{ questions(first: 2) { nodes { text choices { choiceText voteCount voters { username } } } } }"}'`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: finishing in-flight requests…`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('shutdown failed:', error);
        process.exit(1);
      },
    );
  });
}
