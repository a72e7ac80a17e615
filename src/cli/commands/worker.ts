/**
 * `worker`: runs the cascades that servers in queue mode (`bullmqRunner`) enqueue after each
 * commit, with the config's cache and journal, until SIGINT or SIGTERM; then it finishes the jobs
 * it holds, writes its journal marks and exits 0. Also runs the journal's recovery.
 */
import { Command } from 'commander';
import { CliConfigError, StoreError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { plural } from '../format.js';

interface WorkerOptions {
  readonly concurrency?: string;
}

/** The `worker` subcommand. */
export function workerCommand(context: CliContext): Command {
  return new Command('worker')
    .description(
      "run the cascades the servers enqueue (queue mode: bullmqRunner) with the config's cache, queue and journal, until SIGINT/SIGTERM",
    )
    .option('--concurrency <n>', 'jobs held at once, merged into one update (default 100)')
    .action((options: WorkerOptions, command: Command) =>
      context.withConfig(command, async ({ cache, queue, journal, store }) => {
        if (!queue) {
          throw new CliConfigError(
            "the config has no `queue`: return { cache, queue: { connection: process.env.REDIS_URL }, journal } from its factory, with the servers' bullmqRunner options",
            { context: { option: 'config' } },
          );
        }
        const concurrency = options.concurrency === undefined ? undefined : Number(options.concurrency);
        if (concurrency !== undefined && !(Number.isSafeInteger(concurrency) && concurrency > 0)) {
          throw new CliConfigError(`--concurrency must be a positive integer, got ${options.concurrency}`, {
            context: { option: 'concurrency' },
          });
        }
        // BullMQ is an optional peer: loaded only by this command.
        const { createWorker } = await import('../../queue/bullmq.js');
        const worker = createWorker({
          connection: queue.connection as string,
          ...(queue.queueName ? { queueName: queue.queueName } : {}),
          ...(queue.prefix ? { prefix: queue.prefix } : {}),
          cache,
          ...(journal ? { journal } : {}),
          ...(concurrency ? { concurrency } : {}),
          onBatch: (jobs, summary, ms) =>
            context.note(
              `worker: ${plural(jobs.length, 'job')}: ${plural(summary.refreshed, 'record')} rewritten, ${summary.deleted} deleted, ${summary.unchanged} unchanged, ${summary.failed} failed (${Math.round(ms)} ms)`,
            ),
          onError: (error) => context.note(`worker: ${(error as Error)?.message ?? String(error)}`),
        });
        try {
          await worker.worker.waitUntilReady();
        } catch (error) {
          await worker.close().catch(() => {});
          throw new StoreError(`worker: cannot reach the queue's Redis: ${(error as Error).message}`, {
            cause: error,
          });
        }
        journal?.start?.();
        context.note(
          `worker: taking jobs from queue "${worker.worker.name}" (store: ${store.kind}${journal ? ', journal recovery on' : ', no journal'}); stop with Ctrl-C or SIGTERM`,
        );
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        context.note('worker: stopping: finishing the jobs it holds');
        await worker.close();
        await journal?.close?.();
        context.print(command, 'worker: stopped', { stopped: true });
      }),
    );
}
