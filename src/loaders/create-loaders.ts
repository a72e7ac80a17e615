import DataLoader from 'dataloader';
import type { InstanceCache } from '../core/instance-cache.js';
import type { CacheStats } from '../core/stats.js';
import { normalizePk, type Pk } from '../strategy/pk.js';

/** One DataLoader per model: `loaders.Question.load(1)`, `.loadMany([1, 2])`. */
export type Loaders<Records extends object> = {
  readonly [M in keyof Records & string]: DataLoader<Pk, Records[M] | null, Pk | string>;
};

/** Options of {@link createLoaders}. */
export interface CreateLoadersOptions {
  /** The cache version these loaders read. Default: the strategy's `defaultVersion`. */
  version?: string;
  /** Per-request counters (store round trips, hits, misses, memo hits…). Default: none. */
  stats?: CacheStats;
}

/**
 * Creates per-request DataLoaders, one per model that has records in the version. All loads of a
 * model made in one tick become ONE `cache.getInstances` call (one store round trip), and a
 * DataLoader memoizes per request, so a nested query costs one round trip per level of nesting.
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
  const loaders: Record<string, DataLoader<Pk, object | null, Pk | string>> = {};
  for (const name of cache.strategy.modelNames) {
    const resolved = cache.strategy.model(name).versions.get(version);
    if (!resolved || resolved.serialize === null) continue;
    const { pkType } = resolved;
    // An invalid id gets a cache key of its own that no valid pk can have (numbers never contain a
    // space, string pks are keyed as themselves), so it never shares a memo slot with a real pk.
    const cacheKeyFn = (raw: Pk): Pk | string => {
      try {
        return normalizePk(raw, pkType, name);
      } catch {
        return `invalid ${typeof raw} ${String(raw)}`;
      }
    };
    const batch = async (raws: readonly Pk[]): Promise<(object | null | Error)[]> => {
      const valid: Pk[] = [];
      const out: (object | null | Error)[] = raws.map((raw) => {
        try {
          valid.push(normalizePk(raw, pkType, name));
          return null;
        } catch (error) {
          return error as Error;
        }
      });
      const records = await cache.getInstances(name, valid, { version, stats });
      let next = 0;
      return out.map((value) => (value instanceof Error ? value : (records[next++] ?? null)));
    };
    const memo = new Map<Pk | string, Promise<object | null>>();
    loaders[name] = new DataLoader<Pk, object | null, Pk | string>(batch, {
      cacheKeyFn,
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
