/**
 * One poll API server process of the stress run (test/stress/run.ts): the example server on the
 * run's Postgres database and Redis, with the durable journal, L1 and the cascade mode it is
 * given. It reports `{ url }` once it listens; `{ settle: n }` drains its cascades, writes its
 * pending invalidations and journal marks and runs one recovery pass, then answers `{ settled: n }`.
 *
 * argv: <postgres URL> <redis URL> <inline|background|queue> <l1: 1|0> <journal: 1|0>
 */
import { startPollServer } from '../../examples/poll/server.js';

const [databaseUrl, redisUrl, cascade, l1, journal] = process.argv.slice(2) as [
  string,
  string,
  'inline' | 'background' | 'queue',
  string,
  string,
];

const server = await startPollServer({
  port: 0,
  databaseUrl,
  redisUrl,
  resetDatabase: false,
  seed: false,
  cascade,
  l1: l1 === '1',
  // Short, so that what a killed process left behind is applied during the run, not after it.
  journal: journal === '0' ? false : { grace: 2000, interval: 1000 },
  // The run sends deep and wide queries on purpose; its errors are counted, not logged.
  queryLimits: { maxDepth: 20, maxCost: 1_000_000 },
  logger: { error: () => {} },
});

process.on('message', async (message: { settle?: number }) => {
  if (message.settle === undefined) return;
  await server.subscriber.runner.drain();
  await server.cache.flushPending();
  await server.journal?.recover();
  await server.journal?.flush();
  process.send!({ settled: message.settle });
});
process.send!({ url: server.url });
