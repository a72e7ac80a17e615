import type { InstanceCache } from '../core/instance-cache.js';
import type { CacheStats } from '../core/stats.js';
import { InvalidOptionError } from '../errors.js';
import { normalizePk, type Pk, type PkType } from '../strategy/pk.js';

/** What a read gives for one pk: its record, `null` (missing or hidden), or the error of its pk or batch. */
export type ReadValue = object | null | Error;

/** A batch's answers: the record (`null` for missing) or the error, per pk. */
type Outcomes = ReadonlyMap<Pk, object | null | Error>;

/** Reads L1 for one pk of the batcher's model and version (`undefined`: not held). */
type L1Reader = (pk: Pk) => object | null | undefined;

/**
 * One model's reads for one request: a memo of records and a queue batched per tick, shared by
 * the model's DataLoader and by the resolver builders ({@link readRecords}).
 *
 * Why not DataLoader alone: `loadMany` costs about six promises per key, and a warm nested query
 * resolves a thousand keys; a read here costs one pass over its pks and no promise at all when
 * every record is memoized or held by the cache's L1 tier (resolvers can then return
 * synchronously). Both paths share the queue, so a tick's keys still make ONE `getInstances` call
 * (one store round trip) however they were asked for.
 *
 * Readers take their answers from the batches they waited on, never from the memo after the
 * fact, so `clear()` (after a write) can never leave a reader without an answer; a batch that was
 * in flight when the memo was cleared does not write its (older) records into it. Errors are
 * never memoized: asking again retries.
 *
 * @internal
 */
export class ModelBatcher {
  /** Records (`null`: missing or hidden) read in this request. */
  readonly #memo = new Map<Pk, object | null>();
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
  readonly #l1: L1Reader | undefined;

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
    this.#l1 = cache.l1Reader(model, version, stats);
  }

  /** The normalised pk, or the `InvalidPkError` for a malformed one. */
  normalize(raw: unknown): Pk | Error {
    // The common case, without a call: an integer pk of a numeric model.
    if (typeof raw === 'number' && this.#pkType === 'number' && Number.isSafeInteger(raw)) return raw;
    try {
      return normalizePk(raw, this.#pkType, this.#model);
    } catch (error) {
      return error as Error;
    }
  }

  /**
   * The values of `raws`, aligned: synchronously when every record is memoized (or in L1), else
   * once the batches the rest joined (this tick's, or ones already in flight) have settled. One
   * pass over the pks; a malformed pk is its own `InvalidPkError`.
   */
  read(raws: readonly unknown[]): ReadValue[] | Promise<ReadValue[]> {
    const out: ReadValue[] = new Array(raws.length);
    // The pks still unknown, by the batch that answers them: nearly always one batch (this
    // tick's), so a read waits on one promise however many pks it has.
    let waiting: Map<Promise<Outcomes>, { index: number; pk: Pk }[]> | undefined;
    for (let i = 0; i < raws.length; i += 1) {
      const pk = this.normalize(raws[i]);
      if (pk instanceof Error) {
        out[i] = pk;
        continue;
      }
      const found = this.#known(pk);
      if (found !== undefined) {
        out[i] = found;
        continue;
      }
      const batch = this.#waitFor(pk);
      waiting ??= new Map();
      const pks = waiting.get(batch);
      if (pks) pks.push({ index: i, pk });
      else waiting.set(batch, [{ index: i, pk }]);
    }
    if (!waiting) return out;
    const settle = (outcomes: Outcomes, pks: readonly { index: number; pk: Pk }[]) => {
      for (const { index, pk } of pks) out[index] = outcomes.get(pk) ?? null;
    };
    if (waiting.size === 1) {
      const [batch, pks] = waiting.entries().next().value!;
      return batch.then((outcomes) => {
        settle(outcomes, pks);
        return out;
      });
    }
    const groups = [...waiting];
    return Promise.all(groups.map(([batch]) => batch)).then((settled) => {
      settled.forEach((outcomes, n) => {
        settle(outcomes, groups[n]![1]);
      });

      return out;
    });
  }

  /** One pk's value: synchronously when memoized (or in L1), else once its batch settled. */
  readOne(raw: unknown): ReadValue | Promise<ReadValue> {
    const pk = this.normalize(raw);
    if (pk instanceof Error) return pk;
    const found = this.#known(pk);
    if (found !== undefined) return found;
    return this.#waitFor(pk).then((outcomes) => outcomes.get(pk) ?? null);
  }

  /** Runs `dispatch` when this tick's batch is sent (before sending), for DataLoader's scheduling. */
  onDispatch(dispatch: () => void): void {
    this.#schedule.push(dispatch);
    this.#ensureScheduled();
  }

  /** Memoizes a record (DataLoader's `prime`). */
  prime(pk: Pk, record: object | null): void {
    this.#memo.set(pk, record);
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

  /** The memoized (or L1) record of `pk`, memoizing what L1 held; `undefined` when unknown. */
  #known(pk: Pk): object | null | undefined {
    const memoized = this.#memo.get(pk);
    if (memoized !== undefined) {
      if (this.#stats) this.#stats.memoHits += 1;
      return memoized;
    }
    if (this.#l1 === undefined) return undefined;
    const held = this.#l1(pk);
    if (held !== undefined) this.#memo.set(pk, held);
    return held;
  }

  /** The batch that answers `pk`: one already in flight, or this tick's. */
  #waitFor(pk: Pk): Promise<Outcomes> {
    const inFlight = this.#inFlight.get(pk);
    if (inFlight) {
      if (this.#stats) this.#stats.memoHits += 1;
      return inFlight;
    }
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
    const outcomes = new Map<Pk, object | null | Error>();
    if (pks.length === 0) return outcomes;
    const epoch = this.#epoch;
    try {
      const records = await this.#cache.getInstances(this.#model, pks, this.#readOptions);
      // A clear() while this batch was in flight means a write happened: keep its records out
      // of the memo (its readers still get them; they asked before the write).
      const memoize = this.#epoch === epoch;
      pks.forEach((pk, i) => {
        const record = records[i] ?? null;
        outcomes.set(pk, record);
        if (memoize) this.#memo.set(pk, record);
      });
    } catch (error) {
      for (const pk of pks) outcomes.set(pk, error as Error);
    } finally {
      for (const pk of pks) {
        if (this.#inFlight.get(pk) === batch) this.#inFlight.delete(pk);
      }
    }
    return outcomes;
  }
}

/**
 * A request's batchers, one per model, made on first use. What `createLoaders` builds its
 * loaders on, and what {@link readRecords} reads through.
 *
 * @internal
 */
export class RequestBatchers {
  readonly #byModel = new Map<string, ModelBatcher>();
  readonly #cache: InstanceCache<Record<string, object>>;
  readonly #version: string;
  readonly #stats: CacheStats | undefined;

  constructor(cache: InstanceCache<Record<string, object>>, version: string, stats: CacheStats | undefined) {
    this.#cache = cache;
    this.#version = version;
    this.#stats = stats;
  }

  /** The request's counters. */
  get stats(): CacheStats | undefined {
    return this.#stats;
  }

  /** The model's batcher, or `undefined` when the model has no records in this version. */
  of(model: string): ModelBatcher | undefined {
    let batcher = this.#byModel.get(model);
    if (!batcher) {
      if (!this.#cache.strategy.modelNames.includes(model)) return undefined;
      const resolved = this.#cache.strategy.model(model).versions.get(this.#version);
      if (!resolved || resolved.serialize === null) return undefined;
      batcher = new ModelBatcher(this.#cache, model, resolved.pkType, this.#version, this.#stats);
      this.#byModel.set(model, batcher);
    }
    return batcher;
  }

  /** Forgets what every model's batcher memoized (after a write in a mutation). */
  clear(): void {
    for (const batcher of this.#byModel.values()) batcher.clear();
  }
}

// Under a symbol, own and enumerable: a spread copy of the loaders object (`{ ...loaders }`)
// still reads through the same batchers, and `Object.keys(loaders)` lists only the models.
const BATCHERS = Symbol('graphql-cached-instances batchers');

/** Links a request's loaders object to its batchers, for {@link readRecords}. @internal */
export function attachBatchers(loaders: object, batchers: RequestBatchers): void {
  Object.defineProperty(loaders, BATCHERS, { value: batchers, enumerable: true });
}

/** The batchers behind a loaders object made by `createLoaders` (or a copy of one). @internal */
export function batchersOf(loaders: object): RequestBatchers | undefined {
  return (loaders as { [BATCHERS]?: RequestBatchers })[BATCHERS];
}

/**
 * Reads records of one model through a request's loaders, aligned with `pks`: the record, `null`
 * (missing or hidden), or the `Error` of that pk (a malformed id, a failed load). Returns the array
 * itself, synchronously, when every record is already memoized in this request (or held by L1),
 * and a promise otherwise; either way the keys join the tick's one batched read. Loaders that
 * `createLoaders` did not make (DataLoaders of your own) are read with the model's `loadMany`.
 */
export function readRecords(
  loaders: object,
  model: string,
  pks: readonly unknown[],
): ReadValue[] | Promise<ReadValue[]> {
  const batcher = batchersOf(loaders)?.of(model);
  if (batcher) return batcher.read(pks);
  return foreignLoader(loaders, model).loadMany(pks);
}

/** Reads one record the same way (see {@link readRecords}). */
export function readRecord(loaders: object, model: string, pk: unknown): ReadValue | Promise<ReadValue> {
  const batcher = batchersOf(loaders)?.of(model);
  if (batcher) return batcher.readOne(pk);
  return foreignLoader(loaders, model)
    .loadMany([pk])
    .then((values) => values[0] ?? null);
}

function foreignLoader(
  loaders: object,
  model: string,
): { loadMany(keys: readonly unknown[]): Promise<ReadValue[]> } {
  const loader = (loaders as Record<string, { loadMany?: unknown } | undefined>)[model];
  if (typeof loader?.loadMany === 'function') {
    return loader as { loadMany(keys: readonly unknown[]): Promise<ReadValue[]> };
  }
  throw new InvalidOptionError(
    `graphql-cached-instances: the context has no loader for model "${model}". Build the context with cachedContext(cache, …) (or the loaders with createLoaders(cache, …)), and check that "${model}" has records in their version`,
  );
}
