import type {
  EntityManager,
  EventArgs,
  EventSubscriber,
  FlushEventArgs,
  Transaction,
  TransactionEventArgs,
  UnitOfWork,
} from '@mikro-orm/core';
import { InvalidOptionError } from '../errors.js';
import type { Ref } from '../strategy/define.js';
import {
  captureFlush,
  emptyCapture,
  type FlushCapture,
  finishCapture,
  flushOpensTransaction,
  resolveLookups,
  upsertRefs,
} from './flush-capture.js';
import { hasLookups } from './lookups.js';
import type { CacheSubscriberOptions, CacheUpdateTarget, InvalidationBatch } from './options.js';
import type { EntityRef } from './relations.js';

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
 * Rows deleted by an FK `ON DELETE CASCADE` count as deleted: their neighbours are named too.
 * What MikroORM never loaded is looked up inside the flush's transaction before its first
 * statement, locking the rows concerned on Postgres (see `resolveUnknown`).
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
      throw new InvalidOptionError(
        `new CacheSubscriber(cache): expected an object with an update(refs) method or a function returning one, got ${Object.prototype.toString.call(cache)}`,
      );
    }
    this.#options = options;
  }

  /**
   * Captures the flush while the unit of work still knows the previous state. Its lookups run now
   * when the flush runs inside a transaction (or in none); a plain flush has not begun its own
   * transaction yet, so they wait for `afterTransactionStart`.
   */
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
    if (!(this.#options.resolveUnknown ?? true) || !hasLookups(capture.lookups)) return;
    if (flushOpensTransaction(args.em)) capture.lookupsDeferred = true;
    else await this.#lookUp(args.em, capture, args.em.getTransactionContext());
  }

  /**
   * After a flush inside a transaction: park its refs under the root transaction. Outside any
   * transaction (`implicitTransactions: false`): apply them now.
   */
  async afterFlush(args: FlushEventArgs): Promise<void> {
    const capture = this.#captures.get(args.uow);
    this.#captures.delete(args.uow);
    if (capture?.emitted) return;
    await this.#collect(args.em, () => finishCapture(args.uow, capture));
  }

  /** `em.upsert` fires no flush: its entity is parked the same way (or applied, outside a transaction). */
  async afterUpsert(args: EventArgs<object>): Promise<void> {
    await this.#collect(args.em, () => upsertRefs(args.entity));
  }

  /** Parks the refs with the root transaction they belong to, or applies them when there is none. */
  async #collect(em: EventArgs<object>['em'], refsOf: () => Map<string, EntityRef>): Promise<void> {
    let refs: Map<string, EntityRef>;
    try {
      refs = refsOf();
    } catch (error) {
      this.#report(error, null);
      return;
    }
    const trx = em.getTransactionContext();
    if (trx) this.#park(trx, refs);
    else await this.#apply(refs, 'autocommit');
  }

  /**
   * A plain flush's own transaction has begun (`args.uow` set), before its first statement: its
   * lookups run now, in that transaction. Also remembers when a root transaction really
   * committed, for the case described at `beforeTransactionRollback`.
   */
  async afterTransactionStart(args: TransactionEventArgs): Promise<void> {
    const trx = args.transaction as KnexTransactionLike | undefined;
    if (trx && !trx.parentTransaction && trx.executionPromise) {
      trx.executionPromise.then(
        () => this.#committed.add(trx),
        () => {},
      );
    }
    const capture = args.uow ? this.#captures.get(args.uow) : undefined;
    if (capture?.lookupsDeferred) await this.#lookUp(args.em, capture, args.transaction);
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

  async #lookUp(em: EntityManager, capture: FlushCapture, ctx: Transaction | undefined): Promise<void> {
    try {
      await resolveLookups(em, capture, ctx);
    } catch (error) {
      this.#report(error, null);
    }
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
