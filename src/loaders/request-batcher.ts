import type { InstanceCache } from '../core/instance-cache.js';
import type { CacheStats } from '../core/stats.js';
import { InvalidOptionError } from '../errors.js';
import { normalizePk, type Pk, type PkType } from '../strategy/pk.js';

/** The outcome of one pk: its record (`null` when missing or hidden), or the error of its batch. */
export type Settled = { readonly record: object | null } | { readonly error: Error };

type Outcomes = ReadonlyMap<Pk, Settled>;

/**
 * One model's reads for one request: a memo of records and a queue batched per tick, shared by
 * the model's DataLoader and by list reads ({@link readRecords}).
 *
 * Why not DataLoader alone: `loadMany` costs about six promises per key, and a warm nested query
 * resolves a thousand keys; a list read here costs one promise per call, and none at all once
 * its records are memoized (resolvers can then return synchronously). Both paths share the queue,
 * so a tick's keys still make ONE `getInstances` call (one store round trip) however they were
 * asked for.
 *
 * Readers take their answers from the batches they waited on, never from the memo after the
 * fact, so `clear()` (after a write) can never leave a reader without an answer; a batch that was
 * in flight when the memo was cleared does not write its (older) records into it. Errors are
 * never memoized: asking again retries.
 *
 * @internal
 */
export class ModelBatcher {
  readonly #memo = new Map<Pk, { readonly record: object | null }>();
  readonly #inFlight = new Map<Pk, Promise<Outcomes>>();
  #queue: Pk[] = [];
  #batch: Promise<Outcomes> | undefined;
  #schedule: (() => void)[] = [];
  #epoch = 0;
  readonly #cache: InstanceCache<Record<string, object>>;
  readonly #model: string;
  readonly #pkType: PkType;
  readonly #stats: CacheStats | undefined;
  readonly #readOptions: { readonly version: string; readonly stats: CacheStats | undefined };

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
    this.#stats = stats;
    this.#readOptions = { version, stats };
  }

  /** The normalised pk, or the `InvalidPkError` for a malformed one. */
  normalize(raw: unknown): Pk | Error {
    try {
      return normalizePk(raw, this.#pkType, this.#model);
    } catch (error) {
      return error as Error;
    }
  }

  /**
   * The outcome of every pk: synchronously when all are memoized, else once the batches they
   * joined (this tick's, or ones already in flight) have settled.
   */
  read(pks: readonly Pk[]): Outcomes | Promise<Outcomes> {
    const known = new Map<Pk, Settled>();
    let waits: Promise<Outcomes>[] | undefined;
    let fresh: Set<Pk> | undefined;
    for (const pk of pks) {
      const memoized = this.#memo.get(pk);
      if (memoized) {
        known.set(pk, memoized);
        if (this.#stats) this.#stats.memoHits += 1;
        continue;
      }
      const wait = this.#inFlight.get(pk);
      if (wait) {
        if (this.#stats) this.#stats.memoHits += 1;
        if (!waits) waits = [wait];
        else if (!waits.includes(wait)) waits.push(wait);
      } else if (!fresh) fresh = new Set([pk]);
      else fresh.add(pk);
    }
    if (fresh) {
      const unknown = [...fresh];
      // What the cache's L1 tier holds answers now, without a batch: a warm request whose records
      // are all in L1 never waits for a tick.
      const held =
        this.#cache.l1Size > 0 ? this.#cache.peek(this.#model, unknown, this.#readOptions) : undefined;
      for (let i = 0; i < unknown.length; i += 1) {
        const pk = unknown[i]!;
        const record = held?.[i];
        if (record !== undefined) {
          const settled = { record };
          this.#memo.set(pk, settled);
          known.set(pk, settled);
          continue;
        }
        const wait = this.#enqueue(pk);
        if (!waits) waits = [wait];
        else if (!waits.includes(wait)) waits.push(wait);
      }
    }
    if (!waits) return known;
    return Promise.all(waits).then((batches) => {
      for (const outcomes of batches) {
        for (const pk of pks) {
          const outcome = outcomes.get(pk);
          if (outcome && !known.has(pk)) known.set(pk, outcome);
        }
      }
      return known;
    });
  }

  /** Runs `dispatch` when this tick's batch is sent (before sending), for DataLoader's scheduling. */
  onDispatch(dispatch: () => void): void {
    this.#schedule.push(dispatch);
    this.#ensureScheduled();
  }

  /** Memoizes a record (DataLoader's `prime`). */
  prime(pk: Pk, record: object | null): void {
    this.#memo.set(pk, { record });
  }

  /** Forgets one pk, or everything (after a write in a mutation), including reads in flight. */
  clear(pk?: Pk): void {
    this.#epoch += 1;
    if (pk === undefined) {
      this.#memo.clear();
      this.#inFlight.clear();
    } else {
      this.#memo.delete(pk);
      this.#inFlight.delete(pk);
    }
  }

  #enqueue(pk: Pk): Promise<Outcomes> {
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

  async #dispatch(): Promise<Outcomes> {
    // DataLoader batches of this tick add their keys to the queue first.
    const scheduled = this.#schedule;
    this.#schedule = [];
    for (const run of scheduled) run();
    const batch = this.#batch;
    const pks = this.#queue;
    this.#queue = [];
    this.#batch = undefined;
    const outcomes = new Map<Pk, Settled>();
    if (pks.length === 0) return outcomes;
    const epoch = this.#epoch;
    try {
      const records = await this.#cache.getInstances(this.#model, pks, this.#readOptions);
      pks.forEach((pk, i) => {
        const settled = { record: records[i] ?? null };
        outcomes.set(pk, settled);
        // A clear() while this batch was in flight means a write happened: keep its records out
        // of the memo (its readers still get them; they asked before the write).
        if (this.#epoch === epoch) this.#memo.set(pk, settled);
      });
    } catch (error) {
      for (const pk of pks) outcomes.set(pk, { error: error as Error });
    } finally {
      for (const pk of pks) {
        if (this.#inFlight.get(pk) === batch) this.#inFlight.delete(pk);
      }
    }
    return outcomes;
  }
}

const batchers = new WeakMap<object, ModelBatcher>();

/** Links a model's DataLoader to its batcher, for {@link readRecords}. @internal */
export function attachBatcher(loader: object, batcher: ModelBatcher): void {
  batchers.set(loader, batcher);
}

/**
 * Reads records of one model through a request's loaders, aligned with `pks`: the record, `null`
 * (missing or hidden), or the `Error` of that pk (a malformed id, a failed load). Returns the array
 * itself, synchronously, when every record is already memoized in this request, and a promise
 * otherwise; either way the keys join the tick's one batched read. A loader that `createLoaders`
 * did not make (a DataLoader of your own) is read with its `loadMany`.
 */
export function readRecords(
  loaders: object,
  model: string,
  pks: readonly unknown[],
): (object | null | Error)[] | Promise<(object | null | Error)[]> {
  const loader = (loaders as Record<string, { loadMany?: unknown } | undefined>)[model];
  const batcher = loader ? batchers.get(loader) : undefined;
  if (!batcher) {
    if (typeof loader?.loadMany === 'function') {
      return (loader.loadMany as (keys: readonly unknown[]) => Promise<(object | null | Error)[]>)(pks);
    }
    throw new InvalidOptionError(
      `graphql-cached-instances: the context has no loader for model "${model}". Build the context with cachedContext(cache, …) (or the loaders with createLoaders(cache, …)), and check that "${model}" has records in their version`,
    );
  }
  const normalized = pks.map((pk) => batcher.normalize(pk));
  const collect = (outcomes: Outcomes) =>
    normalized.map((pk) => {
      if (pk instanceof Error) return pk;
      const outcome = outcomes.get(pk)!;
      return 'error' in outcome ? outcome.error : outcome.record;
    });
  const read = batcher.read(normalized.filter((pk): pk is Pk => !(pk instanceof Error)));
  return read instanceof Promise ? read.then(collect) : collect(read);
}
