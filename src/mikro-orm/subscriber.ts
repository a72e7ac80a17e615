import type {
  EventArgs,
  EventSubscriber,
  FlushEventArgs,
  Transaction,
  TransactionEventArgs,
  UnitOfWork,
} from '@mikro-orm/core';
import type { Ref } from '../strategy/define.js';
import {
  captureFlush,
  emptyCapture,
  type FlushCapture,
  finishCapture,
  resolveLookups,
  upsertRefs,
} from './flush-capture.js';
import type { EntityRef } from './relations.js';

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
   */
  readonly trigger: 'commit' | 'autocommit';
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
   * Look up, during the flush and inside its transaction, previous values MikroORM never loaded:
   * the old FK of an entity changed through `em.getReference`, the members of a collection
   * cleared without being loaded, the children and many-to-many members of a deleted entity whose
   * collections were not loaded (their rows go by FK cascade, which fires no event). One query per
   * such relation and flush; none when everything was loaded. Default `true`. With `false`, those
   * neighbours are refreshed only when the cache still holds the previous record that names them.
   */
  resolveUnknown?: boolean;
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

interface KnexTransactionLike {
  parentTransaction?: KnexTransactionLike;
  executionPromise?: Promise<unknown>;
}

/** The root of a (possibly savepoint) knex transaction: what one outermost commit is keyed by. */
function rootOf(trx: Transaction): object {
  let current = trx as KnexTransactionLike;
  while (current.parentTransaction) current = current.parentTransaction;
  return current;
}

/**
 * Keeps a cache in step with MikroORM writes: a MikroORM `EventSubscriber` that collects, per
 * flush, what changed (created, updated and deleted entities with their previous state, and
 * many-to-many changes on either side) and calls `cache.update(refs)` once the OUTERMOST
 * transaction has committed. A rollback, a failed flush or a failed commit invalidates nothing.
 *
 * Register it FIRST (`MikroORM.init({ subscribers: [subscriber, …] })`, or
 * `orm.em.getEventManager().registerSubscriber(subscriber)` before other subscribers): a
 * subscriber that throws in `afterTransactionCommit` stops the ones after it. The cascade is
 * awaited, so `em.flush()` and `em.transactional()` resolve after the cache was refreshed.
 *
 * What it cannot see: `nativeUpdate`, `nativeDelete`, `insert`/`insertMany`, QueryBuilder writes
 * and raw SQL fire no events; call `cache.invalidate(model, pks)` after those commit. `em.upsert`
 * is seen, but its previous values are not (an upsert that moves a child cannot name the old
 * parent). Savepoints that roll back, and a Postgres transaction that was aborted and then
 * "committed", are over-reported: harmless, the refs are reloaded and found unchanged.
 *
 * @example
 * const subscriber = new CacheSubscriber(cache);
 * orm.em.getEventManager().registerSubscriber(subscriber);
 */
export class CacheSubscriber implements EventSubscriber {
  readonly #target: () => CacheUpdateTarget;
  readonly #options: CacheSubscriberOptions;
  /** Flush captures, from `onFlush` to the `afterFlush` (or plain-flush commit) that follows. */
  readonly #captures = new WeakMap<UnitOfWork, FlushCapture>();
  /** Refs of flushes inside a transaction, per root knex transaction, until it commits or rolls back. */
  readonly #pending = new WeakMap<object, Map<string, EntityRef>>();
  /** Root transactions that are known to have committed (see `beforeTransactionRollback`). */
  readonly #committed = new WeakSet<object>();

  /**
   * @param cache The cache to refresh, or a function returning it (handy when the subscriber must
   *   be passed to `MikroORM.init` before the cache, which needs the ORM's metadata, exists).
   * @param options See {@link CacheSubscriberOptions}.
   */
  constructor(cache: CacheUpdateTarget | (() => CacheUpdateTarget), options: CacheSubscriberOptions = {}) {
    if (typeof cache === 'function') this.#target = cache;
    else if (cache && typeof cache.update === 'function') this.#target = () => cache;
    else {
      throw new TypeError(
        `new CacheSubscriber(cache): expected an object with an update(refs) method or a function returning one, got ${Object.prototype.toString.call(cache)}`,
      );
    }
    this.#options = options;
  }

  /** Captures the flush while the unit of work still knows the previous state. */
  async onFlush(args: FlushEventArgs): Promise<void> {
    let capture: FlushCapture;
    try {
      capture = captureFlush(args.uow);
    } catch (error) {
      // What the change sets say after the flush is still collected (see finishCapture).
      this.#report(error, null);
      capture = emptyCapture();
    }
    this.#captures.set(args.uow, capture);
    if (this.#options.resolveUnknown ?? true) {
      try {
        await resolveLookups(args.em, capture);
      } catch (error) {
        this.#report(error, null);
      }
    }
  }

  /**
   * After a flush inside a transaction: park its refs under the root transaction. Outside any
   * transaction (`implicitTransactions: false`): apply them now.
   */
  async afterFlush(args: FlushEventArgs): Promise<void> {
    const capture = this.#captures.get(args.uow);
    this.#captures.delete(args.uow);
    if (capture?.emitted) return;
    let refs: Map<string, EntityRef>;
    try {
      refs = finishCapture(args.uow, capture);
    } catch (error) {
      this.#report(error, null);
      return;
    }
    const trx = args.em.getTransactionContext();
    if (trx) this.#park(trx, refs);
    else await this.#apply(refs, 'autocommit');
  }

  /** `em.upsert` fires no flush: its entity is parked the same way (or applied, outside a transaction). */
  async afterUpsert(args: EventArgs<object>): Promise<void> {
    let refs: Map<string, EntityRef>;
    try {
      refs = upsertRefs(args.entity);
    } catch (error) {
      this.#report(error, null);
      return;
    }
    const trx = args.em.getTransactionContext();
    if (trx) this.#park(trx, refs);
    else await this.#apply(refs, 'autocommit');
  }

  /** Remembers when a root transaction really committed, for the case described at `beforeTransactionRollback`. */
  afterTransactionStart(args: TransactionEventArgs): void {
    const trx = args.transaction as KnexTransactionLike | undefined;
    if (!trx || trx.parentTransaction || !trx.executionPromise) return;
    trx.executionPromise.then(
      () => this.#committed.add(trx),
      () => {},
    );
  }

  /**
   * The outermost commit: apply everything parked under this transaction. Transaction events fire
   * for root transactions only (savepoints fire none), so this runs once per outermost commit.
   *
   * A plain `em.flush()` opens its own transaction, and its `afterTransactionCommit` (with
   * `args.uow` set) comes BEFORE its `afterFlush`: the flush's refs are finished and applied here,
   * and the capture is marked so that the `afterFlush` that follows does nothing.
   */
  async afterTransactionCommit(args: TransactionEventArgs): Promise<void> {
    await this.#settle(args);
  }

  /**
   * Normally a rollback drops what was parked. But when another subscriber throws in
   * `afterTransactionCommit` before this one ran, MikroORM rolls back a transaction that had
   * already committed: the data is in the database, so the batch is applied instead.
   */
  async beforeTransactionRollback(args: TransactionEventArgs): Promise<void> {
    const trx = args.transaction as object | undefined;
    if (trx && this.#committed.has(trx)) await this.#settle(args);
  }

  /** Drops what was parked under a transaction that rolled back. */
  afterTransactionRollback(args: TransactionEventArgs): void {
    if (args.uow) this.#captures.delete(args.uow);
    if (args.transaction) this.#pending.delete(rootOf(args.transaction));
  }

  async #settle(args: TransactionEventArgs): Promise<void> {
    const refs = new Map<string, EntityRef>();
    if (args.transaction) {
      const root = rootOf(args.transaction);
      // Taken and deleted before awaiting anything, so a second event for the same commit finds nothing.
      const parked = this.#pending.get(root);
      this.#pending.delete(root);
      for (const [key, ref] of parked ?? []) refs.set(key, ref);
    }
    if (args.uow) {
      let capture = this.#captures.get(args.uow);
      if (!capture) {
        // No onFlush seen (the subscriber was registered mid-flush): the change sets still tell.
        capture = emptyCapture();
        this.#captures.set(args.uow, capture);
      }
      if (!capture.emitted) {
        capture.emitted = true;
        try {
          for (const [key, ref] of finishCapture(args.uow, capture)) refs.set(key, ref);
        } catch (error) {
          this.#report(error, null);
        }
      }
    }
    await this.#apply(refs, 'commit');
  }

  #park(trx: Transaction, refs: Map<string, EntityRef>): void {
    if (refs.size === 0) return;
    const root = rootOf(trx);
    let parked = this.#pending.get(root);
    if (!parked) {
      parked = new Map();
      this.#pending.set(root, parked);
    }
    for (const [key, ref] of refs) parked.set(key, ref);
  }

  async #apply(refs: Map<string, EntityRef>, trigger: InvalidationBatch['trigger']): Promise<void> {
    if (refs.size === 0) return;
    let batch: InvalidationBatch | null = null;
    try {
      const target = this.#target();
      const known = target.strategy ? new Set(target.strategy.modelNames) : null;
      const out: Ref[] = [];
      for (const { entity, pk } of refs.values()) {
        const model = this.#options.modelName ? this.#options.modelName(entity) : entity;
        if (model !== null && (known === null || known.has(model))) out.push({ model, pk });
      }
      if (out.length === 0) return;
      batch = { refs: out, trigger };
      const started = performance.now();
      const result = await target.update(out, { updateOnly: this.#options.updateOnly ?? false });
      const duration = performance.now() - started;
      this.#options.logger?.debug?.(`CacheSubscriber: refreshed ${out.length} refs after ${trigger}`, {
        refs: out.length,
        durationMs: duration,
      });
      this.#options.onBatch?.(batch, result, duration);
    } catch (error) {
      this.#report(error, batch);
    }
  }

  #report(error: unknown, batch: InvalidationBatch | null): void {
    try {
      this.#options.logger?.error?.('CacheSubscriber: invalidation failed', {
        error,
        refs: batch?.refs.length ?? 0,
      });
      this.#options.onError?.(error, batch);
    } catch {
      // A failing error hook must not turn a committed write into a rejected flush.
    }
  }
}
