import type { UpdateOptions, UpdateSummary } from '../core/instance-cache.js';
import { InvalidOptionError, QueueError } from '../errors.js';
import type { Ref } from '../strategy/define.js';

/**
 * One cascade to run: what one commit (or, after `CacheSubscriber.suspend`, several commits) must
 * refresh, and the journal entries that record it (if journaled).
 */
export interface CascadeBatch {
  readonly refs: readonly Ref[];
  /** The journal entries to mark applied once every write of the cascade landed. Default: none. */
  readonly journalIds?: readonly string[];
  /** Passed to `update`. Default `false`. */
  readonly updateOnly?: boolean;
}

/** What runs cascades: an `InstanceCache`, or anything with its `update`. */
export interface CascadeTarget {
  update(refs: readonly Ref[], options?: UpdateOptions): Promise<UpdateSummary>;
}

/** What a runner tells about the batches it ran. */
export interface CascadeRunnerOptions {
  /** Marks journal entries applied (a `CacheJournal`). Default: none. */
  journal?: { applied(id: string): void };
  /** After each cascade, with what `update` returned and how long it took. */
  onBatch?(batch: CascadeBatch, summary: UpdateSummary, durationMs: number): void;
  /** When a cascade failed (it stays in the journal, if any, and is retried by recovery). */
  onError?(error: unknown, batch: CascadeBatch): void;
}

/**
 * Where the cascade of a commit runs (the subscriber's `runner` option):
 * - {@link inlineRunner}: in the committing request, awaited (the default);
 * - {@link backgroundRunner}: in this process, after the commit returns;
 * - `bullmqRunner` (`graphql-cached-instances/bullmq`): in a worker process, through Redis.
 */
export interface CascadeRunner {
  /**
   * Hands a batch over. Inline: resolves once applied. Background: once queued (waits while the
   * queue is full). Queue: once the job is in Redis. Never rejects for a failed cascade (see
   * `onError`); rejects with a `QueueError` when the runner cannot take it.
   */
  submit(batch: CascadeBatch): Promise<void>;
  /** Resolves once everything submitted so far ran (or failed). */
  drain(): Promise<void>;
  /** Drains, then refuses new batches. */
  close(): Promise<void>;
}

/**
 * The refs without repeats, in first-seen order. `1` and `'1'` are kept apart (they are different
 * keys of a string-pk model; for a number-pk model `update` normalises them to one key and visits
 * it once).
 */
export function uniqueRefs(refs: readonly Ref[]): Ref[] {
  const seen = new Set<string>();
  return refs.filter((ref) => {
    const id = `${ref.model}\u0000${typeof ref.pk}:${ref.pk}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** The batch's refresh landed: mark its journal entries applied. */
function markApplied(batch: CascadeBatch, options: CascadeRunnerOptions): void {
  for (const id of batch.journalIds ?? []) options.journal?.applied(id);
}

/** Runs one batch on `target`: update, then mark its journal entry applied when nothing failed. */
async function run(target: CascadeTarget, batch: CascadeBatch, options: CascadeRunnerOptions): Promise<void> {
  const started = performance.now();
  try {
    const summary = await target.update(batch.refs, { updateOnly: batch.updateOnly ?? false });
    if (summary.failed === 0) markApplied(batch, options);
    options.onBatch?.(batch, summary, performance.now() - started);
  } catch (error) {
    options.onError?.(error, batch);
  }
}

/**
 * Runs each cascade at once, awaited by whoever submits it: `em.flush()` resolves after the cache
 * was refreshed, so the next read anywhere is fresh. The default.
 */
export function inlineRunner(target: CascadeTarget, options: CascadeRunnerOptions = {}): CascadeRunner {
  const running = new Set<Promise<void>>();
  let closed = false;
  return {
    async submit(batch) {
      if (closed) throw new QueueError('inlineRunner: closed; no more cascades are taken');
      const one = run(target, batch, options);
      running.add(one);
      try {
        await one;
      } finally {
        running.delete(one);
      }
    },
    async drain() {
      await Promise.all(running);
    },
    async close() {
      closed = true;
      await Promise.all(running);
    },
  };
}

/** Options of {@link backgroundRunner}. */
export interface BackgroundRunnerOptions extends CascadeRunnerOptions {
  /**
   * Most refs waiting at once; `submit` waits (the commit's caller waits) while the queue is that
   * full. Default 100,000.
   */
  maxQueued?: number;
  /** Most refs refreshed by one `update` call (queued batches are merged up to this). Default 1,000. */
  maxBatch?: number;
}

/**
 * Runs cascades in this process after the commit returns: `em.flush()` resolves without waiting
 * for the cache (drf-cached-instances with Celery, without the broker). Batches run one
 * `update` at a time in submission order, so the refreshes of one key keep their order; queued
 * batches are merged (their refs de-duplicated) up to `maxBatch` refs. Bounded: `submit` waits
 * while `maxQueued` refs are waiting. `close()` drains what is queued; call it on shutdown (a
 * process that dies first leaves its batches to the journal's recovery).
 */
export function backgroundRunner(
  target: CascadeTarget,
  options: BackgroundRunnerOptions = {},
): CascadeRunner {
  const maxQueued = options.maxQueued ?? 100_000;
  const maxBatch = options.maxBatch ?? 1_000;
  for (const [name, value] of [
    ['maxQueued', maxQueued],
    ['maxBatch', maxBatch],
  ] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidOptionError(
        `backgroundRunner: options.${name} must be a positive integer, got ${String(value)}`,
        {
          context: { option: name },
        },
      );
    }
  }
  const queue: CascadeBatch[] = [];
  let queued = 0;
  let worker: Promise<void> | undefined;
  let closed = false;
  const roomWaiters: (() => void)[] = [];
  const idleWaiters: (() => void)[] = [];

  async function work(): Promise<void> {
    while (queue.length > 0) {
      // Merge what is waiting, in order, up to maxBatch refs: one update refreshes each key once.
      const taken: CascadeBatch[] = [queue.shift()!];
      let size = taken[0]!.refs.length;
      while (
        queue.length > 0 &&
        size + queue[0]!.refs.length <= maxBatch &&
        queue[0]!.updateOnly === taken[0]!.updateOnly
      ) {
        const next = queue.shift()!;
        size += next.refs.length;
        taken.push(next);
      }
      queued -= size;
      while (roomWaiters.length > 0 && queued < maxQueued) roomWaiters.shift()!();
      const refs = uniqueRefs(taken.flatMap((batch) => batch.refs));
      const merged: CascadeBatch = { refs, updateOnly: taken[0]!.updateOnly };
      const started = performance.now();
      try {
        const summary = await target.update(merged.refs, { updateOnly: merged.updateOnly ?? false });
        if (summary.failed === 0) for (const batch of taken) markApplied(batch, options);
        for (const batch of taken) options.onBatch?.(batch, summary, performance.now() - started);
      } catch (error) {
        for (const batch of taken) options.onError?.(error, batch);
      }
    }
    worker = undefined;
    while (idleWaiters.length > 0) idleWaiters.shift()!();
  }

  return {
    async submit(batch) {
      if (closed) throw new QueueError('backgroundRunner: closed; no more cascades are taken');
      while (queued >= maxQueued) await new Promise<void>((resolve) => roomWaiters.push(resolve));
      queue.push(batch);
      queued += batch.refs.length;
      worker ??= Promise.resolve().then(work);
    },
    async drain() {
      if (!worker) return;
      await new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      closed = true;
      await this.drain();
    },
  };
}
