import DataLoader from 'dataloader';
import type { InstanceCache } from '../core/instance-cache.js';
import type { CacheStats } from '../core/stats.js';
import type { Strategy } from '../strategy/define.js';
import type { Pk } from '../strategy/pk.js';
import { attachBatchers, batchersOf, type ModelBatcher, RequestBatchers } from './request-batcher.js';

/** One DataLoader per model: `loaders.Question.load(1)`, `.loadMany([1, 2])`. */
export type Loaders<Records extends object> = {
  readonly [M in keyof Records & string]: DataLoader<Pk, Records[M] | null, Pk | object>;
};

/** Options of {@link createLoaders}. */
export interface CreateLoadersOptions {
  /** The cache version these loaders read. Default: the strategy's `defaultVersion`. */
  version?: string;
  /** Per-request counters (store round trips, hits, misses, memo hits…). Default: none. */
  stats?: CacheStats;
}

// The model's DataLoader, sharing the batcher's queue and memo: clear, clearAll and prime reach
// the resolver builders' reads too.
class ModelLoader extends DataLoader<Pk, object | null, Pk | object> {
  readonly #batcher: ModelBatcher;
  constructor(batcher: ModelBatcher, options: DataLoader.Options<Pk, object | null, Pk | object>) {
    super((raws) => loadBatch(batcher, raws), options);
    this.#batcher = batcher;
  }
  override clear(key: Pk): this {
    const pk = this.#batcher.normalize(key);
    if (!(pk instanceof Error)) this.#batcher.clear(pk);
    return super.clear(key);
  }
  override clearAll(): this {
    this.#batcher.clear();
    return super.clearAll();
  }
  override prime(key: Pk, value: object | null | PromiseLike<object | null> | Error): this {
    const pk = this.#batcher.normalize(key);
    const known =
      value === null || (typeof value === 'object' && !(value instanceof Error) && !('then' in value));
    if (!(pk instanceof Error) && known) this.#batcher.prime(pk, value);
    return super.prime(key, value);
  }
}

async function loadBatch(batcher: ModelBatcher, raws: readonly Pk[]): Promise<(object | null | Error)[]> {
  const values = await batcher.read(raws);
  return raws.map((raw, i) => {
    const value = values[i]!;
    // A failed read rejects the whole DataLoader batch, so DataLoader does not memoize the error
    // and the next load retries; a malformed pk is an error of its own key only.
    if (value instanceof Error && !(batcher.normalize(raw) instanceof Error)) throw value;
    return value;
  });
}

function createModelLoader(batcher: ModelBatcher, stats: CacheStats | undefined): ModelLoader {
  // An invalid id is never memoized: its cache key is a new object each time, which no pk (a
  // number or a string) can equal, so it never shares a memo slot with a real pk (a string key
  // such as "invalid number 5" could: it is a valid string pk).
  const cacheKeyFn = (raw: Pk): Pk | object => {
    const pk = batcher.normalize(raw);
    return pk instanceof Error ? {} : pk;
  };
  const memo = new Map<Pk | object, Promise<object | null>>();
  return new ModelLoader(batcher, {
    cacheKeyFn,
    // Dispatch with the model's other reads, in one batch per tick.
    batchScheduleFn: (dispatch) => batcher.onDispatch(dispatch),
    cacheMap: stats
      ? {
          get(key) {
            const hit = memo.get(key);
            if (hit) stats.memoHits += 1;
            return hit;
          },
          set: (key, value) => void memo.set(key, value),
          delete: (key) => memo.delete(key),
          clear: () => memo.clear(),
        }
      : memo,
  });
}

// Per strategy and version: property descriptors whose getters make each model's DataLoader on
// first use, so a request pays only for the models it reads (a query touching 3 models of 40
// builds 3). Own, enumerable properties: `Object.keys(loaders)` lists the models, and a spread
// copy carries them (and the batchers, under a symbol).
type Descriptors = readonly (readonly [string, PropertyDescriptor])[];
const descriptorCache = new WeakMap<Strategy<object>, Map<string, Descriptors>>();

function loaderDescriptors(strategy: Strategy<object>, version: string): Descriptors {
  let byVersion = descriptorCache.get(strategy);
  if (!byVersion) {
    byVersion = new Map();
    descriptorCache.set(strategy, byVersion);
  }
  const cached = byVersion.get(version);
  if (cached) return cached;
  const descriptors: [string, PropertyDescriptor][] = [];
  for (const name of strategy.modelNames) {
    const resolved = strategy.model(name).versions.get(version);
    if (!resolved || resolved.serialize === null) continue;
    descriptors.push([
      name,
      {
        enumerable: true,
        configurable: true,
        get(this: object) {
          const batchers = batchersOf(this)!;
          const loader = createModelLoader(batchers.of(name)!, batchers.stats);
          Object.defineProperty(this, name, { value: loader, enumerable: true });
          return loader;
        },
      },
    ]);
  }
  byVersion.set(version, descriptors);
  return descriptors;
}

/**
 * Creates per-request DataLoaders, one per model that has records in the version, each made on
 * first use. All loads of a model made in one tick become ONE `cache.getInstances` call (one store
 * round trip) — together with the reads the Apollo resolver builders make through the same
 * per-request queue — and reads are memoized per request, so a nested query costs one round trip
 * per level of nesting (none when L1 holds the records).
 *
 * Ids are normalised to the model's pk type before memoizing (`'7'` and `7` are one key for a
 * numeric model); a malformed id rejects only its own `load` with an `InvalidPkError`.
 * Create new loaders for every request: the memo is what the request has seen, and must not
 * outlive it.
 */
export function createLoaders<Records extends object>(
  cache: InstanceCache<Records>,
  options: CreateLoadersOptions = {},
): Loaders<Records> {
  const version = cache.strategy.checkVersion(options.version ?? cache.strategy.defaultVersion);
  // One property at a time: Object.create(proto, descriptors) costs about twice as much.
  const loaders = {};
  for (const [name, descriptor] of loaderDescriptors(
    cache.strategy as unknown as Strategy<object>,
    version,
  )) {
    Object.defineProperty(loaders, name, descriptor);
  }
  attachBatchers(
    loaders,
    new RequestBatchers(cache as unknown as InstanceCache<Record<string, object>>, version, options.stats),
  );
  return loaders as Loaders<Records>;
}

/**
 * Forgets what these loaders memoized, for every model (the DataLoaders made so far and the
 * resolver builders' reads): after a write in a mutation, so that the fields it returns read the
 * refreshed records.
 */
export function clearAllLoaders(loaders: object): void {
  batchersOf(loaders)?.clear();
  // Only the loaders made so far (and any of the app's own): reading a getter would make one.
  for (const descriptor of Object.values(Object.getOwnPropertyDescriptors(loaders))) {
    if ('value' in descriptor) (descriptor.value as { clearAll?(): unknown } | null)?.clearAll?.();
  }
}
