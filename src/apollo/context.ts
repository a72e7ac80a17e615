import type { InstanceCache } from '../core/instance-cache.js';
import { type CacheStats, createStats } from '../core/stats.js';
import { InvalidOptionError } from '../errors.js';
import { clearAllLoaders, createLoaders, type Loaders } from '../loaders/create-loaders.js';
import { createSqlCounter, currentSqlCounter, type SqlCounter } from './sql-scope.js';

/** What {@link cachedContext} adds to a request's context. */
export interface CachedContext<Records extends object> {
  /**
   * Per-request DataLoaders, one per model, reading {@link cacheVersion}: every load of a model
   * in one tick is ONE batched cache read, and a record is read at most once per request.
   */
  readonly loaders: Loaders<Records>;
  /** The shared instance cache (its strategy tells models and pk types; `invalidate` after native writes). */
  readonly cache: InstanceCache<Records>;
  /** The cache version this request reads: the version of the schema it was sent to. */
  readonly cacheVersion: string;
  /** This request's cache counters (hits, misses, store round trips, memo hits, …). */
  readonly cacheStats: CacheStats;
  /**
   * This request's SQL statement counter. Inside `sqlCounterMiddleware()` (or
   * `runWithSqlCounter`) it is the request's scope counter, fed by `countSqlQuery()` (which the
   * MikroORM logger of `createSqlCountingLoggerFactory()` calls); otherwise a fresh counter your
   * code may increment itself.
   */
  readonly sql: SqlCounter;
}

/** Options of {@link cachedContext}. */
export interface CachedContextOptions<Args extends unknown[]> {
  /**
   * The cache version requests read: a version name (checked now), or a function of the context
   * function's arguments (checked per request; an unknown version fails the request with 500).
   * Default: the strategy's `defaultVersion`. Give each schema version its own context.
   */
  version?: string | ((...args: Args) => string);
}

/** A context function as Apollo calls it: any arguments, a context (or its promise) back. */
export type ContextFunctionOf<Args extends unknown[], Context> = (
  ...args: Args
) => Context | Promise<Context>;

/**
 * Wraps an Apollo context function so that every request also gets per-request `loaders` bound
 * to the schema's cache version, the `cacheVersion`, fresh `cacheStats` and a `sql` counter
 * (see {@link CachedContext}). The base context's own fields are kept (spread into a new object).
 *
 * Loaders are created per request on purpose: a DataLoader memoizes what its request has seen,
 * and must not outlive it. The records themselves are shared through the cache.
 *
 * @example
 * const context = cachedContext(cache, async ({ req }) => ({ em: orm.em.fork() }), { version: 'v2' });
 * // context: (args) => Promise<{ em } & CachedContext<Records>>
 */
export function cachedContext<Records extends object, Args extends unknown[] = []>(
  cache: InstanceCache<Records>,
  options?: CachedContextOptions<Args>,
): (...args: Args) => Promise<CachedContext<Records>>;
export function cachedContext<Records extends object, Args extends unknown[], Base extends object>(
  cache: InstanceCache<Records>,
  baseContext: ContextFunctionOf<Args, Base>,
  options?: CachedContextOptions<Args>,
): (...args: Args) => Promise<Base & CachedContext<Records>>;
export function cachedContext<Records extends object, Args extends unknown[], Base extends object>(
  cache: InstanceCache<Records>,
  baseOrOptions?: ContextFunctionOf<Args, Base> | CachedContextOptions<Args>,
  maybeOptions?: CachedContextOptions<Args>,
): (...args: Args) => Promise<Base & CachedContext<Records>> {
  if (!cache || typeof cache.getInstances !== 'function' || !cache.strategy) {
    throw new InvalidOptionError(
      `cachedContext(cache, …): expected an InstanceCache, got ${Object.prototype.toString.call(cache)}`,
    );
  }
  const base = typeof baseOrOptions === 'function' ? baseOrOptions : undefined;
  const options = (typeof baseOrOptions === 'function' ? maybeOptions : baseOrOptions) ?? {};
  if (
    typeof baseOrOptions !== 'function' &&
    baseOrOptions !== undefined &&
    typeof baseOrOptions !== 'object'
  ) {
    throw new InvalidOptionError(
      `cachedContext(cache, baseContext): baseContext must be a function, got ${typeof baseOrOptions}`,
    );
  }
  const { version } = options;
  // A fixed version is checked now, so a typo fails at startup rather than on the first request.
  const fixed =
    typeof version === 'function'
      ? undefined
      : cache.strategy.checkVersion(version ?? cache.strategy.defaultVersion);
  return async (...args: Args) => {
    const own = base ? await base(...args) : undefined;
    const cacheVersion = fixed ?? cache.strategy.checkVersion((version as (...a: Args) => string)(...args));
    const cacheStats = createStats();
    const loaders = createLoaders(cache, { version: cacheVersion, stats: cacheStats });
    const sql = currentSqlCounter() ?? createSqlCounter();
    const context = (own ? copyOf(own) : {}) as Record<string, unknown>;
    context.cache = cache;
    context.loaders = loaders;
    context.cacheVersion = cacheVersion;
    context.cacheStats = cacheStats;
    context.sql = sql;
    return context as Base & CachedContext<Records>;
  };
}

/**
 * A copy of a base context with its prototype and properties as they are: a getter (a lazily
 * forked entity manager, say) stays a getter instead of being called here. One property at a
 * time: `Object.create(proto, descriptors)` costs about twice as much per request.
 */
function copyOf(own: object): object {
  const copy = Object.create(Object.getPrototypeOf(own)) as object;
  for (const key of Reflect.ownKeys(own)) {
    Object.defineProperty(copy, key, Object.getOwnPropertyDescriptor(own, key)!);
  }
  return copy;
}

/**
 * Forgets what this request's loaders memoized. Call it in a mutation after its write committed
 * (and the cache was refreshed), so that the fields the mutation returns read the fresh records
 * and not ones this request loaded before the write.
 */
export function clearLoaders(context: { readonly loaders: object }): void {
  clearAllLoaders(context.loaders);
}
