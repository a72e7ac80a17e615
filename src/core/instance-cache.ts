import { EventEmitter } from 'node:events';
import { CacheError, CodecError, InvalidOptionError, StoreError, UnknownModelError } from '../errors.js';
import type { Ref, ResolvedVersion, Strategy } from '../strategy/define.js';
import { encodePk, normalizePk, type Pk } from '../strategy/pk.js';
import {
  encodeEntry,
  GENERATION_SUFFIX,
  INITIAL_GENERATION,
  NOT_FOUND,
  newGeneration,
  readEntry,
} from './entry.js';
import { type CacheInternals, loadEntities, type RefreshTarget, refreshLevel } from './refresh.js';
import { type CacheStats, createStats } from './stats.js';
import { type CacheStore, createMemoryStore, type StoreEntry } from './store.js';

/** Where a message from the cache goes. Default: nowhere (errors still reach `error` listeners and `stats.errors`). */
export interface CacheLogger {
  warn(message: string, context?: Record<string, unknown>): void;
}

/** Options of {@link InstanceCache}. */
export interface InstanceCacheOptions {
  /** The shared store. Default: {@link createMemoryStore} (one process only). */
  store?: CacheStore;
  /**
   * Expiry of records in milliseconds. Default: none — correctness never depends on expiry,
   * since every committed write invalidates. Generation entries never expire: a store that lost
   * a generation could accept a stale fill again.
   */
  ttl?: number;
  /** Expiry of cached "not found" entries. Default: `ttl`. */
  notFoundTtl?: number;
  /** Receives warnings (store failures, invalidation retries). Default: none. */
  logger?: CacheLogger;
  /**
   * Delay before the first retry of invalidations that could not reach the store, doubling up to
   * 5 s. Default 100 ms.
   */
  retryDelay?: number;
}

/** Options of a read. */
export interface ReadOptions {
  /** The cache version. Default: the strategy's `defaultVersion`. */
  version?: string;
  /** Per-request counters, incremented alongside the cache's totals. */
  stats?: CacheStats;
}

/** Options of {@link InstanceCache.update} and {@link InstanceCache.invalidate}. */
export interface UpdateOptions {
  /**
   * Do not load instances that are not cached: bump their generation (so no racing fill is ever
   * served) and stop the cascade there. Default `false`: misses are loaded and filled, and count
   * as changed, so the cascade continues through them (on a cold cache that can load a lot).
   */
  updateOnly?: boolean;
  /** The versions to refresh. Default: every version each model exists in. */
  versions?: readonly string[];
}

/** Options of {@link InstanceCache.updateInstance}. */
export interface UpdateInstanceOptions<R = object> {
  /** One version only. Default: every version of the model. */
  version?: string;
  /** See {@link UpdateOptions.updateOnly}. */
  updateOnly?: boolean;
  /** The record as it was before the write, for the invalidator, when the cache may not hold it. */
  previous?: R | null;
}

/** What an `update` call did, counted per key (model × version × pk). */
export interface UpdateSummary {
  /** Records written with a new value (changed, or filled from a miss). */
  refreshed: number;
  /** Records that became "not found" (the instance was deleted or is now hidden). */
  deleted: number;
  /** Records reloaded and found equal to the cached value. */
  unchanged: number;
  /** Misses left alone under `updateOnly`. */
  skipped: number;
  /** Breadth-first levels walked (1 when nothing cascaded). */
  levels: number;
}

/** The events of an {@link InstanceCache}. Counts are per batch, not per key. */
export interface InstanceCacheEvents {
  /** A store or loader failure the cache recovered from (the read fell through to `load`, the invalidation will be retried). */
  error: [error: CacheError, context: { operation: string }];
  /** Records served from the store in one batch. */
  hit: [count: number, context: { model: string; version: string }];
  /** Keys loaded in one batch. */
  miss: [count: number, context: { model: string; version: string }];
  /** Records written in one batch. */
  fill: [count: number];
  /** Fills that raced a write, found and rejected by a read. */
  staleRejected: [count: number, context: { model: string; version: string }];
  /** Generations bumped in one batch. */
  invalidate: [count: number];
}

type PendingInvalidation = { key: string; ttl?: number };

/**
 * The shared instance cache: batched, generation-stamped reads and cascading, versioned updates
 * over a {@link CacheStore}. One per process, shared by every request.
 *
 * Consistency: a fill is stamped with the generation its reader saw before loading; a record is
 * served only while its stamp equals the key's current generation, and every invalidation writes
 * a new generation. A fill that raced a write is therefore never served: the next read finds the
 * old stamp, counts `staleRejected`, loads and repairs it.
 */
export class InstanceCache<
  Records extends object = Record<string, object>,
> extends EventEmitter<InstanceCacheEvents> {
  /** The strategy this cache serves. */
  readonly strategy: Strategy<Records>;
  /** Process totals since creation. */
  readonly stats: CacheStats = createStats();
  readonly #store: CacheStore;
  readonly #ttl: number | undefined;
  readonly #notFoundTtl: number | undefined;
  readonly #logger: CacheLogger | undefined;
  readonly #retryDelay: number;
  // Single-flight: a miss joins a load of the same key already running in this process, but only
  // one that started from the same generation — a load begun before a write committed must not
  // answer a reader that already saw that write's new generation.
  readonly #inFlight = new Map<string, Promise<string>>();
  // Generation keys whose bump could not be written. Until a retry lands, this process reads
  // those keys from the database and never fills them.
  readonly #pending = new Map<string, PendingInvalidation>();
  // What the refresh machinery (refresh.ts) may do, without making it public API.
  readonly #internals: CacheInternals = {
    readRaw: (keys) => this.#read(keys, undefined, 'update'),
    writeGenerations: (keys) => this.#writeGenerations(keys),
    writeFills: (entries, stats) => this.#writeFills(entries, stats),
    ttlFor: (json) => this.#ttlFor(json),
    countLoad: (stats) => this.#count('loads', 1, stats),
    report: (error, operation) => this.#report(error, operation),
  };
  #retryTimer: NodeJS.Timeout | undefined;
  #retryAttempt = 0;

  constructor(strategy: Strategy<Records>, options: InstanceCacheOptions = {}) {
    super();
    this.strategy = strategy;
    this.#store = options.store ?? createMemoryStore();
    this.#ttl = getValidTtl(options.ttl, 'ttl');
    this.#notFoundTtl = getValidTtl(options.notFoundTtl, 'notFoundTtl') ?? this.#ttl;
    this.#logger = options.logger;
    this.#retryDelay = getValidTtl(options.retryDelay, 'retryDelay') ?? 100;
  }

  /** The store this cache reads and writes. */
  get store(): CacheStore {
    return this.#store;
  }

  /** Invalidations waiting for the store to come back. */
  get pendingInvalidations(): number {
    return this.#pending.size;
  }

  /**
   * Reads many instances of one model: one store round trip for all records and their
   * generations; every miss goes to ONE `load` call (minus those joining a load in flight);
   * misses are filled in one more round trip. Returns records in `pks` order, `null` for an
   * instance that does not exist or is hidden. Rejects with an `InvalidPkError` for a pk that does
   * not match the model's pk type, before touching the store.
   */
  async getInstances<M extends keyof Records & string>(
    model: M,
    pks: readonly Pk[],
    options: ReadOptions = {},
  ): Promise<(Records[M] | null)[]> {
    const version = this.strategy.resolve(model, options.version ?? this.strategy.defaultVersion);
    if (version.serialize === null) {
      throw new UnknownModelError(
        `Model "${model}" is invalidator-only in version "${version.version}" (serialize: null): it has no records to read`,
        { context: { model, version: version.version } },
      );
    }
    const normalized = pks.map((pk) => normalizePk(pk, version.pkType, model));
    const unique = [...new Set(normalized)];
    if (unique.length === 0) return [];
    const keys = unique.map((pk) => version.keyPrefix + encodePk(pk));
    const results = new Map<Pk, object | null>();
    const misses: Miss[] = [];
    const values = await this.#read(
      keys.flatMap((key) => [key, key + GENERATION_SUFFIX]),
      options.stats,
      'read',
    );
    let stale = 0;
    for (let i = 0; i < unique.length; i += 1) {
      const pk = unique[i]!;
      const key = keys[i]!;
      if (values === null || (this.#pending.size > 0 && this.#pending.has(key + GENERATION_SUFFIX))) {
        misses.push({ pk, key, generation: null });
        continue;
      }
      const generation = values[2 * i + 1] ?? INITIAL_GENERATION;
      const entry = values[2 * i];
      if (entry !== undefined) {
        const json = readEntry(entry, generation);
        if (json === null) stale += 1;
        else if (json === undefined || !this.#decodeInto(results, version, pk, json)) {
          // A corrupt entry (not written by this library, or by an incompatible codec) is a
          // miss: the fill below overwrites it.
          this.#count('corrupt', 1, options.stats);
        } else continue;
      }
      misses.push({ pk, key, generation });
    }
    const context = { model, version: version.version };
    const hits = results.size;
    if (hits > 0) {
      this.#count('hits', hits, options.stats);
      this.emit('hit', hits, context);
    }
    if (stale > 0) {
      this.#count('staleRejected', stale, options.stats);
      this.emit('staleRejected', stale, context);
    }
    if (misses.length > 0) {
      this.#count('misses', misses.length, options.stats);
      this.emit('miss', misses.length, context);
      const texts = await this.#loadMisses(version, misses, options.stats);
      for (const [pk, json] of texts) {
        // Decoding what was just encoded cannot fail; it makes a fresh record read back exactly
        // as a cached one would (a Date comes back as a Date from every store).
        if (!this.#decodeInto(results, version, pk, json)) {
          throw new CodecError(`${model}:${String(pk)}: a record this cache encoded does not decode`, {
            context: { model, version: version.version, pk },
          });
        }
      }
    }
    return normalized.map((pk) => results.get(pk) as Records[M] | null);
  }

  /**
   * drf-cached-instances' `update_instance` for one instance: read the cached record, bump the
   * key's generation, reload and refill (unless `updateOnly` and it was a miss), and return the
   * invalidator's refs — for the new and the previous state — when the record changed or the
   * instance was deleted. It does not follow the refs; {@link update} does.
   */
  async updateInstance<M extends keyof Records & string>(
    model: M,
    pk: Pk,
    options: UpdateInstanceOptions<Records[M]> = {},
  ): Promise<Ref[]> {
    const versions = options.version === undefined ? undefined : [options.version];
    const target = this.#target(
      { model, pk, updateOnly: options.updateOnly ?? false },
      versions,
      options.previous as object | null | undefined,
    );
    const { refs } = await this.#refresh([target], emptySummary());
    return refs.map(({ model: name, pk: ref }) => ({ model: name, pk: ref }));
  }

  /**
   * Refreshes instances that changed and everything that depends on them, in every version:
   * breadth-first over the invalidators' refs with a visited set, so cycles end and each key is
   * refreshed at most once per call. Per level: one store read, one generation write, one `load`
   * per model, one fill. All refs are checked before anything is touched.
   */
  async update(refs: readonly Ref[], options: UpdateOptions = {}): Promise<UpdateSummary> {
    const summary = emptySummary();
    const visited = new Set<string>();
    const updateOnly = options.updateOnly ?? false;
    let level = refs.map((ref) =>
      this.#target({ model: ref.model, pk: ref.pk, updateOnly }, options.versions),
    );
    while (level.length > 0) {
      const fresh = level.filter((target) => {
        if (visited.has(target.id)) return false;
        visited.add(target.id);
        return true;
      });
      if (fresh.length === 0) break;
      summary.levels += 1;
      const { refs: next } = await this.#refresh(fresh, summary);
      level = [];
      for (const ref of next) {
        try {
          level.push(this.#target({ ...ref, updateOnly: updateOnly || ref.updateOnly }, options.versions));
        } catch (error) {
          // An invalidator named a model or pk the strategy does not know: a definition bug that
          // only shows at run time. Report it and finish the rest of the cascade.
          this.#report(error, 'update');
        }
      }
    }
    return summary;
  }

  /**
   * The explicit API for writes the ORM hooks cannot see (`nativeUpdate`, raw SQL, another
   * service): refreshes these instances and cascades, exactly as {@link update}.
   */
  async invalidate<M extends keyof Records & string>(
    model: M,
    pks: readonly Pk[],
    options: UpdateOptions = {},
  ): Promise<UpdateSummary> {
    return this.update(
      pks.map((pk) => ({ model, pk })),
      options,
    );
  }

  /**
   * Drops one instance's records in every version (bumps their generations and deletes the
   * records) without loading anything and without cascading — drf-cached-instances'
   * `delete_all_versions`, for after a bulk change.
   */
  async deleteAllVersions<M extends keyof Records & string>(model: M, pk: Pk): Promise<void> {
    const target = this.#target({ model, pk, updateOnly: true }, undefined);
    const keys = target.versions.map((version) => version.keyPrefix + target.encodedPk);
    await this.#writeGenerations(keys);
    try {
      this.#count('storeRoundTrips', 1);
      await this.#store.deleteMany(keys);
    } catch (error) {
      this.#report(error, 'deleteAllVersions');
    }
  }

  /**
   * Deletes every key of a version (records and generations), for retiring it. Needs a store with
   * `deleteByPrefix` (memory and Redis have it). Returns how many keys were deleted. Do not drop a
   * version that is still being read: its generations go too.
   */
  async dropVersion(version: string): Promise<number> {
    const prefix = this.strategy.versionPrefix(version);
    if (!this.#store.deleteByPrefix) {
      throw new StoreError(
        `dropVersion: this store has no deleteByPrefix; delete the keys starting with ${prefix}`,
      );
    }
    this.#count('storeRoundTrips', 1);
    return this.#store.deleteByPrefix(prefix);
  }

  /** The store key of one instance's record in one version (for inspection and tests). */
  keyOf<M extends keyof Records & string>(
    model: M,
    pk: Pk,
    version: string = this.strategy.defaultVersion,
  ): string {
    const resolved = this.strategy.resolve(model, version);
    return resolved.keyPrefix + encodePk(normalizePk(pk, resolved.pkType, model));
  }

  /** Retries pending invalidations now; resolves `true` when none are left. */
  async flushPending(): Promise<boolean> {
    if (this.#pending.size === 0) return true;
    const pending = [...this.#pending.values()];
    const entries = pending.map(({ key }) => ({ key, value: newGeneration() }));
    try {
      this.#count('storeRoundTrips', 1);
      await this.#store.setMany(entries);
      // Only what this retry wrote: an entry re-added meanwhile (a newer failed bump of the same
      // key) is a different object and must stay pending.
      for (const entry of pending) {
        if (this.#pending.get(entry.key) === entry) this.#pending.delete(entry.key);
      }
      this.#count('invalidations', entries.length);
      this.#retryAttempt = 0;
      return this.#pending.size === 0;
    } catch (error) {
      this.#report(error, 'retryInvalidations');
      return false;
    }
  }

  /**
   * Stops retry timers, makes one last attempt at pending invalidations, and closes the store if
   * it owns its connection. Resolves `false` (after an `error` event naming how many) when some
   * invalidations could not be written: other processes may then serve those records stale until
   * they are refreshed or expire, so alert on it.
   */
  async close(): Promise<boolean> {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const flushed = await this.flushPending();
    if (!flushed) {
      this.#report(
        new StoreError(
          `InstanceCache.close: ${this.#pending.size} invalidations could not be written to the store`,
        ),
        'close',
      );
    }
    await this.#store.close?.();
    return flushed;
  }

  /**
   * Writes a new generation for each record key. A failure is reported and the keys are retried
   * in the background; meanwhile this process serves them from the database.
   */
  async #writeGenerations(recordKeys: readonly string[]): Promise<string[] | null> {
    const generations = recordKeys.map(() => newGeneration());
    const entries: StoreEntry[] = recordKeys.map((key, i) => ({
      key: key + GENERATION_SUFFIX,
      value: generations[i]!,
    }));
    try {
      this.#count('storeRoundTrips', 1);
      await this.#store.setMany(entries);
      this.#count('invalidations', entries.length);
      this.emit('invalidate', entries.length);
      return generations;
    } catch (error) {
      this.#report(error, 'invalidate');
      for (const { key } of entries) this.#pending.set(key, { key });
      this.#scheduleRetry();
      return null;
    }
  }

  /** Writes fills in one round trip (reported on failure). */
  async #writeFills(entries: readonly StoreEntry[], stats?: CacheStats): Promise<void> {
    if (entries.length === 0) return;
    try {
      this.#count('storeRoundTrips', 1, stats);
      await this.#store.setMany(entries);
      this.#count('fills', entries.length, stats);
      this.emit('fill', entries.length);
    } catch (error) {
      this.#report(error, 'fill');
    }
  }

  /** The TTL for a fill of `json`. */
  #ttlFor(json: string): number | undefined {
    return json === NOT_FOUND ? this.#notFoundTtl : this.#ttl;
  }

  async #read(keys: readonly string[], stats: CacheStats | undefined, operation: string) {
    try {
      this.#count('storeRoundTrips', 1, stats);
      return await this.#store.getMany(keys);
    } catch (error) {
      this.#report(error, operation);
      return null;
    }
  }

  async #loadMisses(version: ResolvedVersion, misses: Miss[], stats?: CacheStats): Promise<Map<Pk, string>> {
    const texts = new Map<Pk, string>();
    const waits: Promise<void>[] = [];
    const own: Miss[] = [];
    for (const miss of misses) {
      const joined = miss.generation === null ? undefined : this.#inFlight.get(flightKey(miss));
      if (joined) waits.push(joined.then((json) => void texts.set(miss.pk, json)));
      else own.push(miss);
    }
    // Attach the joiners' handler now: if our own load fails first, the await below throws and
    // a joined load that also failed must not become an unhandled rejection.
    const joined = Promise.all(waits);
    joined.catch(() => {});
    if (own.length > 0) {
      const batch = this.#loadAndFill(version, own, stats);
      const registered: [string, Promise<string>][] = [];
      for (const miss of own) {
        if (miss.generation === null) continue;
        const one = batch.then((loaded) => loaded.get(miss.pk)!);
        // The batch's own rejection is awaited below; joiners await theirs.
        one.catch(() => {});
        registered.push([flightKey(miss), one]);
        this.#inFlight.set(flightKey(miss), one);
      }
      try {
        for (const [pk, json] of await batch) texts.set(pk, json);
      } finally {
        for (const [key, promise] of registered) {
          if (this.#inFlight.get(key) === promise) this.#inFlight.delete(key);
        }
      }
    }
    await joined;
    return texts;
  }

  async #loadAndFill(version: ResolvedVersion, misses: Miss[], stats?: CacheStats): Promise<Map<Pk, string>> {
    const entities = await loadEntities(
      this.#internals,
      version,
      misses.map((miss) => miss.pk),
      stats,
    );
    const texts = new Map<Pk, string>();
    const fills: StoreEntry[] = [];
    for (const miss of misses) {
      const entity = entities.get(miss.pk);
      const record = entity === undefined ? null : version.serialize!(entity);
      const json = record === null ? NOT_FOUND : version.codec.encode(record);
      texts.set(miss.pk, json);
      if (miss.generation !== null) {
        fills.push({ key: miss.key, value: encodeEntry(miss.generation, json), ttl: this.#ttlFor(json) });
      }
    }
    await this.#writeFills(fills, stats);
    return texts;
  }

  #decodeInto(results: Map<Pk, object | null>, version: ResolvedVersion, pk: Pk, json: string): boolean {
    if (json === NOT_FOUND) {
      results.set(pk, null);
      return true;
    }
    try {
      results.set(pk, version.codec.decode(json));
      return true;
    } catch {
      return false;
    }
  }

  #target(
    ref: Ref & { updateOnly: boolean },
    versions: readonly string[] | undefined,
    previous?: object | null,
  ) {
    if (ref === null || typeof ref !== 'object')
      throw new InvalidOptionError(`InstanceCache.update: expected { model, pk } refs, got ${String(ref)}`);
    const model = this.strategy.model(ref.model);
    const pk = normalizePk(ref.pk, model.pkType, model.name);
    const chosen =
      versions === undefined
        ? [...model.versions.values()]
        : versions.map((v) => this.strategy.checkVersion(v)).flatMap((v) => model.versions.get(v) ?? []);
    const encodedPk = encodePk(pk);
    const target: RefreshTarget = {
      id: `${model.name}:${encodedPk}`,
      model: model.name,
      pk,
      encodedPk,
      versions: chosen,
      previous,
      updateOnly: ref.updateOnly,
    };
    return target;
  }

  #refresh(targets: RefreshTarget[], summary: UpdateSummary) {
    return refreshLevel(this.#internals, targets, summary);
  }

  #count(counter: keyof CacheStats, n: number, stats?: CacheStats) {
    this.stats[counter] += n;
    if (stats) stats[counter] += n;
  }

  #report(error: unknown, operation: string) {
    this.#count('errors', 1);
    const wrapped =
      error instanceof CacheError
        ? error
        : new StoreError(`${operation} failed: ${(error as Error)?.message ?? String(error)}`, {
            context: { operation },
            cause: error,
          });
    this.#logger?.warn(wrapped.message, { operation, code: wrapped.code });
    if (this.listenerCount('error') > 0) this.emit('error', wrapped, { operation });
  }

  #scheduleRetry() {
    if (this.#retryTimer) return;
    const delay = Math.min(this.#retryDelay * 2 ** this.#retryAttempt, 5000);
    this.#retryAttempt += 1;
    this.#retryTimer = setTimeout(async () => {
      this.#retryTimer = undefined;
      if (!(await this.flushPending())) this.#scheduleRetry();
    }, delay);
    this.#retryTimer.unref();
  }
}

interface Miss {
  pk: Pk;
  key: string;
  /** The generation read with the record; `null` when the store could not be read (no fill). */
  generation: string | null;
}

function flightKey(miss: Miss): string {
  return `${miss.key}\n${miss.generation}`;
}

function emptySummary(): UpdateSummary {
  return { refreshed: 0, deleted: 0, unchanged: 0, skipped: 0, levels: 0 };
}

function getValidTtl(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(
      `InstanceCache: options.${name} must be a positive number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}
