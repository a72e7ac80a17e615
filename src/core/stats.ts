/**
 * Counters of cache activity. The cache keeps process totals (`cache.stats`); a per-request
 * object of the same shape can be passed to reads (`createLoaders(cache, { stats })`).
 */
export interface CacheStats {
  /** Records served from the store (valid stamp), including cached "not found" entries. */
  hits: number;
  /** Keys that had to be loaded (absent, stale or corrupt). */
  misses: number;
  /** Records written after a load. */
  fills: number;
  /** Calls to a model's `load`. */
  loads: number;
  /** Records found with a generation stamp older than their key's current generation: a fill that raced a write. Served as a miss. */
  staleRejected: number;
  /** Entries that could not be decoded; served as a miss and repaired by the fill. */
  corrupt: number;
  /** Generations bumped by `update`, `invalidate` and `deleteAllVersions`. */
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
