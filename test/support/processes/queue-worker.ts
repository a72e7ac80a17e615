/**
 * A cascade worker in a process of its own, for the queue suite: `createWorker` over the poll
 * cache on the shared Redis and database, driven over IPC.
 *
 * argv: database (sqlite file or postgres URL), Redis URL, store namespace, queue name, queue
 * prefix, mode. Mode `hang`: every update announces itself ({ updating: refs }) and then never
 * returns, so the parent can kill the worker mid-job, before any of its writes landed. Mode `run`:
 * updates run.
 * Messages out: { ready: true }, { active: jobId }, { updating: refs }, { completed: jobId,
 * journalIds }, { failed: jobId, reason }. In: { stop: true } → closes the worker, exits 0.
 */
import { createPollStrategy } from '../../../examples/poll/strategy.js';
import { InstanceCache, type Ref } from '../../../src/index.js';
import { CacheJournal } from '../../../src/mikro-orm/index.js';
import { createWorker } from '../../../src/queue/bullmq.js';
import { createRedisStore } from '../../../src/redis.js';
import { openQueueDatabase } from './queue-world.js';

const [database, redisUrl, namespace, queueName, prefix, mode] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  'hang' | 'run',
];
const send = (message: object) => process.send!(message);

const orm = await openQueueDatabase(database);
const store = await createRedisStore({ url: redisUrl, namespace });
const cache = new InstanceCache(createPollStrategy(orm), { store });
const journal = new CacheJournal(orm, cache);
const worker = createWorker({
  cache: {
    async update(refs: readonly Ref[], options) {
      send({ updating: refs.map((ref) => `${ref.model}:${ref.pk}`).sort() });
      if (mode === 'hang') await new Promise(() => {});
      return cache.update(refs, options);
    },
  },
  journal,
  connection: redisUrl,
  queueName,
  prefix,
  // A killed worker's job is taken over quickly: its lock expires after 1 s, and the next worker
  // checks for stalled jobs every 300 ms.
  lockDuration: 1_000,
  stalledInterval: 300,
});
worker.worker.on('active', (job) => send({ active: job.id }));
worker.worker.on('completed', (job) => send({ completed: job.id, journalIds: job.data.journalIds }));
worker.worker.on('failed', (job, error) => send({ failed: job?.id, reason: error.message }));
process.on('message', async (message: { stop?: boolean }) => {
  if (message.stop) {
    await worker.close();
    await journal.close();
    await store.close();
    await orm.close(true);
    process.exit(0);
  }
});
await worker.worker.waitUntilReady();
send({ ready: true });
