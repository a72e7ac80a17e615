/**
 * The cascade worker of the stress run (test/stress/run.ts), for its `queue` server: the
 * example's worker with short locks, so that the jobs of a killed worker are taken over within
 * seconds. `{ settle: n }` waits until the queue has nothing waiting, delayed or running, writes
 * the journal marks, then answers `{ settled: n }`.
 *
 * argv: <postgres URL> <redis URL>
 */
import { Queue, QueueEvents } from 'bullmq';
import { startPollWorker } from '../../examples/poll/worker.js';

const [databaseUrl, redisUrl] = process.argv.slice(2) as [string, string];

const worker = await startPollWorker({
  databaseUrl,
  redisUrl,
  journal: { grace: 2000, interval: 1000 },
  worker: { lockDuration: 2000, stalledInterval: 1000 },
});
const name = worker.worker.worker.name;
const queue = new Queue(name, { connection: { url: redisUrl } });
// The queue's event stream, which every worker's state changes reach: a job completed or failed
// (a stalled job of a killed worker that stalled too often fails without any worker here
// running it), moved back by a stalled check, or a retry's delay over.
const events = new QueueEvents(name, { connection: { url: redisUrl } });
await events.waitUntilReady();
const CHANGES = ['completed', 'failed', 'stalled', 'waiting', 'removed'] as const;

/** Resolves at the queue's next state change; `cancel()` stops listening. */
function nextChange(): { changed: Promise<void>; cancel(): void } {
  let cancel!: () => void;
  const changed = new Promise<void>((resolve) => {
    const done = () => {
      for (const event of CHANGES) events.off(event, done);
      resolve();
    };
    cancel = done;
    for (const event of CHANGES) events.on(event, done);
  });
  return { changed, cancel };
}

process.on('message', async (message: { settle?: number }) => {
  if (message.settle === undefined) return;
  for (;;) {
    // Listening before counting, so that a change between the two is not missed.
    const next = nextChange();
    const counts = await queue.getJobCounts(
      'waiting',
      'delayed',
      'active',
      'prioritized',
      'waiting-children',
    );
    if (Object.values(counts).every((n) => n === 0)) {
      next.cancel();
      break;
    }
    await next.changed;
  }
  await worker.journal.flush();
  process.send!({ settled: message.settle });
});
process.send!({ url: 'worker' });
