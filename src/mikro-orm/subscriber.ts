import { AsyncLocalStorage } from 'node:async_hooks';
import type {
  EntityManager,
  EventArgs,
  EventSubscriber,
  FlushEventArgs,
  Transaction,
  TransactionEventArgs,
  UnitOfWork,
} from '@mikro-orm/core';
import type { UpdateSummary } from '../core/instance-cache.js';
import { InvalidOptionError } from '../errors.js';
import { type CascadeBatch, type CascadeRunner, inlineRunner } from '../queue/runners.js';
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
/** A target's `update` result, with `failed` read as 0 when the target does not report it. */
function withFailed(result: unknown): UpdateSummary {
  const summary = (result ?? {}) as Partial<UpdateSummary>;
  return {
    refreshed: 0,
    deleted: 0,
    unchanged: 0,
    skipped: 0,
    levels: 0,
    ...summary,
    failed: summary.failed ?? 0,
  };
}

/** What commits made inside one {@link CacheSubscriber.suspend} call changed, until it ends. */
interface Suspension {
  readonly refs: Map<string, EntityRef>;
  readonly journalIds: string[];
  ended: boolean;
}

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
 * subscriber that throws in `afterTransactionCommit` stops the ones after it. With the default
 * (inline) runner the cascade is awaited, so `em.flush()` and `em.transactional()` resolve after
 * the cache was refreshed; the `runner` option moves it elsewhere (see the README, "Where the
 * cascade runs"), and {@link CacheSubscriber.suspend} holds it back during a bulk load.
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
  /** What a root transaction commits, taken (and journaled) at `beforeTransactionCommit`. */
  readonly #committing = new WeakMap<object, { refs: Map<string, EntityRef>; journalId?: string }>();
  readonly #runner: CascadeRunner;
  /** The suspension the current async context runs in, if any (see `suspend`). */
  readonly #suspension = new AsyncLocalStorage<Suspension>();

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
    const trigger = (batch: CascadeBatch) => this.#triggers.get(batch) ?? 'commit';
    this.#runner =
      options.runner ??
      inlineRunner(
        {
          update: async (refs, updateOptions) => withFailed(await this.#target().update(refs, updateOptions)),
        },
        {
          journal: options.journal,
          onBatch: (batch, summary, duration) => {
            options.logger?.debug?.(
              `CacheSubscriber: refreshed ${batch.refs.length} refs after ${trigger(batch)}`,
              {
                refs: batch.refs.length,
                durationMs: duration,
              },
            );
            options.onBatch?.({ refs: batch.refs, trigger: trigger(batch) }, summary, duration);
          },
          onError: (error, batch) => this.#report(error, { refs: batch.refs, trigger: trigger(batch) }),
        },
      );
  }

  /** How each batch handed to the default runner came about (for `onBatch` / `onError`). */
  readonly #triggers = new WeakMap<CascadeBatch, InvalidationBatch['trigger']>();

  /** The runner the cascades go to (for `drain()` on shutdown). */
  get runner(): CascadeRunner {
    return this.#runner;
  }

  /**
   * Runs `fn` (a bulk import, a fixture load) with the refresh of each commit held back, then
   * refreshes once: every commit `fn` made, one batch, its refs de-duplicated (one `update` call
   * with the inline runner, one job with the queue). drf-cached-instances' `_delay_cache`.
   *
   * - Only commits made by `fn` (in its async context: what it calls and awaits) are held back;
   *   writes of concurrent requests are refreshed as usual. A nested `suspend` joins the outer one.
   * - A transaction that rolls back inside `fn` adds nothing; one that commits adds its refs once
   *   it has committed, as it would be refreshed otherwise.
   * - The batch is handed to the runner when `fn` settles, also when it throws (what it committed
   *   before the throw is in the database): `suspend` resolves (or rejects with `fn`'s error) after
   *   that, so with the inline runner the next read is fresh. Writes `fn` started and did not await
   *   are refreshed on their own when they commit.
   * - Meanwhile, reads anywhere serve what was cached before `fn`'s commits, until the end.
   * - With a `journal`, each commit still writes its entry in its transaction, so a process that
   *   dies during the bulk load leaves every committed change to recovery; the final batch marks
   *   them all applied. A bulk load that takes longer than the journal's `grace` lets other
   *   processes' recovery apply its early entries before the end (correct, only not saved work).
   *
   * @example
   * await subscriber.suspend(async () => {
   *   for (const chunk of chunks) {
   *     const em = orm.em.fork();
   *     for (const row of chunk) em.create(Choice, row);
   *     await em.flush();
   *   }
   * });
   */
  suspend<T>(fn: () => Promise<T>): Promise<T> {
    if (typeof fn !== 'function') {
      throw new InvalidOptionError(
        `CacheSubscriber.suspend(fn): expected a function running the bulk load, got ${Object.prototype.toString.call(fn)}`,
      );
    }
    const outer = this.#suspension.getStore();
    if (outer && !outer.ended) return fn();
    const suspension: Suspension = { refs: new Map(), journalIds: [], ended: false };
    return this.#suspension.run(suspension, async () => {
      try {
        return await fn();
      } finally {
        // Ended first: the batch below (and any commit fn left running) goes to the runner.
        suspension.ended = true;
        await this.#apply(suspension.refs, 'bulk', suspension.journalIds);
      }
    });
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
    if (trx) {
      this.#park(trx, refs);
      return;
    }
    // A write outside any transaction has committed already: journal it now (a crash before this
    // line loses it; use transactions for writes that must never be lost), then apply it.
    let journalId: string | undefined;
    const modelRefs = this.#options.journal && refs.size > 0 ? this.#modelRefs(refs) : [];
    if (modelRefs.length > 0) {
      try {
        journalId = await this.#options.journal!.record(em, undefined, modelRefs);
      } catch (error) {
        this.#report(error, null);
      }
    }
    await this.#apply(refs, 'autocommit', journalId === undefined ? [] : [journalId]);
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
   * The outermost transaction is about to commit: take what it changed and, with a journal,
   * write the journal entry IN this transaction, so that it commits (or rolls back) with the
   * change. A failure to write it fails the commit: a commit must not outlive the record of what
   * it changed. Nothing is applied here: the commit may still fail.
   */
  async beforeTransactionCommit(args: TransactionEventArgs): Promise<void> {
    if (!args.transaction) return;
    const root = rootOf(args.transaction);
    const refs = this.#take(args);
    const entry: { refs: Map<string, EntityRef>; journalId?: string } = { refs };
    this.#committing.set(root, entry);
    const journal = this.#options.journal;
    if (!journal || refs.size === 0) return;
    const modelRefs = this.#modelRefs(refs);
    if (modelRefs.length > 0) entry.journalId = await journal.record(args.em, args.transaction, modelRefs);
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

  /** Drops what was parked under a transaction that rolled back (its journal entry rolled back too). */
  afterTransactionRollback(args: TransactionEventArgs): void {
    if (args.uow) this.#captures.delete(args.uow);
    if (args.transaction) {
      const root = rootOf(args.transaction);
      this.#pending.delete(root);
      this.#committing.delete(root);
    }
  }

  async #settle(args: TransactionEventArgs): Promise<void> {
    const root = args.transaction ? rootOf(args.transaction) : undefined;
    // Taken and deleted before awaiting anything, so a second event for the same commit finds nothing.
    const committing = root ? this.#committing.get(root) : undefined;
    if (root) this.#committing.delete(root);
    const refs = committing?.refs ?? new Map<string, EntityRef>();
    for (const [key, ref] of this.#take(args)) refs.set(key, ref);
    const journalId = committing?.journalId;
    await this.#apply(refs, 'commit', journalId === undefined ? [] : [journalId]);
  }

  /**
   * Takes what a commit applies: the refs parked under its root transaction and, for a plain
   * flush (`args.uow`), the flush's own capture. Each is taken once (parked refs are deleted, the
   * capture is marked emitted), whichever commit event comes first.
   */
  #take(args: TransactionEventArgs): Map<string, EntityRef> {
    const refs = new Map<string, EntityRef>();
    if (args.transaction) {
      const root = rootOf(args.transaction);
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
    return refs;
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

  /** The model refs of entity refs: mapped by `modelName`, and only models the target caches. */
  #modelRefs(refs: Map<string, EntityRef>): Ref[] {
    const target = this.#target();
    const known = target.strategy ? new Set(target.strategy.modelNames) : null;
    const out: Ref[] = [];
    for (const { entity, pk } of refs.values()) {
      const model = this.#options.modelName ? this.#options.modelName(entity) : entity;
      if (model !== null && (known === null || known.has(model))) out.push({ model, pk });
    }
    return out;
  }

  /**
   * Hands a commit's refs to the runner (awaited inline; queued otherwise), or, inside
   * {@link suspend}, adds them to the suspension's batch. Never throws.
   */
  async #apply(
    refs: Map<string, EntityRef>,
    trigger: InvalidationBatch['trigger'],
    journalIds: readonly string[],
  ): Promise<void> {
    const suspended = this.#suspension.getStore();
    if (suspended && !suspended.ended) {
      for (const [key, ref] of refs) suspended.refs.set(key, ref);
      suspended.journalIds.push(...journalIds);
      return;
    }
    if (refs.size === 0) return;
    let batch: CascadeBatch | null = null;
    try {
      const out = this.#modelRefs(refs);
      if (out.length === 0) return;
      batch = { refs: out, journalIds, updateOnly: this.#options.updateOnly ?? false };
      this.#triggers.set(batch, trigger);
      await this.#runner.submit(batch);
    } catch (error) {
      this.#report(error, batch && { refs: batch.refs, trigger });
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
