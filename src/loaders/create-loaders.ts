import DataLoader from 'dataloader';
import type { InstanceCache } from '../core/instance-cache.js';
import type { CacheStats } from '../core/stats.js';
import type { Pk } from '../strategy/pk.js';
import { attachBatcher, ModelBatcher } from './request-batcher.js';

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
// the list reads too.
class ModelLoader extends DataLoader<Pk, object | null, Pk | object> {
  readonly #batcher: ModelBatcher;
  constructor(batcher: ModelBatcher, options: DataLoader.Options<Pk, object | null, Pk | object>) {
    super((raws) => loadBatch(batcher, raws), options);
    this.#batcher = batcher;
    attachBatcher(this, batcher);
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
  const pks = raws.map((raw) => batcher.normalize(raw));
  const outcomes = await batcher.read(pks.filter((pk): pk is Pk => !(pk instanceof Error)));
  return pks.map((pk) => {
    if (pk instanceof Error) return pk;
    const outcome = outcomes.get(pk)!;
    // A failed read rejects the whole DataLoader batch, so DataLoader does not memoize the error
    // and the next load retries (as it did before list reads shared this queue).
    if ('error' in outcome) throw outcome.error;
    return outcome.record;
  });
}

/**
 * Creates per-request DataLoaders, one per model that has records in the version. All loads of a
 * model made in one tick become ONE `cache.getInstances` call (one store round trip) — together
 * with the list reads the Apollo resolvers make through the same per-request queue — and reads
 * are memoized per request, so a nested query costs one round trip per level of nesting.
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
  const stats = options.stats;
  const loaders: Record<string, DataLoader<Pk, object | null, Pk | object>> = {};
  for (const name of cache.strategy.modelNames) {
    const resolved = cache.strategy.model(name).versions.get(version);
    if (!resolved || resolved.serialize === null) continue;
    const batcher = new ModelBatcher(
      cache as unknown as InstanceCache<Record<string, object>>,
      name,
      resolved.pkType,
      version,
      stats,
    );
    // An invalid id is never memoized: its cache key is a new object each time, which no pk (a
    // number or a string) can equal, so it never shares a memo slot with a real pk (a string key
    // such as "invalid number 5" could: it is a valid string pk).
    const cacheKeyFn = (raw: Pk): Pk | object => {
      const pk = batcher.normalize(raw);
      return pk instanceof Error ? {} : pk;
    };
    const memo = new Map<Pk | object, Promise<object | null>>();
    loaders[name] = new ModelLoader(batcher, {
      cacheKeyFn,
      // Dispatch with the model's list reads, in one batch per tick.
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
  return loaders as unknown as Loaders<Records>;
}
