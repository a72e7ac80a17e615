/**
 * OpenTelemetry for the cache, through `@opentelemetry/api` only: without an SDK registered by
 * the application every call lands on the API's no-op implementations. The names are listed in
 * the README ("Observability").
 *
 * Cost is kept out of the warm read path:
 *
 * - spans are per batch (one `getInstances`, one `load`, one fill, one `update`, one `getList`),
 *   never per key; attributes are computed only when `span.isRecording()`, and a span is made
 *   the active one (so that what runs inside nests under it) only then;
 * - counters are observable: the cache adds to plain numbers ({@link CacheStats}-shaped tallies
 *   per model version, shared by every cache of the process), and the SDK reads them when it
 *   collects. A read adds no call at all for its counters, with or without an SDK.
 *
 * @internal
 */
import {
  type Attributes,
  type BatchObservableResult,
  context,
  type Histogram,
  type MeterProvider,
  metrics,
  type Observable,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
  ValueType,
} from '@opentelemetry/api';
import { type CacheStats, createStats } from './stats.js';

/** The instrumentation scope of every span and metric: `trace.getTracer(TELEMETRY_SCOPE, TELEMETRY_VERSION)`. */
export const TELEMETRY_SCOPE = 'graphql-cached-instances';
/** The package version the scope carries (a test keeps it equal to package.json's). */
export const TELEMETRY_VERSION = '0.1.0';

/** Span of one `getInstances` (one DataLoader batch). */
export const SPAN_READ = 'gci.read';
/** Span of one call to a model's `load`. */
export const SPAN_LOAD = 'gci.load';
/** Span of one fill: the records a read loaded, written back. */
export const SPAN_FILL = 'gci.fill';
/** Span of one `update` (the whole cascade) or `updateInstance`. */
export const SPAN_UPDATE = 'gci.update';
/** Span of one `getList`. */
export const SPAN_LIST = 'gci.list';

/** The model read, loaded or filled. */
export const ATTR_MODEL = 'gci.model';
/** The cache version. */
export const ATTR_VERSION = 'gci.version';
/** Distinct keys read, pks loaded, or records filled. */
export const ATTR_BATCH_SIZE = 'gci.batch_size';
/** Records of a read served from the store or L1 (L1's included). */
export const ATTR_HITS = 'gci.hits';
/** Records of a read served from L1. */
export const ATTR_L1_HITS = 'gci.l1_hits';
/** Records of a read that had to be loaded. */
export const ATTR_MISSES = 'gci.misses';
/** Fills that landed (a fill that raced a write does not). */
export const ATTR_LANDED = 'gci.landed';
/** Refs an update was called with. */
export const ATTR_REFS = 'gci.refs';
/** Breadth-first levels an update walked. */
export const ATTR_LEVELS = 'gci.levels';
/** Update summary: records rewritten. */
export const ATTR_REFRESHED = 'gci.refreshed';
/** Update summary: records that became "not found". */
export const ATTR_DELETED = 'gci.deleted';
/** Update summary: records reloaded and found equal. */
export const ATTR_UNCHANGED = 'gci.unchanged';
/** Update summary: misses left alone under `updateOnly`. */
export const ATTR_SKIPPED = 'gci.skipped';
/** Update summary: keys whose refresh could not be written. */
export const ATTR_FAILED = 'gci.failed';
/** The name a cached list was read under. */
export const ATTR_LIST_NAME = 'gci.list.name';
/** The list was served without running its query. */
export const ATTR_LIST_HIT = 'gci.list.hit';
/** The list was served by L1. */
export const ATTR_LIST_L1_HIT = 'gci.list.l1_hit';
/** What the cache was doing when a failure it recovered from happened (`read`, `fill`, `update`…). */
export const ATTR_OPERATION = 'gci.operation';
/** OpenTelemetry's `error.type`: the error's stable code (`E_LOAD`, `E_STORE`…). */
export const ATTR_ERROR_TYPE = 'error.type';

/** The observable counters: metric name, the {@link CacheStats} field it reports, unit, description. */
const COUNTERS: readonly (readonly [string, keyof CacheStats, string, string])[] = [
  ['gci.cache.hits', 'hits', '{record}', 'Records served from the store or L1 (cached "not found" included)'],
  ['gci.cache.l1_hits', 'l1Hits', '{record}', 'Records and cached lists served by the per-process L1 tier'],
  ['gci.cache.misses', 'misses', '{record}', 'Records that had to be loaded (absent, stale or corrupt)'],
  ['gci.cache.list_hits', 'listHits', '{list}', 'Cached root lists served without running their query'],
  ['gci.cache.list_misses', 'listMisses', '{list}', 'Cached root lists whose query had to run'],
  ['gci.cache.loads', 'loads', '{call}', "Calls to a model's load"],
  ['gci.cache.fills', 'fills', '{record}', 'Records and lists written after a load'],
  [
    'gci.cache.stale_rejected',
    'staleRejected',
    '{record}',
    'Records found stamped with an older generation (a fill that raced a write), served as misses',
  ],
  ['gci.cache.invalidations', 'invalidations', '{key}', 'Keys rewritten or invalidated by updates'],
  ['gci.store.round_trips', 'storeRoundTrips', '{call}', 'Calls to the store'],
];

/** Counts under one attribute set, added to by the caches, read at collection. */
interface Tally {
  readonly attributes: Attributes;
  readonly counts: CacheStats;
}

// Process-wide, shared by every cache with telemetry on: the SDK's meter is process-wide too,
// and two caches reporting the same attribute set separately would overwrite each other.
const tallies = new Map<string, Tally>();
const errorTallies = new Map<string, { readonly attributes: Attributes; count: number }>();

function tallyOf(key: string, attributes: Attributes): Tally {
  let tally = tallies.get(key);
  if (!tally) {
    tally = { attributes, counts: createStats() };
    tallies.set(key, tally);
  }
  return tally;
}

function observe(result: BatchObservableResult, counters: Observable[], errors: Observable): void {
  for (const { attributes, counts } of tallies.values()) {
    for (let i = 0; i < COUNTERS.length; i += 1) {
      // Counts only grow: a zero is "not started yet" and stays out of the export.
      const value = counts[COUNTERS[i]![1]];
      if (value > 0) result.observe(counters[i]!, value, attributes);
    }
  }
  for (const { attributes, count } of errorTallies.values()) result.observe(errors, count, attributes);
}

/** The instruments registered on one meter provider. */
interface Instruments {
  readonly provider: MeterProvider;
  readonly loadDuration: Histogram;
  readonly updateDuration: Histogram;
}

let instruments: Instruments | undefined;

// Durations in seconds (OpenTelemetry's convention), with buckets from 0.25 ms: a load by pk
// from SQLite takes well under a millisecond.
const DURATION_BUCKETS = [
  0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * The instruments of the global meter provider, registered on first use and again when the
 * application registered another provider since. The metrics API has no proxy (unlike tracing):
 * a meter taken before the SDK started stays a no-op, so this runs when a cache is created and
 * again at each load and update (a provider lookup, off the warm read path).
 */
function registerInstruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (instruments?.provider === provider) return instruments;
  const meter = metrics.getMeter(TELEMETRY_SCOPE, TELEMETRY_VERSION);
  const counters: Observable[] = COUNTERS.map(([name, , unit, description]) =>
    meter.createObservableCounter(name, { unit, description, valueType: ValueType.INT }),
  );
  const errors = meter.createObservableCounter('gci.cache.errors', {
    unit: '{error}',
    description: 'Store or loader failures the cache recovered from (reported as error events)',
    valueType: ValueType.INT,
  });
  meter.addBatchObservableCallback((result) => observe(result, counters, errors), [...counters, errors]);
  const histogram = (name: string, description: string) =>
    meter.createHistogram(name, {
      unit: 's',
      description,
      valueType: ValueType.DOUBLE,
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
  instruments = {
    provider,
    loadDuration: histogram('gci.load.duration', "Duration of one call to a model's load"),
    updateDuration: histogram('gci.update.duration', 'Duration of one update: the whole cascade'),
  };
  return instruments;
}

/** A model version as the cache knows it: its names, and the object that identifies it. */
interface VersionLike {
  readonly model: string;
  readonly version: string;
}

/**
 * One cache's handle on OpenTelemetry (absent when the cache runs with `telemetry: false`).
 * @internal
 */
export class CacheTelemetry {
  /** Counts that belong to no model version (store round trips, invalidations, errors). */
  readonly processCounts: CacheStats;
  readonly #tracer: Tracer;
  readonly #byVersion = new Map<VersionLike, Tally>();

  constructor() {
    // A proxy: spans reach an SDK registered later, too.
    this.#tracer = trace.getTracer(TELEMETRY_SCOPE, TELEMETRY_VERSION);
    registerInstruments();
    this.processCounts = tallyOf('', {}).counts;
  }

  /** Starts a span under the active context; attribute it only if it is recording. */
  startSpan(name: string): Span {
    return this.#tracer.startSpan(name);
  }

  /** The process-wide counts of a model version (its observable counters' values). */
  countsOf(version: VersionLike): CacheStats {
    return this.#tallyOf(version).counts;
  }

  /** `{ gci.model, gci.version }` of a model version: one shared object, never written. */
  attributesOf(version: VersionLike): Attributes {
    return this.#tallyOf(version).attributes;
  }

  /** Counts a failure the cache recovered from, and notes it on the active span if one records. */
  recovered(error: Error & { readonly code: string }, operation: string): void {
    const key = `${operation}\n${error.code}`;
    let tally = errorTallies.get(key);
    if (!tally) {
      tally = { attributes: { [ATTR_OPERATION]: operation, [ATTR_ERROR_TYPE]: error.code }, count: 0 };
      errorTallies.set(key, tally);
    }
    tally.count += 1;
    const span = trace.getActiveSpan();
    // An ended span (a retry timer scheduled inside an update that has finished) is not recording.
    if (span?.isRecording()) span.recordException(error);
  }

  /** Records one load's duration (ms since `started`), with `error.type` when it failed. */
  loadDone(version: VersionLike, started: number, error: unknown): void {
    const attributes = this.attributesOf(version);
    registerInstruments().loadDuration.record(
      (performance.now() - started) / 1000,
      error === undefined ? attributes : { ...attributes, [ATTR_ERROR_TYPE]: errorType(error) },
    );
  }

  /** Records one update's duration (ms since `started`), with `error.type` when it failed. */
  updateDone(started: number, error: unknown): void {
    registerInstruments().updateDuration.record(
      (performance.now() - started) / 1000,
      error === undefined ? undefined : { [ATTR_ERROR_TYPE]: errorType(error) },
    );
  }

  #tallyOf(version: VersionLike): Tally {
    let tally = this.#byVersion.get(version);
    if (!tally) {
      tally = tallyOf(`${version.model}\n${version.version}`, {
        [ATTR_MODEL]: version.model,
        [ATTR_VERSION]: version.version,
      });
      this.#byVersion.set(version, tally);
    }
    return tally;
  }
}

/** The error's stable code (`E_LOAD`…), or its class name. */
function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return (error as Error | null)?.name ?? 'Error';
}

/** Marks a span failed: status ERROR with the message, an `exception` event, `error.type` = the code. */
export function failSpan(span: Span, error: unknown): void {
  span.recordException(error as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error | null)?.message ?? String(error) });
  span.setAttribute(ATTR_ERROR_TYPE, errorType(error));
}

/** Calls `fn` with `span` as the active span (the caller ends it). For recording spans only. */
export function activeIn<A extends unknown[], R>(
  span: Span,
  fn: (...args: A) => R,
  thisArg: unknown,
  ...args: A
): R {
  return context.with(trace.setSpan(context.active(), span), fn, thisArg, ...args);
}

/**
 * Runs `fn` with `span` as the active span, so that the spans of what it calls (a `load` and
 * its SQL) nest under it; records a failure on it and ends it. For recording spans only: making
 * a context costs, and a span nobody records has nothing to parent.
 */
export async function inSpan<A extends unknown[], R>(
  span: Span,
  fn: (...args: A) => Promise<R>,
  thisArg: unknown,
  ...args: A
): Promise<R> {
  try {
    return await activeIn(span, fn, thisArg, ...args);
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}
