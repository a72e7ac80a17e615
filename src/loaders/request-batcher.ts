import type { InstanceCache } from '../core/instance-cache.js';
import type { CacheStats } from '../core/stats.js';
import { normalizePk, type Pk, type PkType } from '../strategy/pk.js';

type Settled = { record: object | null } | { error: Error };

/**
 * One model's reads for one request: a memo of settled records and a queue batched per tick,
 * shared by the model's DataLoader and by list reads ({@link readRecords}).
 *
 * Why not DataLoader alone: `loadMany` costs about six promises per key, and a warm nested query
 * resolves a thousand keys; a list read here costs one promise per call, and none at all once
 * its records are memoized (resolvers can then return synchronously). Both paths share the queue,
 * so a tick's keys still make ONE `getInstances` call (one store round trip) however they were
 * asked for.
 *
 * @internal
 */
export class ModelBatcher {
  readonly #memo = new Map<Pk, Settled>();
  readonly #inFlight = new Map<Pk, Promise<void>>();
  #queue: Pk[] = [];
  #batch: Promise<void> | undefined;
  #schedule: (() => void)[] = [];
  readonly #cache: InstanceCache<Record<string, object>>;
  readonly #model: string;
  readonly #pkType: PkType;
  readonly #version: string;
  readonly #stats: CacheStats | undefined;

  constructor(
    cache: InstanceCache<Record<string, object>>,
    model: string,
    pkType: PkType,
    version: string,
    stats?: CacheStats,
  ) {
    this.#cache = cache;
    this.#model = model;
    this.#pkType = pkType;
    this.#version = version;
    this.#stats = stats;
  }

  /** The normalised pk, or the `InvalidPkError` for a malformed one. */
  normalize(raw: unknown): Pk | Error {
    try {
      return normalizePk(raw, this.#pkType, this.#model);
    } catch (error) {
      return error as Error;
    }
  }

  /** What is settled for `pk`, if anything. */
  settled(pk: Pk): Settled | undefined {
    return this.#memo.get(pk);
  }

  /**
   * Makes sure every pk is loaded or on its way; `undefined` when all are settled already, else a
   * promise that settles when they are.
   */
  request(pks: readonly Pk[]): Promise<void> | undefined {
    let waits: Promise<void>[] | undefined;
    for (const pk of pks) {
      const settled = this.#memo.get(pk);
      // A failed load is not memoized for good: asking again retries it, as DataLoader does.
      if (settled && !('error' in settled)) {
        if (this.#stats) this.#stats.memoHits += 1;
        continue;
      }
      let wait = this.#inFlight.get(pk);
      if (wait) {
        if (this.#stats) this.#stats.memoHits += 1;
      } else {
        wait = this.#enqueue(pk);
      }
      if (!waits) waits = [wait];
      else if (waits[waits.length - 1] !== wait) waits.push(wait);
    }
    if (!waits) return undefined;
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => undefined);
  }

  /** Runs `dispatch` when this tick's batch is sent (before sending), for DataLoader's scheduling. */
  onDispatch(dispatch: () => void): void {
    this.#schedule.push(dispatch);
    this.#ensureScheduled();
  }

  /** Forgets everything memoized (after a write in a mutation). */
  clear(): void {
    this.#memo.clear();
  }

  #enqueue(pk: Pk): Promise<void> {
    this.#queue.push(pk);
    this.#ensureScheduled();
    const batch = this.#batch!;
    this.#inFlight.set(pk, batch);
    return batch;
  }

  // Scheduling as DataLoader does it: after the current promise jobs, on the next tick, so that
  // every resolver of one level of a query has queued its keys.
  #ensureScheduled(): void {
    if (this.#batch) return;
    this.#batch = Promise.resolve()
      .then(() => new Promise<void>((resolve) => process.nextTick(resolve)))
      .then(() => this.#dispatch());
  }

  async #dispatch(): Promise<void> {
    // DataLoader batches of this tick add their keys to the queue first.
    const scheduled = this.#schedule;
    this.#schedule = [];
    for (const run of scheduled) run();
    const pks = this.#queue;
    this.#queue = [];
    this.#batch = undefined;
    if (pks.length === 0) return;
    try {
      const records = await this.#cache.getInstances(this.#model, pks, {
        version: this.#version,
        stats: this.#stats,
      });
      pks.forEach((pk, i) => {
        this.#memo.set(pk, { record: records[i] ?? null });
      });
    } catch (error) {
      for (const pk of pks) this.#memo.set(pk, { error: error as Error });
    } finally {
      for (const pk of pks) this.#inFlight.delete(pk);
    }
  }
}

/** Per-request batchers of a loaders object, for {@link readRecords}. @internal */
export const batchersOf = new WeakMap<object, ReadonlyMap<string, ModelBatcher>>();

/**
 * Reads records of one model through a request's loaders, aligned with `pks`: the record, `null`
 * (missing or hidden), or the `Error` of that pk (a malformed id, a failed load). Returns the array
 * itself, synchronously, when every record is already memoized in this request, and a promise
 * otherwise; either way the keys join the tick's one batched read.
 *
 * Throws a `TypeError` for loaders not made by `createLoaders`, or a model without records.
 */
export function readRecords(
  loaders: object,
  model: string,
  pks: readonly unknown[],
): (object | null | Error)[] | Promise<(object | null | Error)[]> {
  const batcher = batchersOf.get(loaders)?.get(model);
  if (!batcher) {
    throw new TypeError(
      `graphql-cached-instances: the context has no loader for model "${model}". Build the context with cachedContext(cache, …) (or the loaders with createLoaders(cache, …)), and check that "${model}" has records in their version`,
    );
  }
  const normalized = pks.map((pk) => batcher.normalize(pk));
  const valid = normalized.filter((pk): pk is Pk => !(pk instanceof Error));
  const collect = () =>
    normalized.map((pk) => {
      if (pk instanceof Error) return pk;
      const settled = batcher.settled(pk)!;
      return 'error' in settled ? settled.error : settled.record;
    });
  const pending = batcher.request(valid);
  return pending ? pending.then(collect) : collect();
}
