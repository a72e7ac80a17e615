/**
 * `graphql-cached-instances/bullmq`: the `queue` mode. Cascades run in worker processes, handed
 * over as BullMQ jobs on Redis (the Node counterpart of drf-cached-instances' Celery tasks):
 * {@link bullmqRunner} is the subscriber's `runner` in the app's processes, {@link createWorker}
 * runs the jobs. Needs the optional peers `bullmq` and `ioredis`.
 *
 * @packageDocumentation
 */
import { Queue } from 'bullmq';
import { QueueError } from '../errors.js';
import {
  type BullmqQueueOptions,
  CASCADE_JOB,
  type CascadeJobData,
  closeRedisClient,
  createRedisClient,
  positiveInteger,
  resolveQueue,
} from './bullmq-options.js';
import type { CascadeBatch, CascadeRunner } from './runners.js';

export type { BullmqConnection, BullmqQueueOptions, CascadeJobData } from './bullmq-options.js';
export {
  type CascadeWorker,
  type CascadeWorkerJournal,
  type CreateWorkerOptions,
  createWorker,
} from './bullmq-worker.js';

/** Options of {@link bullmqRunner}. */
export interface BullmqRunnerOptions extends BullmqQueueOptions {
  /**
   * How many times a job is run before BullMQ gives up on it (the first run included). Set on each
   * job when it is added, so the app's processes decide it, not the worker. Default 8.
   */
  attempts?: number;
  /**
   * The first retry's delay in ms; each next one doubles (BullMQ's exponential backoff). Default
   * 1,000: with 8 attempts, retries after 1, 2, 4 … 64 s, about 2 minutes in all. A job that
   * failed every attempt stays in BullMQ's failed set; its journal entry stays unapplied, so the
   * journal's recovery applies it (or drops its models after `maxLag`).
   */
  backoff?: number;
  /**
   * How long `submit` waits for Redis to take a job before it rejects with a `QueueError`, in ms.
   * Default 2,000. The commit's caller waits that long at most (a Redis that refuses, or a broken
   * connection, fails at once). A job that timed out may still land later: it then runs as usual.
   */
  timeout?: number;
  /**
   * Completed jobs kept in Redis (for dashboards), newest first. Default 1,000; `0` keeps none.
   */
  keepCompleted?: number;
  /** Failed jobs kept in Redis, newest first. Default 10,000. */
  keepFailed?: number;
  /** Connection errors of the producer's Redis client (reported, never thrown). Default: none. */
  onError?(error: unknown): void;
}

/** The runner {@link bullmqRunner} returns: a `CascadeRunner`, and the BullMQ queue it adds to. */
export interface BullmqRunner extends CascadeRunner {
  /** The BullMQ queue the jobs go to (job counts, events, cleaning). */
  readonly queue: Queue<CascadeJobData>;
}

/**
 * The subscriber's runner for the `queue` mode: each batch becomes one BullMQ job in Redis, and
 * `em.flush()` resolves once the job is in Redis, before the cache was refreshed. A worker
 * ({@link createWorker}) runs it.
 *
 * `submit` rejects with a `QueueError` when Redis does not take the job within `timeout` (it is
 * unreachable, or refused the write). The subscriber reports that (`onError`) and the caller's
 * flush still resolves: with the subscriber's `journal`, the batch is not lost — its journal entry
 * was committed with the transaction, and is marked applied only by the worker once its refresh
 * landed, so it stays unapplied and the journal's recovery (`journal.start()` in any process, or
 * in the worker) applies it after the journal's `grace`. Without a journal a refused batch is
 * lost (reported only): use the queue mode with a journal.
 *
 * `drain()` resolves once every job submitted so far is in Redis (or failed to get there), not
 * once it ran. `close()` drains, then closes the queue and the Redis client.
 *
 * @example
 * const subscriber = new CacheSubscriber(cache, {
 *   journal,
 *   runner: bullmqRunner({ connection: process.env.REDIS_URL! }),
 * });
 */
export function bullmqRunner(options: BullmqRunnerOptions): BullmqRunner {
  const api = 'bullmqRunner';
  const { connection, queueName, prefix } = resolveQueue(api, options);
  const attempts = positiveInteger(api, 'attempts', options.attempts, 8);
  const backoff = positiveInteger(api, 'backoff', options.backoff, 1_000);
  const timeout = positiveInteger(api, 'timeout', options.timeout, 2_000);
  const keepCompleted = nonNegative(api, 'keepCompleted', options.keepCompleted, 1_000);
  const keepFailed = nonNegative(api, 'keepFailed', options.keepFailed, 10_000);
  const report = (error: unknown) => {
    try {
      options.onError?.(error);
    } catch {
      // A failing error hook changes nothing.
    }
  };
  const client = createRedisClient(connection, 'producer', report);
  const queue = new Queue<CascadeJobData>(queueName, {
    connection: client,
    prefix,
    defaultJobOptions: {
      attempts,
      backoff: { type: 'exponential', delay: backoff },
      removeOnComplete: keepCompleted === 0 ? true : { count: keepCompleted },
      removeOnFail: keepFailed === 0 ? true : { count: keepFailed },
    },
  });
  queue.on('error', report);
  const adding = new Set<Promise<unknown>>();
  let closed = false;

  async function add(batch: CascadeBatch): Promise<void> {
    const data: CascadeJobData = {
      // Only what the job needs, as plain JSON: a pk keeps its type through Redis.
      refs: batch.refs.map(({ model, pk }) => ({ model, pk })),
      journalIds: [...(batch.journalIds ?? [])],
      updateOnly: batch.updateOnly ?? false,
    };
    const job = queue.add(CASCADE_JOB, data);
    adding.add(job);
    job.then(
      () => adding.delete(job),
      () => adding.delete(job),
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new QueueError(`Redis did not take the job within ${timeout} ms`)),
        timeout,
      );
    });
    try {
      await Promise.race([job, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    queue,
    async submit(batch) {
      if (closed) throw new QueueError(`${api}: closed; no more cascades are taken`);
      try {
        await add(batch);
      } catch (error) {
        throw new QueueError(
          `${api}: could not add the cascade of ${batch.refs.length} ref(s) to queue ${prefix}:${queueName}: ${(error as Error)?.message ?? String(error)}; its journal entry stays for recovery`,
          { cause: error, context: { operation: 'submit' } },
        );
      }
    },
    async drain() {
      await Promise.allSettled([...adding]);
    },
    async close() {
      if (closed) return;
      closed = true;
      // Adds still waiting for a Redis that never answered are not waited for past `timeout`.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...adding]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeout);
        }),
      ]);
      clearTimeout(timer);
      await queue.close().catch(report);
      await closeRedisClient(client);
    },
  };
}

function nonNegative(api: string, name: string, value: number | undefined, fallback: number): number {
  return value === 0 ? 0 : positiveInteger(api, name, value, fallback);
}
