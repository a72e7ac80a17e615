import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Span } from '@opentelemetry/api';
import type { JsonValue } from '../codecs/codec.js';
import {
  CacheError,
  CodecError,
  InvalidOptionError,
  LoadError,
  StoreError,
  UnknownModelError,
} from '../errors.js';
import type { Ref, ResolvedVersion, Strategy } from '../strategy/define.js';
import { encodePk, normalizePk, type Pk } from '../strategy/pk.js';
import { NOT_FOUND, tagRecord, untagRecord } from './entry.js';
import { type L1Options, type L1Records, L1Tier, type L1Token } from './l1.js';
import { createProtocol, type ReadBatch, type StoreProtocol } from './protocol.js';
import {
  type LevelCounts,
  listGenerationKey,
  loadEntities,
  type RefreshContext,
  type RefreshTarget,
  refreshLevel,
} from './refresh.js';
import { type CacheStats, createStats } from './stats.js';
import { type CacheStore, createMemoryStore } from './store.js';
import {
  ATTR_BATCH_SIZE,
  ATTR_DELETED,
  ATTR_FAILED,
  ATTR_HITS,
  ATTR_L1_HITS,
  ATTR_LANDED,
  ATTR_LEVELS,
  ATTR_LIST_HIT,
  ATTR_LIST_L1_HIT,
  ATTR_LIST_NAME,
  ATTR_MISSES,
  ATTR_REFRESHED,
  ATTR_REFS,
  ATTR_SKIPPED,
  ATTR_UNCHANGED,
  activeIn,
  CacheTelemetry,
  failSpan,
  inSpan,
  SPAN_FILL,
  SPAN_LIST,
  SPAN_LOAD,
  SPAN_READ,
  SPAN_UPDATE,
} from './telemetry.js';

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
   * since every committed write invalidates.
   */
  ttl?: number;
  /**
   * Expiry of cached "not found" entries, in ms. Default 300,000 (5 minutes): a client asking for
   * unknown ids can only grow the store by what it asks for within that time.
   */
  notFoundTtl?: number;
  /**
   * Expiry of markers and generation entries (what an invalidation leaves behind until the next
   * fill), in ms. Default 86,400,000 (24 hours), so that the entries of deleted instances go away.
   * Expiry is always safe: a missing entry is recreated with a new unique value, which costs a miss.
   */
  markerTtl?: number;
  /**
   * The per-process L1 tier of decoded, frozen records in front of the store: `true` for the
   * defaults, or its options. Default: off. Needs a store that announces invalidations (the memory
   * store, or `createRedisStore`): every process drops a key as soon as any process changes it.
   * Records read through L1 are shared between requests and frozen; never mutate them.
   */
  l1?: boolean | L1Options;
  /**
   * `false` turns the cache off (drf-cached-instances' `USE_DRF_INSTANCE_CACHE`): reads call `load`
   * every time and `update` does nothing. Default `true`.
   */
  enabled?: boolean;
  /**
   * What `update` does with a ref to a model the strategy does not define (an ORM entity the cache
   * does not hold, say): `'report'` (default) reports it (an `error` event) and skips the ref;
   * `'throw'` rejects before touching anything.
   */
  unknownModels?: 'report' | 'throw';
  /** Receives warnings (store failures, invalidation retries). Default: none. */
  logger?: CacheLogger;
  /**
   * Delay before the first retry of invalidations that could not reach the store, doubling up to
   * 5 s. Default 100 ms.
   */
  retryDelay?: number;
  /**
   * Most keys whose invalidation could not reach the store that this process remembers (it reads
   * them from the database, and writes their markers once the store answers). Beyond that, it
   * forgets them all, bypasses the store for every read, and once the store answers again drops
   * every cached version before using it (a journal, if any, also replays the lost refreshes).
   * Memory stays bounded through a long outage under heavy writes. Default 100,000.
   */
  maxPending?: number;
  /**
   * Spans and metrics through `@opentelemetry/api` (see the README's "Observability"). Default
   * `true`: the global API, which does nothing until the application registers an OpenTelemetry
   * SDK (then reads, loads, fills, updates and lists are traced and counted). `false`: the cache
   * never calls the API.
   */
  telemetry?: boolean;
}

/** Options of a read. */
export interface ReadOptions {
  /** The cache version. Default: the strategy's `defaultVersion`. */
  version?: string;
  /** Per-request counters, incremented alongside the cache's totals. */
  stats?: CacheStats;
}

/** Options of {@link InstanceCache.getList}. */
export interface ListReadOptions extends ReadOptions {
  /**
   * For a list whose answer also changes with time (`published before now`): when the answer
   * loaded now stops being right (the next scheduled publication, say). Called on a miss, beside
   * the load; the entry is served until then, from the store and from L1. Default: none — the
   * answer changes only with writes.
   */
  validUntil?(): Date | number | null | undefined | Promise<Date | number | null | undefined>;
}

/** Options of {@link InstanceCache.update} and {@link InstanceCache.invalidate}. */
export interface UpdateOptions {
  /**
   * Do not load instances that are not cached: invalidate them (so no racing fill is ever served)
   * and stop the cascade there. Default `false`: misses are loaded and filled, and count as
   * changed, so the cascade continues through them (on a cold cache that can load a lot).
   */
  updateOnly?: boolean;
  /** The versions to refresh. Default: every version each model exists in. */
  versions?: readonly string[];
  /**
   * This may re-run a refresh that was interrupted (journal recovery, a retried or stalled job):
   * the cascade then follows every instance it reaches, changed or not, through the cached ones,
   * since the interrupted run may have written a level and died before the next. Costs more
   * loads than a first run. Default `false`.
   */
  resume?: boolean;
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

/**
 * What an `update` call did, counted per key (model × version × pk). Each key of a level is
 * counted once: in `failed` when the level's writes did not land, else in one of the others.
 */
export interface UpdateSummary {
  /** Records written with a new value (changed, or filled from a miss). */
  refreshed: number;
  /** Records that became "not found" (the instance was deleted or is now hidden). */
  deleted: number;
  /** Records reloaded and found equal to the cached value (nothing written). */
  unchanged: number;
  /** Misses left alone under `updateOnly`. */
  skipped: number;
  /** Breadth-first levels walked (1 when nothing cascaded). */
  levels: number;
  /**
   * Keys whose refresh could not be written (the store failed): they are retried, and meanwhile
   * read from the database by this process; other processes may serve them stale until then.
   * A durable journal keeps the write unapplied while this is not 0.
   */
  failed: number;
}

/** The events of an {@link InstanceCache}. Counts are per batch, not per key. */
export interface InstanceCacheEvents {
  /** A store or loader failure the cache recovered from (the read fell through to `load`, the invalidation will be retried). */
  error: [error: CacheError, context: { operation: string }];
  /** Records served from the store or L1 in one batch. */
  hit: [count: number, context: { model: string; version: string }];
  /** Keys loaded in one batch. */
  miss: [count: number, context: { model: string; version: string }];
  /** Records written in one batch. */
  fill: [count: number];
  /** Records found stamped with an older generation (a fill that raced a write; stores checked at read only). */
  staleRejected: [count: number, context: { model: string; version: string }];
  /** Keys invalidated or rewritten by an update in one batch. */
  invalidate: [count: number];
}

/** A miss on its way to `load`. */
interface Miss {
  readonly pk: Pk;
  /** Its position among the read's distinct pks. */
  readonly at: number;
  readonly key: string;
  /** What a fill must carry; `null` when nothing may be filled (store unreachable, key pending). */
  stamp: string | null;
}

/** What a load produced for one key: its JSON, and whether this process's fill of it landed. */
interface Loaded {
  readonly json: string;
  readonly landed: boolean;
}

const DEFAULT_NOT_FOUND_TTL = 300_000;
const DEFAULT_MARKER_TTL = 86_400_000;

/**
 * The shared instance cache: batched reads that never serve a fill that raced a write, and
 * cascading, versioned updates, over a {@link CacheStore} (see `protocol.ts` and the README's
 * consistency contract), with an optional per-process L1 tier. One per process, shared by every
 * request.
 */
export class InstanceCache<
  Records extends object = Record<string, object>,
> extends EventEmitter<InstanceCacheEvents> {
  /** The strategy this cache serves. */
  readonly strategy: Strategy<Records>;
  /** Process totals since creation. */
  readonly stats: CacheStats = createStats();
  readonly #store: CacheStore;
  readonly #protocol: StoreProtocol;
  readonly #l1: L1Tier | null;
  readonly #unsubscribe: (() => void) | undefined;
  readonly #enabled: boolean;
  readonly #ttl: number | undefined;
  readonly #notFoundTtl: number | undefined;
  readonly #unknownModels: 'report' | 'throw';
  readonly #logger: CacheLogger | undefined;
  readonly #retryDelay: number;
  readonly #maxPending: number;
  /** Spans and metrics; `null` with `telemetry: false`. */
  readonly #telemetry: CacheTelemetry | null;
  /** The process-wide counts of what belongs to no model version; `null` without telemetry. */
  readonly #processCounts: CacheStats | null;
  /** More than `maxPending` invalidations failed: the store is bypassed until every version is dropped. */
  #overflowed = false;
  // Single-flight: a miss joins a load of the same key already running in this process, but only
  // one that started from the same stamp — a load begun before a write committed must not answer
  // a reader that already saw that write's invalidation.
  readonly #inFlight = new Map<string, Promise<Loaded>>();
  // Keys whose invalidation could not be written. Until a retry lands, this process reads those
  // keys from the database and never fills them.
  readonly #pending = new Set<string>();
  readonly #refresh: RefreshContext;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryAttempt = 0;

  constructor(strategy: Strategy<Records>, options: InstanceCacheOptions = {}) {
    super();
    this.strategy = strategy;
    this.#store = options.store ?? createMemoryStore();
    this.#ttl = getValidTtl(options.ttl, 'ttl');
    this.#notFoundTtl = getValidTtl(options.notFoundTtl, 'notFoundTtl') ?? DEFAULT_NOT_FOUND_TTL;
    this.#logger = options.logger;
    this.#retryDelay = getValidTtl(options.retryDelay, 'retryDelay') ?? 100;
    this.#maxPending = getValidTtl(options.maxPending, 'maxPending') ?? 100_000;
    this.#enabled = options.enabled ?? true;
    this.#unknownModels = options.unknownModels ?? 'report';
    if (this.#unknownModels !== 'report' && this.#unknownModels !== 'throw') {
      throw new InvalidOptionError(
        `InstanceCache: options.unknownModels must be 'report' or 'throw', got ${String(options.unknownModels)}`,
        { context: { option: 'unknownModels' } },
      );
    }
    if (options.telemetry !== undefined && typeof options.telemetry !== 'boolean') {
      throw new InvalidOptionError(
        `InstanceCache: options.telemetry must be true or false, got ${String(options.telemetry)}`,
        { context: { option: 'telemetry' } },
      );
    }
    this.#telemetry = options.telemetry === false ? null : new CacheTelemetry();
    this.#processCounts = this.#telemetry?.processCounts ?? null;
    this.#protocol = createProtocol(this.#store, {
      roundTrip: (stats) => this.#count('storeRoundTrips', 1, stats),
      markerTtl: getValidTtl(options.markerTtl, 'markerTtl') ?? DEFAULT_MARKER_TTL,
    });
    const l1 = options.l1 === true ? {} : options.l1 || null;
    if (l1 !== null && this.#enabled) {
      const bus = this.#store.bus;
      if (!bus) {
        throw new InvalidOptionError(
          'InstanceCache: options.l1 needs a store that announces invalidations to every process (createMemoryStore or createRedisStore); this store has no bus',
          { context: { option: 'l1' } },
        );
      }
      const tier = new L1Tier(l1, () => bus.live);
      this.#l1 = tier;
      this.#unsubscribe = bus.subscribe({ keys: (keys) => tier.invalidate(keys), reset: () => tier.reset() });
    } else {
      this.#l1 = null;
      this.#unsubscribe = undefined;
    }
    this.#refresh = {
      protocol: this.#protocol,
      load: (version, pks, stats) => this.#load(version, pks, stats),
      ttlFor: (json) => this.#ttlFor(json),
      report: (error, operation) => this.#report(error, operation),
      markPending: (keys) => this.#markPending(keys),
      connectionEpoch: () => this.#store.connectionEpoch,
      written: (keys) => {
        this.#l1?.invalidate(keys);
        this.#count('invalidations', keys.length);
        this.emit('invalidate', keys.length);
      },
    };
  }

  /** The store this cache reads and writes. */
  get store(): CacheStore {
    return this.#store;
  }

  /** True when the store checks fills at write time (a warm read reads one key per record). */
  get checksAtWrite(): boolean {
    return this.#protocol.checksAtWrite;
  }

  /** Entries held by the L1 tier (0 without one). */
  get l1Size(): number {
    return this.#l1?.size ?? 0;
  }

  /** Invalidations waiting for the store to come back. */
  get pendingInvalidations(): number {
    return this.#pending.size;
  }

  /**
   * True after more than `maxPending` invalidations failed: reads bypass the store until it
   * answers again and every cached version was dropped.
   */
  get bypassingStore(): boolean {
    return this.#overflowed;
  }

  /**
   * Reads many instances of one model: L1 first (when on), then one store round trip for the
   * rest; every miss goes to ONE `load` call (minus those joining a load in flight); misses are
   * filled in one more round trip (two when the store had no stamp for some). Returns records in
   * `pks` order, `null` for an instance that does not exist or is hidden. Rejects with an
   * `InvalidPkError` for a pk that does not match the model's pk type, before touching the store.
   */
  getInstances<M extends keyof Records & string>(
    model: M,
    pks: readonly Pk[],
    options: ReadOptions = {},
  ): Promise<(Records[M] | null)[]> {
    // Not an async function, so that a read is one promise (#read's) as it was before tracing:
    // what would throw here rejects instead.
    let version: ResolvedVersion;
    // Each distinct pk once: `slot[i]` is the position of pks[i] among the distinct ones.
    const unique: Pk[] = [];
    const slot: number[] = new Array(pks.length);
    try {
      version = this.#readable(model, options.version);
      const seen = new Map<Pk, number>();
      for (let i = 0; i < pks.length; i += 1) {
        const raw = pks[i];
        const pk =
          typeof raw === 'number' && version.pkType === 'number' && Number.isSafeInteger(raw)
            ? raw
            : normalizePk(raw, version.pkType, model);
        let at = seen.get(pk);
        if (at === undefined) {
          at = unique.length;
          seen.set(pk, at);
          unique.push(pk);
        }
        slot[i] = at;
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (unique.length === 0) return Promise.resolve([]);
    const span = this.#telemetry?.startSpan(SPAN_READ);
    return (
      span?.isRecording()
        ? inSpan(span, this.#read, this, version, unique, slot, options.stats, span)
        : this.#read(version, unique, slot, options.stats, undefined)
    ) as Promise<(Records[M] | null)[]>;
  }

  /**
   * The steps of {@link getInstances} once the pks are checked and deduplicated: the records in
   * `slot` order. `span`: the read's recording span, to attribute.
   */
  async #read(
    version: ResolvedVersion,
    unique: readonly Pk[],
    slot: readonly number[],
    stats: CacheStats | undefined,
    span: Span | undefined,
  ): Promise<(object | null)[]> {
    const model = version.model;
    // What each distinct pk reads as: its record, `null` (not found), `undefined` (not yet known).
    const results: (object | null | undefined)[] = new Array(unique.length);
    const answer = () => slot.map((at) => results[at] ?? null);
    span?.setAttributes(this.#telemetry!.attributesOf(version)).setAttribute(ATTR_BATCH_SIZE, unique.length);
    if (!this.#enabled) {
      const entities = await this.#load(version, unique, stats);
      unique.forEach((pk, i) => {
        const entity = entities.get(pk);
        const record = entity === undefined ? null : version.serialize!(entity);
        results[i] = this.#decode(version, record === null ? NOT_FOUND : version.codec.encode(record));
      });
      return answer();
    }
    const counts = this.#telemetry?.countsOf(version) ?? null;
    const l1 = this.#l1;
    let toRead: number[] | undefined;
    let held = 0;
    const table = l1?.records(version.keyPrefix);
    if (l1) {
      toRead = [];
      for (let i = 0; i < unique.length; i += 1) {
        const found = l1.get(table!, unique[i]!);
        if (found === undefined) toRead.push(i);
        else {
          results[i] = found;
          held += 1;
        }
      }
      if (held > 0) {
        this.#count('l1Hits', held, stats, counts);
        this.#count('hits', held, stats, counts);
      }
    }
    const context = { model, version: version.version };
    const token = l1?.begin();
    try {
      const misses = await this.#readStore(
        version,
        unique,
        toRead,
        results,
        token,
        table,
        stats,
        context,
        counts,
      );
      // One event for the batch's hits, L1's and the store's.
      if (misses.length < unique.length) this.emit('hit', unique.length - misses.length, context);
      span
        ?.setAttribute(ATTR_HITS, unique.length - misses.length)
        .setAttribute(ATTR_L1_HITS, held)
        .setAttribute(ATTR_MISSES, misses.length);
      if (misses.length > 0) {
        this.#count('misses', misses.length, stats, counts);
        this.emit('miss', misses.length, context);
        const loaded = await this.#loadMisses(version, misses, stats);
        for (const miss of misses) {
          const { json, landed } = loaded.get(miss.pk)!;
          // Decoding what was just encoded cannot fail; it makes a fresh record read back exactly
          // as a cached one would (a Date comes back as a Date from every store).
          const record = this.#decode(version, json);
          if (record === undefined) {
            throw new CodecError(`${model}:${String(miss.pk)}: a record this cache encoded does not decode`, {
              context: { model, version: version.version, pk: miss.pk },
            });
          }
          results[miss.at] = record;
          // Only a fill that landed proves nothing changed between the read and the fill.
          if (landed && token) l1!.set(token, table!, miss.pk, miss.key, record, json.length);
        }
      }
    } finally {
      if (token) l1!.end(token);
    }
    return answer();
  }

  /**
   * The records of `pks` that the L1 tier holds, synchronously, without touching the store:
   * aligned with `pks`, `undefined` where L1 has nothing (always, without L1). Counted as hits.
   * For resolvers that can answer without a promise; read the rest with {@link getInstances}.
   */
  peek<M extends keyof Records & string>(
    model: M,
    pks: readonly Pk[],
    options: ReadOptions = {},
  ): (Records[M] | null | undefined)[] {
    const read = this.l1Reader(model, options.version ?? this.strategy.defaultVersion, options.stats);
    return pks.map((pk) => read?.(normalizePk(pk, this.strategy.model(model).pkType, model))) as (
      | Records[M]
      | null
      | undefined
    )[];
  }

  /**
   * A function that reads one (normalised) pk of a model version from L1, counting hits, or
   * `undefined` without L1: what per-request batchers use to answer without a promise.
   * @internal
   */
  l1Reader(
    model: string,
    version: string,
    stats?: CacheStats,
  ): ((pk: Pk) => object | null | undefined) | undefined {
    const l1 = this.#l1;
    if (!l1) return undefined;
    const resolved = this.#readable(model, version);
    const table = l1.records(resolved.keyPrefix);
    const totals = this.stats;
    // Counted per key into plain numbers (the metrics read them when they are collected).
    const counts = this.#telemetry?.countsOf(resolved) ?? null;
    return (pk) => {
      const record = l1.get(table, pk);
      if (record !== undefined) {
        totals.hits += 1;
        totals.l1Hits += 1;
        if (stats) {
          stats.hits += 1;
          stats.l1Hits += 1;
        }
        if (counts !== null) {
          counts.hits += 1;
          counts.l1Hits += 1;
        }
      }
      return record;
    };
  }

  /**
   * A cached root list: the rows (pks, or JSON rows such as `{ pk, cursor }`) a list query
   * returned, under a key the caller builds from everything the query depends on (filters,
   * order, page, viewer). `load` runs the query on a miss. The model's version must declare
   * `listFields`; every create, delete and change to one of those fields invalidates all cached
   * lists of the model (see the README). One store round trip on a hit (none when L1 holds it).
   */
  getList<T extends JsonValue>(
    model: keyof Records & string,
    name: string,
    key: string,
    load: () => Promise<readonly T[]>,
    options: ListReadOptions = {},
  ): Promise<readonly T[]> {
    // Not an async function (one promise per read, as in getInstances): what throws here rejects.
    let version: ResolvedVersion;
    try {
      version = this.#readable(model, options.version);
      if (version.listFields === null) {
        throw new InvalidOptionError(
          `getList: model "${model}" does not cache lists in version "${version.version}"; declare listFields on it`,
          { context: { model, version: version.version } },
        );
      }
      if (!this.#enabled) return Promise.resolve(load());
    } catch (error) {
      return Promise.reject(error);
    }
    const span = this.#telemetry?.startSpan(SPAN_LIST);
    if (span?.isRecording()) {
      span.setAttributes(this.#telemetry!.attributesOf(version)).setAttribute(ATTR_LIST_NAME, name);
      return inSpan(span, this.#readList<T>, this, version, name, key, load, options, span);
    }
    return this.#readList(version, name, key, load, options, undefined);
  }

  /** The steps of {@link getList}; `span`: its recording span, to attribute. */
  async #readList<T extends JsonValue>(
    version: ResolvedVersion,
    name: string,
    key: string,
    load: () => Promise<readonly T[]>,
    options: ListReadOptions,
    span: Span | undefined,
  ): Promise<readonly T[]> {
    const stats = options.stats;
    const counts = this.#telemetry?.countsOf(version) ?? null;
    const generationKey = listGenerationKey(version);
    // Entries are per definition (the query behind a list may change with a deploy); the
    // generation that invalidates them is shared by all.
    const entryKey = `${version.keyPrefix}~list:${version.recordTag.slice(1)}:${listEntryId(name, key)}`;
    const l1 = this.#l1;
    const held = l1?.getList(entryKey);
    if (held !== undefined) {
      this.#count('l1Hits', 1, stats, counts);
      this.#count('listHits', 1, stats, counts);
      span?.setAttribute(ATTR_LIST_HIT, true).setAttribute(ATTR_LIST_L1_HIT, true);
      return held as readonly T[];
    }
    const token = l1?.begin();
    try {
      let read: { json: string | undefined; stamp: string } | null = null;
      if (!this.#overflowed && !this.#pending.has(generationKey)) {
        try {
          read = await this.#protocol.readList(generationKey, entryKey, stats);
        } catch (error) {
          this.#report(error, 'read');
        }
      }
      const cached = read?.json === undefined ? null : parseList(read.json, Date.now());
      if (cached) {
        this.#count('listHits', 1, stats, counts);
        span?.setAttribute(ATTR_LIST_HIT, true).setAttribute(ATTR_LIST_L1_HIT, false);
        if (token) l1!.setList(token, generationKey, entryKey, cached.rows, read!.json!.length, cached.ttl);
        return cached.rows as unknown as readonly T[];
      }
      this.#count('listMisses', 1, stats, counts);
      span?.setAttribute(ATTR_LIST_HIT, false).setAttribute(ATTR_LIST_L1_HIT, false);
      const [rows, until] = await Promise.all([load(), options.validUntil?.()]);
      const expires = until === null || until === undefined ? undefined : new Date(until).getTime();
      const ttl = expires === undefined ? this.#ttl : expires - Date.now();
      // Already out of date (the list changes with time sooner than it could be read again).
      if (read !== null && (ttl === undefined || ttl > 0)) {
        const json = JSON.stringify(expires === undefined ? { rows } : { rows, expires });
        try {
          await this.#protocol.fillList(entryKey, read.stamp, json, ttl, stats);
          this.#count('fills', 1, stats, counts);
          if (token)
            l1!.setList(
              token,
              generationKey,
              entryKey,
              rows,
              json.length,
              expires === undefined ? undefined : ttl,
            );
        } catch (error) {
          this.#report(error, 'fill');
        }
      }
      return rows;
    } finally {
      if (token) l1!.end(token);
    }
  }

  /**
   * drf-cached-instances' `update_instance` for one instance: read the cached record, reload and
   * rewrite it where it changed (or invalidate it, under `updateOnly`, when it was a miss), and
   * return the invalidator's refs — for the new and the previous state — when the record changed
   * or the instance was deleted. It does not follow the refs; {@link update} does.
   */
  async updateInstance<M extends keyof Records & string>(
    model: M,
    pk: Pk,
    options: UpdateInstanceOptions<Records[M]> = {},
  ): Promise<Ref[]> {
    if (!this.#enabled) return [];
    const versions = options.version === undefined ? undefined : [options.version];
    const previous = options.previous as object | null | undefined;
    const target = this.#target(model, pk, options.updateOnly ?? false, versions, previous);
    const counts = emptyCounts();
    const { refs } = await this.#traceUpdate(1, counts, refreshLevel, this.#refresh, [target], counts);
    return refs.map(({ model: name, pk: ref }) => ({ model: name, pk: ref }));
  }

  /**
   * Refreshes instances that changed and everything that depends on them, in every version:
   * breadth-first over the invalidators' refs with a visited set, so cycles end and each key is
   * refreshed at most once per call. Per level: one store read, one `load` per model, one write
   * (only for records that changed). Refs are checked before anything is touched: a malformed ref
   * rejects; a ref to a model the strategy does not define is reported and skipped (see
   * `unknownModels`). App-level keys named by invalidators are deleted.
   */
  async update(refs: readonly Ref[], options: UpdateOptions = {}): Promise<UpdateSummary> {
    const summary: UpdateSummary = { ...emptyCounts(), levels: 0 };
    if (!Array.isArray(refs)) {
      throw new InvalidOptionError(
        `InstanceCache.update: expected an array of { model, pk } refs, got ${String(refs)}`,
      );
    }
    const updateOnly = options.updateOnly ?? false;
    const versions = options.versions?.map((version) => this.strategy.checkVersion(version));
    const level: RefreshTarget[] = [];
    for (const ref of refs) {
      if (ref === null || typeof ref !== 'object' || typeof ref.model !== 'string') {
        throw new InvalidOptionError(
          `InstanceCache.update: expected { model, pk } refs, got ${ref === null ? 'null' : typeof ref === 'object' ? JSON.stringify(ref) : String(ref)}`,
        );
      }
      if (!this.strategy.modelNames.includes(ref.model as keyof Records & string)) {
        const error = new UnknownModelError(
          `InstanceCache.update: unknown model ${JSON.stringify(ref.model)}; the models are ${JSON.stringify(this.strategy.modelNames)}`,
          { context: { model: ref.model, pk: ref.pk } },
        );
        if (this.#unknownModels === 'throw') throw error;
        this.#report(error, 'update');
        continue;
      }
      level.push(this.#target(ref.model, ref.pk, updateOnly, versions));
    }
    if (!this.#enabled) return summary;
    await this.#traceUpdate(
      refs.length,
      summary,
      this.#cascade,
      level,
      updateOnly,
      versions,
      summary,
      options.resume ?? false,
    );
    return summary;
  }

  /** The breadth-first walk of {@link update}, from its first level; counts into `summary`. */
  async #cascade(
    first: RefreshTarget[],
    updateOnly: boolean,
    versions: readonly string[] | undefined,
    summary: UpdateSummary,
    resume: boolean,
  ): Promise<void> {
    let level = first;
    const visited = new Set<string>();
    // Every level checks this: a reconnect anywhere in the cascade fails the levels after it.
    const epoch = this.#store.connectionEpoch;
    while (level.length > 0) {
      const fresh = level.filter((target) => {
        if (visited.has(target.id)) return false;
        visited.add(target.id);
        return true;
      });
      if (fresh.length === 0) break;
      summary.levels += 1;
      const { refs: next, appKeys } = await refreshLevel(this.#refresh, fresh, summary, { epoch, resume });
      if (appKeys.length > 0) await this.#deleteAppKeys(appKeys);
      level = [];
      for (const ref of next) {
        try {
          level.push(this.#target(ref.model, ref.pk, updateOnly || ref.updateOnly, versions));
        } catch (error) {
          // An invalidator named a model or pk the strategy does not know: a definition bug that
          // only shows at run time. Report it and finish the rest of the cascade.
          this.#report(error, 'update');
        }
      }
    }
  }

  /**
   * Runs the steps of an update as one `gci.update` span — the active one, so that the loads of
   * the cascade nest under it — carrying `summary`'s counts, and one `gci.update.duration`.
   */
  async #traceUpdate<A extends unknown[], R>(
    refs: number,
    summary: LevelCounts & { readonly levels?: number },
    fn: (...args: A) => Promise<R>,
    ...args: A
  ): Promise<R> {
    const telemetry = this.#telemetry;
    if (telemetry === null) return fn.apply(this, args);
    const started = performance.now();
    const span = telemetry.startSpan(SPAN_UPDATE);
    const recording = span.isRecording();
    let failure: unknown;
    try {
      return recording ? await activeIn(span, fn, this, ...args) : await fn.apply(this, args);
    } catch (error) {
      failure = error;
      if (recording) failSpan(span, error);
      throw error;
    } finally {
      telemetry.updateDone(started, failure);
      if (recording) {
        span.setAttributes({
          [ATTR_REFS]: refs,
          [ATTR_LEVELS]: summary.levels ?? 1,
          [ATTR_REFRESHED]: summary.refreshed,
          [ATTR_DELETED]: summary.deleted,
          [ATTR_UNCHANGED]: summary.unchanged,
          [ATTR_SKIPPED]: summary.skipped,
          [ATTR_FAILED]: summary.failed,
        });
        span.end();
      }
    }
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
   * Invalidates one instance's records in every version without loading anything and without
   * cascading — drf-cached-instances' `delete_all_versions`, for after a bulk change.
   */
  async deleteAllVersions<M extends keyof Records & string>(model: M, pk: Pk): Promise<void> {
    if (!this.#enabled) return;
    const target = this.#target(model, pk, true, undefined);
    const keys = target.versions.map((version) => version.keyPrefix + target.encodedPk);
    try {
      await this.#protocol.invalidate(keys);
      this.#refresh.written(keys);
    } catch (error) {
      this.#report(error, 'invalidate');
      this.#markPending(keys);
    }
  }

  /**
   * Deletes every key of a version (records, markers, cached lists), for retiring it, and tells
   * every process's L1 to forget what it holds. Needs a store with `deleteByPrefix` (memory and
   * Redis have it). Returns how many keys were deleted. Safe while the version is still read:
   * a fill in flight then finds its marker gone and does not land.
   */
  async dropVersion(version: string): Promise<number> {
    const prefix = this.strategy.versionPrefix(version);
    if (!this.#store.deleteByPrefix) {
      throw new StoreError(
        `dropVersion: this store has no deleteByPrefix; delete the keys starting with ${prefix}`,
        { context: { version } },
      );
    }
    this.#count('storeRoundTrips', 1);
    const deleted = await this.#store.deleteByPrefix(prefix);
    this.#l1?.reset();
    return deleted;
  }

  /**
   * Deletes every key of one model (records, markers, cached lists), in every version or one:
   * what a journal entry that could not be applied in time falls back to. Like
   * {@link dropVersion}, safe while the model is read. Returns how many keys were deleted.
   */
  async dropModel(model: keyof Records & string, version?: string): Promise<number> {
    const resolved = this.strategy.model(model);
    const versions =
      version === undefined ? [...resolved.versions.values()] : [this.strategy.resolve(model, version)];
    if (!this.#store.deleteByPrefix) {
      throw new StoreError(`dropModel: this store has no deleteByPrefix; delete the keys of ${model}`, {
        context: { model },
      });
    }
    let deleted = 0;
    for (const { keyPrefix } of versions) {
      this.#count('storeRoundTrips', 1);
      deleted += await this.#store.deleteByPrefix(keyPrefix);
    }
    this.#l1?.reset();
    return deleted;
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
    if (this.#overflowed) return this.#recoverFromOverflow();
    if (this.#pending.size === 0) return true;
    const keys = [...this.#pending];
    try {
      await this.#protocol.invalidate(keys);
      // Only what this retry wrote: a key re-added meanwhile stays until its own retry.
      for (const key of keys) this.#pending.delete(key);
      this.#refresh.written(keys);
      this.#retryAttempt = 0;
      return this.#pending.size === 0;
    } catch (error) {
      this.#report(error, 'retryInvalidations');
      return false;
    }
  }

  /**
   * Stops retry timers, makes one last attempt at pending invalidations, stops listening for
   * announcements, and closes the store if it owns its connection. Resolves `false` (after an
   * `error` event naming how many) when some invalidations could not be written: other processes
   * may then serve those records stale until they are refreshed or expire, so alert on it.
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
    this.#unsubscribe?.();
    await this.#store.close?.();
    return flushed;
  }

  /**
   * Reads the distinct pks at `indices` (all of them when `undefined`) from the store into
   * `results` (and L1); counts the hits; returns the misses, stamped.
   */
  async #readStore(
    version: ResolvedVersion,
    unique: readonly Pk[],
    indices: readonly number[] | undefined,
    results: (object | null | undefined)[],
    token: L1Token | undefined,
    table: L1Records | undefined,
    stats: CacheStats | undefined,
    context: { model: string; version: string },
    counts: CacheStats | null,
  ): Promise<Miss[]> {
    const count = indices ? indices.length : unique.length;
    if (count === 0) return [];
    const keys: string[] = new Array(count);
    for (let n = 0; n < count; n += 1)
      keys[n] = version.keyPrefix + encodePk(unique[indices ? indices[n]! : n]!);
    let batch: ReadBatch | null = null;
    if (!this.#overflowed) {
      try {
        batch = await this.#protocol.read(keys, stats);
      } catch (error) {
        this.#report(error, 'read');
      }
    }
    const misses: Miss[] = [];
    const unstamped: Miss[] = [];
    let stale = 0;
    let hits = 0;
    const pending = this.#pending.size > 0;
    for (let n = 0; n < count; n += 1) {
      const at = indices ? indices[n]! : n;
      const pk = unique[at]!;
      const key = keys[n]!;
      if (batch === null || (pending && this.#pending.has(key))) {
        misses.push({ pk, at, key, stamp: null });
        continue;
      }
      const text = batch.records[n];
      if (text !== undefined && this.#accept(version, results, at, pk, key, text, token, table)) {
        hits += 1;
        continue;
      }
      const miss = batch.miss(n);
      if (miss.stale) stale += 1;
      if (miss.corrupt || (text !== undefined && untagRecord(version.recordTag, text) !== undefined)) {
        this.#count('corrupt', 1, stats, counts);
      }
      const one = { pk, at, key, stamp: miss.stamp ?? null };
      misses.push(one);
      if (miss.stamp === undefined) unstamped.push(one);
    }
    if (stale > 0) {
      this.#count('staleRejected', stale, stats, counts);
      this.emit('staleRejected', stale, context);
    }
    if (unstamped.length > 0) {
      // Keys with nothing to fill against (never read, expired, evicted): claim a new marker each.
      // A key someone filled in the meantime comes back as a record.
      let claimed: ReadBatch | null = null;
      try {
        claimed = await this.#protocol.claim(
          unstamped.map((miss) => miss.key),
          stats,
        );
      } catch (error) {
        this.#report(error, 'read');
      }
      if (claimed) {
        const filled = new Set<Miss>();
        unstamped.forEach((miss, i) => {
          const text = claimed.records[i];
          if (
            text !== undefined &&
            this.#accept(version, results, miss.at, miss.pk, miss.key, text, token, table)
          ) {
            hits += 1;
            filled.add(miss);
          } else {
            miss.stamp = claimed.miss(i).stamp ?? null;
          }
        });
        if (filled.size > 0) {
          const left = misses.filter((miss) => !filled.has(miss));
          misses.length = 0;
          misses.push(...left);
        }
      }
    }
    if (hits > 0) this.#count('hits', hits, stats, counts);
    return misses;
  }

  /**
   * Decodes a stored record into `results[at]` (and L1). False for a miss: a record another
   * definition of the model wrote (another deploy or build; the fill overwrites it), or one that
   * does not decode (corrupt).
   */
  #accept(
    version: ResolvedVersion,
    results: (object | null | undefined)[],
    at: number,
    pk: Pk,
    key: string,
    text: string,
    token: L1Token | undefined,
    table: L1Records | undefined,
  ): boolean {
    const json = untagRecord(version.recordTag, text);
    if (json === undefined) return false;
    const record = this.#decode(version, json);
    if (record === undefined) return false;
    results[at] = record;
    if (token) this.#l1!.set(token, table!, pk, key, record, json.length);
    return true;
  }

  async #loadMisses(version: ResolvedVersion, misses: Miss[], stats?: CacheStats): Promise<Map<Pk, Loaded>> {
    const loaded = new Map<Pk, Loaded>();
    const waits: Promise<void>[] = [];
    const own: Miss[] = [];
    for (const miss of misses) {
      const joined = miss.stamp === null ? undefined : this.#inFlight.get(flightKey(miss));
      if (joined)
        waits.push(joined.then((result) => void loaded.set(miss.pk, { json: result.json, landed: false })));
      else own.push(miss);
    }
    // Attach the joiners' handler now: if our own load fails first, the await below throws and
    // a joined load that also failed must not become an unhandled rejection.
    const joined = Promise.all(waits);
    joined.catch(() => {});
    if (own.length > 0) {
      const batch = this.#loadAndFill(version, own, stats);
      const registered: [string, Promise<Loaded>][] = [];
      for (const miss of own) {
        if (miss.stamp === null) continue;
        const one = batch.then((results) => results.get(miss.pk)!);
        // The batch's own rejection is awaited below; joiners await theirs.
        one.catch(() => {});
        registered.push([flightKey(miss), one]);
        this.#inFlight.set(flightKey(miss), one);
      }
      try {
        for (const [pk, result] of await batch) loaded.set(pk, result);
      } finally {
        for (const [key, promise] of registered) {
          if (this.#inFlight.get(key) === promise) this.#inFlight.delete(key);
        }
      }
    }
    await joined;
    return loaded;
  }

  async #loadAndFill(version: ResolvedVersion, misses: Miss[], stats?: CacheStats): Promise<Map<Pk, Loaded>> {
    const entities = await this.#load(
      version,
      misses.map((miss) => miss.pk),
      stats,
    );
    const jsons = misses.map((miss) => {
      const entity = entities.get(miss.pk);
      const record = entity === undefined ? null : version.serialize!(entity);
      return record === null ? NOT_FOUND : version.codec.encode(record);
    });
    const fillable = misses.flatMap((miss, i) =>
      miss.stamp === null
        ? []
        : [
            {
              key: miss.key,
              stamp: miss.stamp,
              json: tagRecord(version.recordTag, jsons[i]!),
              ttl: this.#ttlFor(jsons[i]!),
            },
          ],
    );
    let landed: boolean[] = [];
    if (fillable.length > 0) {
      const span = this.#telemetry?.startSpan(SPAN_FILL);
      const recording = span?.isRecording() === true;
      if (recording)
        span!
          .setAttributes(this.#telemetry!.attributesOf(version))
          .setAttribute(ATTR_BATCH_SIZE, fillable.length);
      try {
        landed = recording
          ? await activeIn(span!, this.#protocol.fill, this.#protocol, fillable, stats)
          : await this.#protocol.fill(fillable, stats);
        const count = landed.filter(Boolean).length;
        this.#count('fills', count, stats, this.#telemetry?.countsOf(version) ?? null);
        if (recording) span!.setAttribute(ATTR_LANDED, count);
        if (count > 0) this.emit('fill', count);
      } catch (error) {
        if (recording) failSpan(span!, error);
        this.#report(error, 'fill');
      } finally {
        if (recording) span!.end();
      }
    }
    const results = new Map<Pk, Loaded>();
    let next = 0;
    misses.forEach((miss, i) => {
      const ok = miss.stamp !== null && landed[next++] === true;
      results.set(miss.pk, { json: jsons[i]!, landed: ok });
    });
    return results;
  }

  /** Calls a model version's `load` (counted, traced, timed); a failure becomes a `LoadError` naming the model. */
  async #load(version: ResolvedVersion, pks: readonly Pk[], stats?: CacheStats): Promise<Map<Pk, unknown>> {
    const telemetry = this.#telemetry;
    if (telemetry === null) {
      this.#count('loads', 1, stats);
      return this.#callLoad(version, pks);
    }
    this.#count('loads', 1, stats, telemetry.countsOf(version));
    const started = performance.now();
    const span = telemetry.startSpan(SPAN_LOAD);
    let failure: unknown;
    try {
      if (!span.isRecording()) return await this.#callLoad(version, pks);
      span.setAttributes(telemetry.attributesOf(version)).setAttribute(ATTR_BATCH_SIZE, pks.length);
      // The load runs with its span active: the ORM's SQL spans nest under it.
      return await inSpan(span, this.#callLoad, this, version, pks);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      telemetry.loadDone(version, started, failure);
    }
  }

  async #callLoad(version: ResolvedVersion, pks: readonly Pk[]): Promise<Map<Pk, unknown>> {
    try {
      return await loadEntities(version, pks);
    } catch (error) {
      if (error instanceof CacheError) throw error;
      throw new LoadError(
        `${version.model}@${version.version}: load failed for ${pks.length} pk(s): ${(error as Error)?.message ?? String(error)}`,
        { context: { model: version.model, version: version.version }, cause: error },
      );
    }
  }

  #readable(model: string, version: string | undefined): ResolvedVersion {
    const resolved = this.strategy.resolve(model, version ?? this.strategy.defaultVersion);
    if (resolved.serialize === null) {
      throw new UnknownModelError(
        `Model "${model}" is invalidator-only in version "${resolved.version}" (serialize: null): it has no records to read`,
        { context: { model, version: resolved.version } },
      );
    }
    return resolved;
  }

  /** The TTL for a fill of `json`. */
  #ttlFor(json: string): number | undefined {
    return json === NOT_FOUND ? this.#notFoundTtl : this.#ttl;
  }

  /** The record of `json` (`null` for "not found"), or `undefined` when it does not decode. */
  #decode(version: ResolvedVersion, json: string): object | null | undefined {
    if (json === NOT_FOUND) return null;
    try {
      return version.codec.decode(json);
    } catch {
      return undefined;
    }
  }

  async #deleteAppKeys(keys: readonly string[]): Promise<void> {
    try {
      this.#count('storeRoundTrips', 1);
      await this.#store.deleteMany([...new Set(keys)]);
    } catch (error) {
      this.#report(error, 'deleteAppKeys');
    }
  }

  #target(
    model: string,
    pk: Pk,
    updateOnly: boolean,
    versions: readonly string[] | undefined,
    previous?: object | null,
  ): RefreshTarget {
    const resolved = this.strategy.model(model);
    const normalized = normalizePk(pk, resolved.pkType, resolved.name);
    const chosen =
      versions === undefined
        ? [...resolved.versions.values()]
        : versions.flatMap((v) => resolved.versions.get(this.strategy.checkVersion(v)) ?? []);
    const encodedPk = encodePk(normalized);
    return {
      id: `${resolved.name}:${encodedPk}`,
      model: resolved.name,
      pk: normalized,
      encodedPk,
      versions: chosen,
      previous,
      updateOnly,
    };
  }

  #markPending(keys: readonly string[]): void {
    // Not served from this process's L1 either, whatever the store's announcements say.
    this.#l1?.invalidate(keys);
    if (!this.#overflowed) {
      for (const key of keys) this.#pending.add(key);
      if (this.#pending.size > this.#maxPending) {
        this.#overflowed = true;
        this.#pending.clear();
        this.#l1?.reset();
        this.#report(
          new StoreError(
            `more than ${this.#maxPending} invalidations could not reach the store: every read bypasses it until it answers again; then every cached version is dropped (options.maxPending)`,
          ),
          'update',
        );
      }
    }
    this.#scheduleRetry();
  }

  /** After an overflow: drop every cached version, then use the store again. */
  async #recoverFromOverflow(): Promise<boolean> {
    try {
      for (const version of this.strategy.versions) await this.dropVersion(version);
    } catch (error) {
      this.#report(error, 'retryInvalidations');
      return false;
    }
    this.#overflowed = false;
    this.#retryAttempt = 0;
    this.#l1?.reset();
    return true;
  }

  /** Adds to the process totals, the request's `stats`, and the metrics' `counts` (a model version's, by default the process-wide ones). */
  #count(
    counter: keyof CacheStats,
    n: number,
    stats?: CacheStats,
    counts: CacheStats | null = this.#processCounts,
  ) {
    this.stats[counter] += n;
    if (stats) stats[counter] += n;
    if (counts) counts[counter] += n;
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
    this.#telemetry?.recovered(wrapped, operation);
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

function flightKey(miss: Miss): string {
  return `${miss.key}\n${miss.stamp}`;
}

function emptyCounts(): LevelCounts {
  return { refreshed: 0, deleted: 0, unchanged: 0, skipped: 0, failed: 0 };
}

function listEntryId(name: string, key: string): string {
  return `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}:${createHash('sha256').update(key).digest('base64url').slice(0, 22)}`;
}

/** A stored list entry (`{ rows, expires? }`), or `null` for a corrupt or expired one (a miss). */
function parseList(json: string, now: number): { rows: JsonValue[]; ttl: number | undefined } | null {
  try {
    const value = JSON.parse(json) as { rows?: unknown; expires?: unknown };
    if (!Array.isArray(value?.rows)) return null;
    if (value.expires === undefined) return { rows: value.rows as JsonValue[], ttl: undefined };
    if (typeof value.expires !== 'number' || value.expires <= now) return null;
    return { rows: value.rows as JsonValue[], ttl: value.expires - now };
  } catch {
    return null; // A corrupt entry is a miss.
  }
}

function getValidTtl(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(
      `InstanceCache: options.${name} must be a positive number of milliseconds, got ${String(value)}`,
      { context: { option: name } },
    );
  }
  return value;
}
