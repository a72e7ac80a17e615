/**
 * The public types of `CacheSubscriber`: its options, the target it refreshes and the batches
 * it hands on.
 */
import type { CascadeRunner } from '../queue/runners.js';
import type { Ref } from '../strategy/define.js';
import type { CacheJournal } from './journal.js';

/**
 * What the subscriber hands its refs to: an `InstanceCache`, or anything with the same `update`
 * (a queue that runs the cascade elsewhere, say).
 */
export interface CacheUpdateTarget {
  /** Refreshes the refs in every version and cascades to what depends on them. */
  update(refs: readonly Ref[], options?: { updateOnly?: boolean }): Promise<unknown>;
  /** When present, refs to entities that are not one of `strategy.modelNames` are left out. */
  readonly strategy?: { readonly modelNames: readonly string[] };
}

/** A logger, as the subscriber uses one: every method optional (pino, console or your own). */
export interface CacheSubscriberLogger {
  debug?(message: string, context?: Readonly<Record<string, unknown>>): void;
  error?(message: string, context?: Readonly<Record<string, unknown>>): void;
}

/** One batch of refs the subscriber handed to the cache, after one outermost commit. */
export interface InvalidationBatch {
  /** The refs, de-duplicated: the changed instances and their previous and new relation neighbours. */
  readonly refs: readonly Ref[];
  /**
   * `'commit'`: the outermost transaction committed. `'autocommit'`: a write outside any
   * transaction (an `em.upsert` outside a transaction, or a flush with `implicitTransactions: false`).
   * `'bulk'`: the end of a `CacheSubscriber.suspend` call (every commit made inside it).
   */
  readonly trigger: 'commit' | 'autocommit' | 'bulk';
}

/** Options of {@link CacheSubscriber}. */
export interface CacheSubscriberOptions {
  /**
   * Passed to `update`: refresh only keys that are cached, and stop the cascade at a miss. Default
   * `false`: every ref is reloaded and filled, so the first read after a write is a hit.
   */
  updateOnly?: boolean;
  /**
   * Maps an entity name to its model name in the strategy; return `null` to ignore the entity.
   * Default: the entity name is the model name.
   */
  modelName?(entityName: string): string | null;
  /**
   * Look up previous values MikroORM never loaded, inside the flush's transaction before its first
   * statement: the old FK of an entity changed through `em.getReference`, the members of a
   * collection cleared without being loaded, the children and many-to-many members of a deleted
   * entity whose collections were not loaded, and the rows the database deletes by FK cascade
   * with their own neighbours, as far as the schema cascades (none of these fire an event). One
   * query per relation and flush, never one per row; none when everything was loaded. Where the
   * database has row locks (Postgres, MySQL), the rows concerned are first read `for update`.
   * Default `true`. With `false`, those neighbours are refreshed only when the cache still holds
   * the previous record that names them.
   */
  resolveUnknown?: boolean;
  /**
   * The durable journal (recommended in production): what each transaction must refresh is
   * written in that transaction (`beforeTransactionCommit`), so a process that dies between
   * COMMIT and its refresh loses nothing, and a refresh the store refused is retried. Default:
   * none — the refresh lives only in this process's memory until it ran.
   */
  journal?: CacheJournal;
  /**
   * Where the cascade runs: `inlineRunner` (default: awaited, `em.flush()` resolves after the
   * cache was refreshed), `backgroundRunner` (in this process, after the commit returns) or
   * `bullmqRunner` (a worker process). A runner given here reports through its own `onBatch` /
   * `onError`; the subscriber's are used by the default inline runner.
   */
  runner?: CascadeRunner;
  /** Receives `debug` lines (one per batch) and `error` lines. Default: none. */
  logger?: CacheSubscriberLogger;
  /** Called after each batch was applied, with what `update` returned and how long it took. */
  onBatch?(batch: InvalidationBatch, result: unknown, durationMs: number): void;
  /**
   * Called when capturing a flush or applying a batch failed. The subscriber never throws: a throw
   * in `afterTransactionCommit` would reject the caller's flush although its data is committed.
   * Default: the error is only logged (`logger.error`).
   */
  onError?(error: unknown, batch: InvalidationBatch | null): void;
}
