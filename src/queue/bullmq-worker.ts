/**
 * The worker side of the `queue` mode: a BullMQ Worker that runs the cascade jobs `bullmqRunner`
 * adds, merging the jobs it holds into one `update` per batch.
 */
import { type Job, Worker } from 'bullmq';
import type { UpdateSummary } from '../core/instance-cache.js';
import { InvalidOptionError, QueueError } from '../errors.js';
import {
  type BullmqQueueOptions,
  type CascadeJobData,
  closeRedisClient,
  createRedisClient,
  positiveInteger,
  readJobData,
  resolveQueue,
} from './bullmq-options.js';
import { type CascadeTarget, uniqueRefs } from './runners.js';

/** What the worker needs of a journal: a `CacheJournal` (on the worker's own ORM) fits. */
export interface CascadeWorkerJournal {
  applied(id: string): void;
  flush(): Promise<void>;
}

/** Options of {@link createWorker}. */
export interface CreateWorkerOptions extends BullmqQueueOptions {
  /** What runs the cascades: the worker's `InstanceCache` (same strategy and store as the app's). */
  cache: CascadeTarget;
  /**
   * Marks each job's journal entries applied once its refresh landed (`failed === 0`), and writes
   * the marks before the job completes. Default: none (entries are then applied again by
   * recovery, which changes nothing but costs a refresh).
   */
  journal?: CascadeWorkerJournal;
  /**
   * How many jobs the worker holds at once. Jobs that arrive while an `update` runs wait and are
   * merged into the next one. Default 100.
   */
  concurrency?: number;
  /** Most refs in one `update` call (merged jobs up to this; a larger job runs alone). Default 1,000. */
  maxBatch?: number;
  /**
   * How long a job stays locked by this worker without a renewal, in ms (renewed every half of
   * it while the job runs). A worker that died leaves its jobs to others once the lock expired.
   * Default 30,000 (BullMQ's).
   */
  lockDuration?: number;
  /**
   * How often the worker looks for jobs whose worker died (stalled), in ms: such a job is moved
   * back to the queue and run again. Default 30,000 (BullMQ's).
   */
  stalledInterval?: number;
  /**
   * How many times a job may stall before it is failed instead of run again. Default 1 (BullMQ's).
   * A failed job's journal entries stay unapplied, for recovery.
   */
  maxStalledCount?: number;
  /** Start taking jobs at once. Default `true`; with `false`, call `worker.run()`. */
  autorun?: boolean;
  /** After each `update`, with the jobs it covered, what it returned and how long it took. */
  onBatch?(jobs: readonly Job<CascadeJobData>[], summary: UpdateSummary, durationMs: number): void;
  /**
   * A job that failed (it is retried as its options say), a job that is not a cascade job (it is
   * completed without running), or a Redis connection error. Default: none.
   */
  onError?(error: unknown, jobs: readonly Job<CascadeJobData>[]): void;
}

/** A running worker. */
export interface CascadeWorker {
  /** The BullMQ worker (events: `active`, `completed`, `failed`; `pause()`, `run()`). */
  readonly worker: Worker<CascadeJobData>;
  /** Stops taking jobs, finishes the ones it holds, writes pending journal marks, disconnects. */
  close(): Promise<void>;
}

/** A job held by the worker until an `update` covering it settled. */
interface Held {
  readonly job: Job<CascadeJobData>;
  readonly data: CascadeJobData;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Runs the cascade jobs of the `queue` mode (what `graphql-cached-instances worker` starts), each
 * with `cache.update(refs)`, in a process of its own or beside the app.
 *
 * - **Merged, de-duplicated.** Jobs that arrive while an `update` runs (up to `concurrency` held,
 *   `maxBatch` refs) wait and go into the next `update` together, each ref once: a burst of
 *   commits touching the same parents refreshes each parent once. A job is only ever covered by an
 *   `update` that began after the worker took it, so after its commit: nothing is reloaded too
 *   early. Jobs of different `updateOnly` are not merged.
 * - **Retries.** A job whose `update` threw, or reported keys it could not write (`failed > 0`,
 *   the store failed), throws, and BullMQ runs it again with the attempts and exponential backoff
 *   `bullmqRunner` set on it. When a merged `update` throws, its jobs are run again one by one at
 *   once, so that one bad job does not make the others fail.
 * - **Journal.** Entries are marked applied (and the marks written) only after an `update` with
 *   `failed === 0`, before the job completes. A job that never succeeds leaves them to recovery.
 * - **Crashes.** A worker killed mid-job holds its jobs' locks until they expire
 *   (`lockDuration`); then any worker's stalled check (every `stalledInterval`) puts them back in
 *   the queue, and they run again from the start: a refresh applied twice changes nothing.
 * - **Order.** None is kept among jobs, in one worker or across several, and none is needed: a
 *   refresh re-reads the database, and of two refreshes of one key only the one that began last —
 *   and so loaded last — can write (see the store protocol), so after the last job of a key ran,
 *   the key holds the database's state as of a moment after its last commit.
 *
 * @example
 * const worker = createWorker({ cache, journal, connection: process.env.REDIS_URL! });
 * process.on('SIGTERM', () => worker.close());
 */
export function createWorker(options: CreateWorkerOptions): CascadeWorker {
  const api = 'createWorker';
  const { connection, queueName, prefix } = resolveQueue(api, options);
  const cache = options.cache;
  if (!cache || typeof cache.update !== 'function') {
    throw new InvalidOptionError(
      `${api}: options.cache must be an InstanceCache (or an object with its update(refs) method), got ${Object.prototype.toString.call(cache)}`,
      { context: { option: 'cache' } },
    );
  }
  const journal = options.journal;
  const concurrency = positiveInteger(api, 'concurrency', options.concurrency, 100);
  const maxBatch = positiveInteger(api, 'maxBatch', options.maxBatch, 1_000);
  const lockDuration = positiveInteger(api, 'lockDuration', options.lockDuration, 30_000);
  const stalledInterval = positiveInteger(api, 'stalledInterval', options.stalledInterval, 30_000);
  const maxStalledCount = positiveInteger(api, 'maxStalledCount', options.maxStalledCount, 1);
  const report = (error: unknown, jobs: readonly Job<CascadeJobData>[]) => {
    try {
      options.onError?.(error, jobs);
    } catch {
      // A failing error hook changes nothing.
    }
  };
  const held: Held[] = [];
  let running: Promise<void> | undefined;

  /** Runs an update for `group`; rejects when it threw or could not write every key. */
  async function refresh(group: readonly Held[]): Promise<void> {
    const refs = uniqueRefs(group.flatMap((one) => one.data.refs));
    const started = performance.now();
    // A job that ran before (it failed, or its worker died) may have written some levels and not
    // others: its cascade is resumed, following instances whether or not they changed.
    const resume = group.some((one) => one.job.attemptsStarted > 1);
    const summary = await cache.update(refs, { updateOnly: group[0]!.data.updateOnly, resume });
    if (summary.failed > 0) {
      throw new QueueError(
        `${api}: ${summary.failed} key(s) of the cascade could not be written (the store failed); the job is retried`,
        { context: { operation: 'update' } },
      );
    }
    if (journal) {
      for (const one of group) for (const id of one.data.journalIds) journal.applied(id);
      await journal.flush();
    }
    options.onBatch?.(
      group.map((one) => one.job),
      summary,
      performance.now() - started,
    );
  }

  async function settle(group: readonly Held[], split: boolean): Promise<void> {
    let error: unknown;
    try {
      await refresh(group);
      for (const one of group) one.resolve();
      return;
    } catch (caught) {
      error = caught;
    }
    if (split && group.length > 1 && !(error instanceof QueueError)) {
      // The update threw (a load failed, say): perhaps for one job's refs only. Each alone, so
      // only the jobs that fail by themselves are retried.
      for (const one of group) await settle([one], false);
      return;
    }
    report(
      error,
      group.map((one) => one.job),
    );
    for (const one of group) one.reject(error);
  }

  /** Takes the held jobs in order: the first, and those after it that fit in one batch with it. */
  async function work(): Promise<void> {
    while (held.length > 0) {
      const group = [held.shift()!];
      let size = group[0]!.data.refs.length;
      for (let i = 0; i < held.length; ) {
        const next = held[i]!;
        if (next.data.updateOnly === group[0]!.data.updateOnly && size + next.data.refs.length <= maxBatch) {
          group.push(...held.splice(i, 1));
          size += next.data.refs.length;
        } else i += 1;
      }
      await settle(group, true);
    }
    running = undefined;
  }

  function take(job: Job<CascadeJobData>): Promise<void> {
    const data = readJobData(job.data);
    if (!data) {
      // Not a cascade job: running it again would not help. Its journal entries, if any, are
      // applied by recovery.
      report(
        new QueueError(
          `${api}: job ${String(job.id)} of queue ${prefix}:${queueName} is not a cascade job ({ refs, journalIds, updateOnly }); completed without running`,
          { context: { operation: 'take' } },
        ),
        [job],
      );
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      held.push({ job, data, resolve, reject });
      // Started on a microtask: jobs handed over in the same tick join the first update.
      running ??= Promise.resolve().then(work);
    });
  }

  const client = createRedisClient(connection, 'worker', (error) => report(error, []));
  const worker = new Worker<CascadeJobData>(queueName, take, {
    connection: client,
    prefix,
    concurrency,
    autorun: options.autorun ?? true,
    lockDuration,
    stalledInterval,
    maxStalledCount,
  });
  worker.on('error', (error) => report(error, []));
  let closing: Promise<void> | undefined;
  return {
    worker,
    close() {
      closing ??= (async () => {
        // BullMQ's close waits for the jobs being processed: those held here too.
        await worker.close();
        await running;
        await journal?.flush();
        await closeRedisClient(client);
      })();
      return closing;
    },
  };
}
