import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { type Attributes, context, metrics, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cachedContext } from '../../../src/apollo/index.js';
import { TELEMETRY_SCOPE, TELEMETRY_VERSION } from '../../../src/core/telemetry.js';
import {
  type CacheStats,
  createLoaders,
  createMemoryStore,
  InstanceCache,
  LoadError,
  type Pk,
} from '../../../src/index.js';
import { createPollDb, seedPoll } from '../../support/poll-fixture.js';

// A real OpenTelemetry SDK, as an application registers it: a tracer provider exporting to
// memory through a simple (synchronous) processor, a meter provider whose reader the test
// collects by hand, and the async-hooks context manager that carries the active span.
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
// Never exports on its own within a test: collections are forced with forceFlush().
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
});

afterAll(async () => {
  trace.disable();
  metrics.disable();
  context.disable();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});

/** Every data point of the library's metrics, by `name {attributes}`: a counter's value, a histogram's count. */
async function collect(): Promise<Map<string, number>> {
  metricExporter.reset();
  await reader.forceFlush();
  const points = new Map<string, number>();
  for (const resource of metricExporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      if (scope.scope.name !== TELEMETRY_SCOPE) continue;
      expect(scope.scope.version).toBe(TELEMETRY_VERSION);
      for (const metric of scope.metrics) {
        for (const point of metric.dataPoints) {
          const value =
            metric.dataPointType === DataPointType.HISTOGRAM
              ? (point.value as { count: number }).count
              : (point.value as number);
          points.set(pointKey(metric.descriptor.name, point.attributes), value);
        }
      }
    }
  }
  return points;
}

function pointKey(name: string, attributes: Attributes): string {
  const sorted = Object.keys(attributes)
    .sort()
    .map((key) => `${key}=${String(attributes[key])}`);
  return `${name} {${sorted.join(',')}}`;
}

/** How much each data point grew between two collections (points that did not grow are left out). */
function growth(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}

function statsDelta(before: CacheStats, after: CacheStats): Partial<CacheStats> {
  const out: Partial<CacheStats> = {};
  for (const key of Object.keys(after) as (keyof CacheStats)[]) {
    if (after[key] !== before[key]) out[key] = after[key] - before[key];
  }
  return out;
}

const finished = (name: string): ReadableSpan[] => spans.getFinishedSpans().filter((s) => s.name === name);
const only = (name: string): ReadableSpan => {
  const found = finished(name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const choice = { 'gci.model': 'Choice', 'gci.version': 'v1' };

describe('OpenTelemetry, with an SDK registered', () => {
  let db: ReturnType<typeof createPollDb>['db'];
  let cache: InstanceCache<Record<string, object>>;

  beforeEach(() => {
    const poll = createPollDb({ questionListFields: 'all' });
    db = poll.db;
    seedPoll(db);
    cache = new InstanceCache(poll.strategy as never, { store: createMemoryStore(), l1: true });
    spans.reset();
  });

  it('a cold read is one gci.read under the active span, with its load and its fill as children', async () => {
    const before = await collect();
    const tracer = trace.getTracer('the-app');
    await tracer.startActiveSpan('graphql.request', async (request) => {
      await cache.getInstances('Choice', [3, 1, 2, 1]);
      request.end();
    });
    const request = only('graphql.request');
    const read = only('gci.read');
    const load = only('gci.load');
    const fill = only('gci.fill');
    expect(parentOf(read)).toBe(idOf(request));
    expect(parentOf(load)).toBe(idOf(read));
    expect(parentOf(fill)).toBe(idOf(read));
    expect(read.attributes).toEqual({
      ...choice,
      'gci.batch_size': 3,
      'gci.hits': 0,
      'gci.l1_hits': 0,
      'gci.misses': 3,
    });
    expect(read.status.code).toBe(SpanStatusCode.UNSET);
    expect(load.attributes).toEqual({ ...choice, 'gci.batch_size': 3 });
    expect(fill.attributes).toEqual({ ...choice, 'gci.batch_size': 3, 'gci.landed': 3 });
    expect(spans.getFinishedSpans()).toHaveLength(4);

    // The counters say what cache.stats says.
    expect(cache.stats).toMatchObject({ misses: 3, loads: 1, fills: 3, hits: 0, storeRoundTrips: 3 });
    expect(growth(before, await collect())).toEqual({
      'gci.cache.misses {gci.model=Choice,gci.version=v1}': 3,
      'gci.cache.loads {gci.model=Choice,gci.version=v1}': 1,
      'gci.cache.fills {gci.model=Choice,gci.version=v1}': 3,
      'gci.store.round_trips {}': 3,
      'gci.load.duration {gci.model=Choice,gci.version=v1}': 1,
    });
  });

  it('a warm read counts its hits and L1 hits on the span and in the counters, exactly as cache.stats', async () => {
    await cache.getInstances('Choice', [1, 2]);
    const before = await collect();
    const stats = { ...cache.stats };
    spans.reset();
    // 1 and 2 are held by L1; 3 is a miss.
    await cache.getInstances('Choice', [1, 2, 3]);
    const delta = statsDelta(stats, cache.stats);
    expect(delta).toMatchObject({ hits: 2, l1Hits: 2, misses: 1, loads: 1 });
    const read = only('gci.read');
    expect(read.attributes).toMatchObject({
      'gci.batch_size': 3,
      'gci.hits': delta.hits,
      'gci.l1_hits': delta.l1Hits,
      'gci.misses': delta.misses,
    });
    expect(parentOf(only('gci.load'))).toBe(idOf(read));
    expect(only('gci.load').attributes).toMatchObject({ 'gci.batch_size': 1 });
    const grown = growth(before, await collect());
    expect(grown).toMatchObject({
      'gci.cache.hits {gci.model=Choice,gci.version=v1}': delta.hits,
      'gci.cache.l1_hits {gci.model=Choice,gci.version=v1}': delta.l1Hits,
      'gci.cache.misses {gci.model=Choice,gci.version=v1}': delta.misses,
      'gci.cache.loads {gci.model=Choice,gci.version=v1}': delta.loads,
      'gci.store.round_trips {}': delta.storeRoundTrips,
    });

    // A fully warm read: no load, no fill, no round trip.
    spans.reset();
    const again = { ...cache.stats };
    await cache.getInstances('Choice', [1, 2, 3]);
    expect(statsDelta(again, cache.stats)).toEqual({ hits: 3, l1Hits: 3 });
    expect(spans.getFinishedSpans().map((s) => s.name)).toEqual(['gci.read']);
    expect(only('gci.read').attributes).toMatchObject({ 'gci.hits': 3, 'gci.l1_hits': 3, 'gci.misses': 0 });
  });

  it('one DataLoader batch is one gci.read; reads that L1 answers without a batch are counted, not traced', async () => {
    await cache.getInstances('Choice', [1]);
    spans.reset();
    const before = await collect();
    const requestStats = { ...cache.stats };
    const loaders = createLoaders(cache, { version: 'v1' }) as unknown as Record<
      string,
      { load(pk: Pk): Promise<unknown> }
    >;
    // 1 comes from L1 synchronously in the batcher; 2 and 3 make one batch.
    await Promise.all([loaders.Choice!.load(1), loaders.Choice!.load(2), loaders.Choice!.load(3)]);
    expect(only('gci.read').attributes).toMatchObject({
      'gci.batch_size': 2,
      'gci.misses': 2,
      'gci.hits': 0,
    });
    const delta = statsDelta(requestStats, cache.stats);
    expect(delta).toMatchObject({ hits: 1, l1Hits: 1, misses: 2 });
    expect(growth(before, await collect())).toMatchObject({
      'gci.cache.hits {gci.model=Choice,gci.version=v1}': 1,
      'gci.cache.l1_hits {gci.model=Choice,gci.version=v1}': 1,
      'gci.cache.misses {gci.model=Choice,gci.version=v1}': 2,
    });
  });

  it('through Apollo, each level of a query is one gci.read under the request span', async () => {
    const server = new ApolloServer<{
      loaders: Record<string, { load(pk: Pk): unknown; loadMany(pks: Pk[]): unknown }>;
    }>({
      typeDefs: `#graphql
        type Query { choices(ids: [Int!]!): [Choice] }
        type Choice { id: Int!, text: String!, question: Question }
        type Question { id: Int!, text: String! }
      `,
      resolvers: {
        Query: { choices: (_: unknown, args: { ids: Pk[] }, ctx) => ctx.loaders.Choice!.loadMany(args.ids) },
        Choice: {
          question: (choice: { questionId: Pk }, _: unknown, ctx) =>
            ctx.loaders.Question!.load(choice.questionId),
        },
      },
    });
    await server.start();
    try {
      const contextValue = await cachedContext(cache)();
      const tracer = trace.getTracer('the-app');
      const response = await tracer.startActiveSpan('graphql.request', async (request) => {
        const result = await server.executeOperation(
          { query: '{ choices(ids: [1, 2, 3]) { text question { text } } }' },
          { contextValue: contextValue as never },
        );
        request.end();
        return result;
      });
      expect(response.body.kind === 'single' && response.body.singleResult.errors).toBeUndefined();
      const request = only('graphql.request');
      const reads = finished('gci.read');
      expect(reads.map((read) => [read.attributes['gci.model'], read.attributes['gci.batch_size']])).toEqual([
        ['Choice', 3],
        ['Question', 2],
      ]);
      for (const read of reads) expect(parentOf(read)).toBe(idOf(request));
      for (const load of finished('gci.load')) expect(reads.map(idOf)).toContain(parentOf(load));
    } finally {
      await server.stop();
    }
  });

  it('an update is one gci.update carrying its summary, with every load of the cascade as a child', async () => {
    await cache.getInstances('Question', [1]);
    await cache.getInstances('Choice', [2]);
    spans.reset();
    const before = await collect();
    const stats = { ...cache.stats };
    db.choices.delete(2);
    const summary = await cache.update([{ model: 'Choice', pk: 2 }]);
    expect(summary).toMatchObject({ deleted: 1, refreshed: 3, levels: 2, failed: 0 });
    const update = only('gci.update');
    expect(update.attributes).toEqual({
      'gci.refs': 1,
      'gci.levels': summary.levels,
      'gci.refreshed': summary.refreshed,
      'gci.deleted': summary.deleted,
      'gci.unchanged': summary.unchanged,
      'gci.skipped': summary.skipped,
      'gci.failed': summary.failed,
    });
    expect(update.status.code).toBe(SpanStatusCode.UNSET);
    const loads = finished('gci.load');
    const delta = statsDelta(stats, cache.stats);
    expect(loads).toHaveLength(delta.loads!);
    expect(loads.length).toBeGreaterThanOrEqual(2); // Choice, then Question on the next level
    for (const load of loads) expect(parentOf(load)).toBe(idOf(update));
    expect(new Set(loads.map((load) => load.attributes['gci.model']))).toEqual(
      new Set(['Choice', 'Question']),
    );
    const grown = growth(before, await collect());
    expect(grown['gci.cache.invalidations {}']).toBe(delta.invalidations);
    expect(grown['gci.store.round_trips {}']).toBe(delta.storeRoundTrips);
    expect(grown['gci.update.duration {}']).toBe(1);
    const loadsCounted = Object.entries(grown)
      .filter(([key]) => key.startsWith('gci.cache.loads '))
      .reduce((sum, [, value]) => sum + value, 0);
    expect(loadsCounted).toBe(delta.loads);
  });

  it('a load that fails marks its span and the read ERROR with the error code, and is timed with error.type', async () => {
    const before = await collect();
    db.failing = true;
    const failure = await cache.getInstances('Question', [1]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LoadError);
    for (const span of [only('gci.load'), only('gci.read')]) {
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: (failure as Error).message });
      expect(span.attributes['error.type']).toBe('E_LOAD');
      const exception = span.events.find((event) => event.name === 'exception');
      expect(exception?.attributes).toMatchObject({
        'exception.type': 'E_LOAD',
        'exception.message': (failure as Error).message,
      });
    }
    expect(parentOf(only('gci.load'))).toBe(idOf(only('gci.read')));
    expect(growth(before, await collect())).toMatchObject({
      'gci.load.duration {error.type=E_LOAD,gci.model=Question,gci.version=v1}': 1,
      'gci.cache.misses {gci.model=Question,gci.version=v1}': 1,
    });

    // In an update the load failure fails the update span too.
    spans.reset();
    await expect(cache.update([{ model: 'Question', pk: 2 }])).rejects.toBeInstanceOf(LoadError);
    expect(only('gci.update').status.code).toBe(SpanStatusCode.ERROR);
    expect(only('gci.update').attributes['error.type']).toBe('E_LOAD');
    expect(only('gci.load').status.code).toBe(SpanStatusCode.ERROR);
    const grown = growth(before, await collect());
    expect(grown['gci.update.duration {error.type=E_LOAD}']).toBe(1);
  });

  it('a failure the cache recovers from is counted by operation and code, and noted on the active span', async () => {
    const before = await collect();
    const errors = cache.stats.errors;
    cache.on('error', () => {});
    const tracer = trace.getTracer('the-app');
    await tracer.startActiveSpan('graphql.request', async (request) => {
      await cache.update([{ model: 'Nope', pk: 1 }]);
      request.end();
    });
    expect(cache.stats.errors - errors).toBe(1);
    expect(growth(before, await collect())).toMatchObject({
      'gci.cache.errors {error.type=E_UNKNOWN_MODEL,gci.operation=update}': 1,
    });
    const request = only('graphql.request');
    expect(request.status.code).toBe(SpanStatusCode.UNSET);
    expect(request.events.map((event) => event.attributes?.['exception.type'])).toEqual(['E_UNKNOWN_MODEL']);
  });

  it('a cached list is one gci.list: a miss runs its query inside the span, a hit says where it came from', async () => {
    const tracer = trace.getTracer('the-app');
    const load = () =>
      tracer.startActiveSpan('sql', async (sql) => {
        sql.end();
        return [1, 2];
      });
    const before = await collect();
    expect(await cache.getList('Question', 'recent', 'page 1', load)).toEqual([1, 2]);
    const miss = only('gci.list');
    expect(miss.attributes).toEqual({
      'gci.model': 'Question',
      'gci.version': 'v1',
      'gci.list.name': 'recent',
      'gci.list.hit': false,
      'gci.list.l1_hit': false,
    });
    expect(parentOf(only('sql'))).toBe(idOf(miss));
    spans.reset();
    expect(await cache.getList('Question', 'recent', 'page 1', load)).toEqual([1, 2]);
    expect(only('gci.list').attributes).toMatchObject({ 'gci.list.hit': true, 'gci.list.l1_hit': true });
    expect(finished('sql')).toHaveLength(0);
    expect(growth(before, await collect())).toMatchObject({
      'gci.cache.list_misses {gci.model=Question,gci.version=v1}': 1,
      'gci.cache.list_hits {gci.model=Question,gci.version=v1}': 1,
      'gci.cache.l1_hits {gci.model=Question,gci.version=v1}': 1,
      'gci.cache.fills {gci.model=Question,gci.version=v1}': 1,
    });
  });

  it('with telemetry: false the cache emits no span and moves no metric', async () => {
    const poll = createPollDb({ questionListFields: 'all' });
    seedPoll(poll.db);
    const quiet = new InstanceCache(poll.strategy, {
      store: createMemoryStore(),
      l1: true,
      telemetry: false,
    });
    quiet.on('error', () => {});
    const before = await collect();
    await quiet.getInstances('Choice', [1, 2]);
    await quiet.getInstances('Choice', [1, 2]);
    await quiet.getList('Question', 'recent', 'page 1', async () => [1]);
    poll.db.choices.delete(2);
    await quiet.update([
      { model: 'Choice', pk: 2 },
      { model: 'Nope', pk: 1 },
    ]);
    poll.db.failing = true;
    await expect(quiet.getInstances('Question', [2])).rejects.toBeInstanceOf(LoadError);
    expect(quiet.stats).toMatchObject({ hits: 2, misses: 3, errors: 1 });
    expect(quiet.stats.loads).toBeGreaterThan(2);
    expect(spans.getFinishedSpans()).toEqual([]);
    expect(growth(before, await collect())).toEqual({});
  });

  it('rejects a telemetry option that is not a boolean', () => {
    expect(() => new InstanceCache(createPollDb().strategy, { telemetry: 'yes' as never })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION' }),
    );
  });
});

describe('OpenTelemetry scope', () => {
  it("carries the package's version", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      name: string;
      version: string;
    };
    expect(TELEMETRY_SCOPE).toBe(pkg.name);
    expect(TELEMETRY_VERSION).toBe(pkg.version);
  });
});
