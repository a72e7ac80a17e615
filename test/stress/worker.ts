/**
 * The cascade worker of the stress run (test/stress/run.ts), for its `queue` server: the
 * example's worker with short locks, so that the jobs of a killed worker are taken over within
 * seconds. `{ settle: n }` waits until the queue has nothing waiting, delayed or running, writes
 * the journal marks, then answers `{ settled: n }`.
 *
 * argv: <postgres URL> <redis URL>
 */
import { Queue } from 'bullmq';
import { startPollWorker } from '../../examples/poll/worker.js';

const [databaseUrl, redisUrl] = process.argv.slice(2) as [string, string];

const worker = await startPollWorker({
  databaseUrl,
  redisUrl,
  journal: { grace: 2000, interval: 1000 },
  worker: { lockDuration: 2000, stalledInterval: 1000 },
});
const queue = new Queue(worker.worker.worker.name, { connection: { url: redisUrl } });

process.on('message', async (message: { settle?: number }) => {
  if (message.settle === undefined) return;
  for (;;) {
    const counts = await queue.getJobCounts(
      'waiting',
      'delayed',
      'active',
      'prioritized',
      'waiting-children',
    );
    if (Object.values(counts).every((n) => n === 0)) break;
    // Jobs are still running or waiting for a retry: wait for the next one to finish.
    await new Promise<void>((resolve) => {
      const done = () => {
        worker.worker.worker.off('completed', done);
        worker.worker.worker.off('failed', done);
        resolve();
      };
      worker.worker.worker.on('completed', done);
      worker.worker.worker.on('failed', done);
      // A stalled job of a killed worker is moved back by the stalled check, which fires no
      // event here: look again after a check interval.
      setTimeout(done, 1000).unref();
    });
  }
  await worker.journal.flush();
  process.send!({ settled: message.settle });
});
process.send!({ url: 'worker' });
