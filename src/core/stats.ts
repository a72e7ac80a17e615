/**
 * Counters of cache activity. The cache keeps process totals (`cache.stats`); a per-request
 * object of the same shape can be passed to reads (`createLoaders(cache, { stats })`).
 */
export interface CacheStats {
  /** Records served from the store or L1, including cached "not found" entries. */
  hits: number;
  /** Records and cached lists served by the per-process L1 tier, without a store round trip. */
  l1Hits: number;
  /** Cached root lists served from the store or L1 (no list query ran). */
  listHits: number;
  /** Cached root lists that had to run their query. */
  listMisses: number;
  /** Keys that had to be loaded (absent, stale or corrupt). */
  misses: number;
  /** Records written after a load. */
  fills: number;
  /** Calls to a model's `load`. */
  loads: number;
  /** Records found stamped with an older generation than their key's (stores checked at read): a fill that raced a write. Served as a miss. */
  staleRejected: number;
  /** Entries that could not be decoded; served as a miss and repaired by the fill. */
  corrupt: number;
  /** Keys rewritten or invalidated by `update`, `invalidate`, `deleteAllVersions` and retries. */
  invalidations: number;
  /** Store or loader failures reported as `error` events. */
  errors: number;
  /** Calls to the store (each one round trip: one `MGET`, one `MULTI…EXEC`). */
  storeRoundTrips: number;
  /** Loads answered by a per-request DataLoader's memo without reaching the cache. */
  memoHits: number;
}

/** A zeroed {@link CacheStats}. */
export function createStats(): CacheStats {
  return {
    hits: 0,
    l1Hits: 0,
    listHits: 0,
    listMisses: 0,
    misses: 0,
    fills: 0,
    loads: 0,
    staleRejected: 0,
    corrupt: 0,
    invalidations: 0,
    errors: 0,
    storeRoundTrips: 0,
    memoHits: 0,
  };
}
