import { defineEntity, type EntityManager, type EntityMetadata, p, type Transaction } from '@mikro-orm/core';
import { newGeneration } from '../core/entry.js';
import type { UpdateOptions, UpdateSummary } from '../core/instance-cache.js';
import { ackScores, addToAckSet, type CacheStore } from '../core/store.js';
import { InvalidOptionError, JournalError } from '../errors.js';
import type { Ref } from '../strategy/define.js';
import type { MikroOrmLike } from './from-mikro-orm.js';

/**
 * The journal table: one row per committed transaction that the cache must refresh, written in
 * that transaction. Add it to your entities (`MikroORM.init({ entities: [..., CacheJournalEntry] })`)
 * so that `orm.schema.updateSchema()` or your migrations create `gci_cache_journal`:
 *
 * | column | type | meaning |
 * |---|---|---|
 * | `id` | varchar(64) pk | unique id (no sequence: written before the commit) |
 * | `refs` | text | the `{ model, pk }` refs to refresh, JSON |
 * | `created_at` | bigint | µs since the epoch, when written |
 * | `applied_at` | bigint null | µs since the epoch, when marked applied (the refresh had landed) |
 * | `attempts` | int | how often a process tried to apply it |
 * | `claimed_until` | bigint null | µs since the epoch: a process applying it has it until then |
 *
 * Times are microseconds so that marks made within one millisecond still order (the store's
 * position is compared with them).
 */
export const CacheJournalEntry = defineEntity({
  name: 'GciCacheJournalEntry',
  tableName: 'gci_cache_journal',
  properties: {
    id: p.string().primary().length(64),
    refs: p.text(),
    createdAt: p.bigint('number').index(),
    appliedAt: p.bigint('number').nullable().index(),
    attempts: p.integer().default(0),
    claimedUntil: p.bigint('number').nullable(),
  },
});

/** What a journal needs of the cache it keeps correct: an `InstanceCache` fits. */
export interface JournalCache {
  readonly strategy: {
    readonly versions: readonly string[];
    readonly namespace: string;
    readonly modelNames: readonly string[];
  };
  readonly store: CacheStore;
  update(refs: readonly Ref[], options?: UpdateOptions): Promise<UpdateSummary>;
  dropVersion(version: string): Promise<number>;
  dropModel(model: string): Promise<number>;
}

/** Options of {@link CacheJournal}. */
export interface CacheJournalOptions {
  /**
   * How long an entry may stay unapplied before any process applies it in place of the one that
   * wrote it (which may have died between COMMIT and its refresh). Default 10,000 ms.
   */
  grace?: number;
  /** How often each process runs {@link CacheJournal.recover}. Default 5,000 ms. */
  interval?: number;
  /**
   * How long applied entries are kept: a store restored from a snapshot (or a replica that lagged)
   * is repaired by replaying what was applied since its position, as long as the journal still
   * holds it; an older gap drops the cached versions instead. Default 900,000 ms (15 minutes).
   */
  retention?: number;
  /**
   * An entry that could not be applied for this long (the store was down): the cached records of
   * every model it names are dropped, in every version, rather than left stale. Default 60,000 ms.
   */
  maxLag?: number;
  /** Receives what recovery did. Default: nothing. */
  logger?: {
    warn?(message: string, context?: Record<string, unknown>): void;
    info?(message: string, context?: Record<string, unknown>): void;
  };
}

/** What one {@link CacheJournal.recover} pass did. */
export interface RecoveryReport {
  /** Entries left behind (or replayed) that this pass applied. */
  applied: number;
  /** Entries that could not be applied for longer than `maxLag`: their models were dropped. */
  dropped: number;
  /** Applied entries replayed because the store went back in time. */
  replayed: number;
  /** Whether the store was found behind the journal (restored from a snapshot, lagging replica). */
  storeWentBack: boolean;
  /** Whether the cached versions were dropped because the gap was older than the journal keeps. */
  droppedAll: boolean;
  /** Applied entries pruned. */
  pruned: number;
}

interface Knex {
  (table: string): KnexQuery;
  queryBuilder(): KnexQuery;
}
interface KnexQuery {
  insert(row: Record<string, unknown>): KnexQuery;
  into(table: string): KnexQuery;
  select(...columns: string[]): KnexQuery;
  from(table: string): KnexQuery;
  where(column: string, operator: string, value: unknown): KnexQuery;
  where(callback: (query: KnexQuery) => void): KnexQuery;
  whereNull(column: string): KnexQuery;
  whereNotNull(column: string): KnexQuery;
  orWhere(column: string, operator: string, value: unknown): KnexQuery;
  orWhereNull(column: string): KnexQuery;
  whereIn(column: string, values: readonly unknown[]): KnexQuery;
  update(values: Record<string, unknown>): KnexQuery;
  increment(column: string, by: number): KnexQuery;
  delete(): KnexQuery;
  orderBy(column: string, direction: 'asc' | 'desc'): KnexQuery;
  limit(n: number): KnexQuery;
  max(column: string, options: { as: string }): KnexQuery;
  countDistinct(columns: Record<string, string>): KnexQuery;
  distinct(column: string): KnexQuery;
}
interface SqlConnection {
  getKnex(): Knex;
  execute(query: unknown, params: unknown[], method: 'all' | 'run', ctx?: Transaction): Promise<unknown>;
}

type JournalColumn = 'id' | 'refs' | 'createdAt' | 'appliedAt' | 'attempts' | 'claimedUntil';

type Row = { id: string; refs: string; created_at: number | string; applied_at: number | string | null };

// The store's record of the marks (see CacheJournal): one sorted-set member per batch of entries
// marked applied, scored by the batch's applied_at; and one member per recovery pass.
const ACKS_KEY = '~journal-acks';
const BEATS_KEY = '~journal-beats';
// How long after a batch was marked applied the store must show its ack; shorter gaps are an ack
// still on its way. (µs, like every time in the journal)
const ACK_SETTLE = 5_000_000;
// Acks and beats are kept this much longer than the journal keeps applied entries.
const ACK_KEEP_MARGIN = 60_000_000;

let lastMicros = 0;
/** Microseconds since the epoch, strictly increasing within this process. */
function nowMicros(): number {
  lastMicros = Math.max(lastMicros + 1, Math.round((performance.timeOrigin + performance.now()) * 1000));
  return lastMicros;
}

function positive(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(
      `CacheJournal: options.${name} must be a positive number of milliseconds, got ${String(value)}`,
      {
        context: { option: name },
      },
    );
  }
  return value;
}

/**
 * The durable journal of what each transaction must refresh (an outbox): written in the SAME
 * database transaction as the change, applied after the commit, marked applied once every write
 * of the refresh landed in the store. So:
 *
 * - a process that dies between COMMIT and its refresh leaves the entry; any process applies it
 *   after {@link CacheJournalOptions.grace} (recovery runs every `interval`); applying twice
 *   changes nothing;
 * - a refresh the store refused (it was down) stays in the journal and is retried; one that
 *   cannot be applied for `maxLag` drops the cached records of its models instead;
 * - the store's position (the newest applied entry it has acknowledged) is written to the store
 *   itself; a store that goes back in time (restored from a snapshot, a lagging replica promoted)
 *   shows an older position than the journal, and the entries applied since are replayed — or, if
 *   the journal no longer reaches that far back, every cached version is dropped.
 *
 * Used by `CacheSubscriber` (`journal` option). Call {@link start} once per process.
 */
export class CacheJournal {
  readonly #orm: MikroOrmLike;
  readonly #cache: JournalCache;
  readonly #grace: number;
  readonly #interval: number;
  readonly #retention: number;
  readonly #maxLag: number;
  readonly #logger: CacheJournalOptions['logger'];
  readonly #table: string;
  readonly #columns: Record<JournalColumn, string>;
  readonly #toMark = new Set<string>();
  #marking: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #recovering: Promise<RecoveryReport> | undefined;
  #next: Promise<RecoveryReport> | undefined;
  /** This journal's part of the members it adds to the ack and beat sets. */
  readonly #member = newGeneration();
  /** The applied_at of the batches this process acked in the last ACK_SETTLE, ascending. */
  #recentAcks: number[] = [];
  /**
   * The store's `connectionEpoch` when the whole window was last checked ack by ack; `null`
   * before the first check. A restore reaches a live process as a reconnect.
   */
  #exactEpoch: number | undefined | null = null;
  #closed = false;
  #unsubscribe: (() => void) | undefined;

  constructor(orm: MikroOrmLike, cache: JournalCache, options: CacheJournalOptions = {}) {
    this.#orm = orm;
    this.#cache = cache;
    this.#grace = positive(options.grace, 'grace', 10_000) * 1000;
    this.#interval = positive(options.interval, 'interval', 5_000);
    this.#retention = positive(options.retention, 'retention', 900_000) * 1000;
    this.#maxLag = positive(options.maxLag, 'maxLag', 60_000) * 1000;
    this.#logger = options.logger;
    const meta = orm.getMetadata().find(CacheJournalEntry.meta.className) as EntityMetadata | undefined;
    if (!meta) {
      throw new InvalidOptionError(
        'CacheJournal: the ORM does not know CacheJournalEntry; add it to MikroORM.init({ entities }) and create its table (orm.schema.updateSchema(), or a migration)',
      );
    }
    this.#table = meta.tableName;
    const column = (name: JournalColumn) => meta.properties[name]!.fieldNames[0]!;
    this.#columns = {
      id: column('id'),
      refs: column('refs'),
      createdAt: column('createdAt'),
      appliedAt: column('appliedAt'),
      attempts: column('attempts'),
      claimedUntil: column('claimedUntil'),
    };
  }

  /**
   * Writes an entry for `refs` inside `ctx`, the transaction being committed (or on its own, for
   * a write made outside any transaction); resolves its id.
   * Rejects (and so fails the commit) when the row cannot be written: a commit must not outlive
   * the record of what it changed.
   */
  async record(em: EntityManager, ctx: Transaction | undefined, refs: readonly Ref[]): Promise<string> {
    const id = `${Date.now().toString(36)}-${newGeneration()}`;
    const c = this.#columns;
    const connection = em.getConnection() as unknown as SqlConnection;
    const query = connection
      .getKnex()
      .queryBuilder()
      .insert({
        [c.id]: id,
        [c.refs]: JSON.stringify(refs.map(({ model, pk }) => ({ model, pk }))),
        [c.createdAt]: nowMicros(),
        [c.attempts]: 0,
      })
      .into(this.#table);
    try {
      await connection.execute(query, [], 'run', ctx);
    } catch (error) {
      throw new JournalError(
        `CacheJournal: could not write the journal entry in the transaction: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    return id;
  }

  /**
   * The entry's refresh landed in the store: mark it applied. Marks are written in batches (one
   * UPDATE, then the store's position), a moment later; an entry whose mark is lost in a crash is
   * applied again by recovery, which changes nothing.
   */
  applied(id: string): void {
    this.#toMark.add(id);
    this.#marking ??= Promise.resolve().then(async () => {
      try {
        await this.#flushMarks();
      } finally {
        this.#marking = undefined;
      }
    });
  }

  /** Writes pending marks now. */
  async flush(): Promise<void> {
    await this.#marking;
    if (this.#toMark.size > 0) await this.#flushMarks();
  }

  /**
   * Starts recovery in this process: a pass now, then every `interval`, and one whenever the
   * store's announcements reconnect (a restarted store is checked at once). Idempotent.
   */
  start(): this {
    if (this.#timer || this.#closed) return this;
    // A failed pass (the store or the database is still coming back) is tried again soon, at
    // 100 ms doubling up to `interval`, rather than only at the next interval.
    let retryIn = 100;
    const run = () => {
      this.recover().then(
        () => {
          retryIn = 100;
        },
        (error: unknown) => {
          this.#logger?.warn?.(`CacheJournal: recovery failed: ${(error as Error).message}`, { error });
          if (this.#closed || retryIn >= this.#interval) return;
          clearTimeout(this.#retry);
          this.#retry = setTimeout(run, retryIn);
          this.#retry.unref();
          retryIn *= 2;
        },
      );
    };
    this.#timer = setInterval(run, this.#interval);
    this.#timer.unref();
    this.#unsubscribe = this.#cache.store.bus?.subscribe({ keys: () => {}, reset: run });
    run();
    return this;
  }

  /**
   * One recovery pass (also what the worker and the CLI run):
   *   1. check the store's position against the journal; replay or drop if it went back;
   *   2. apply entries left unapplied for longer than `grace` (claimed, so that two processes do
   *      not apply one entry at once); drop the models of those unapplied for `maxLag`;
   *   3. prune applied entries older than `retention` (the newest one is always kept).
   */
  recover(): Promise<RecoveryReport> {
    if (this.#recovering) {
      // The running pass may have read the store before what prompted this call (a reconnect):
      // one more pass follows it, shared by every call made meanwhile.
      this.#next ??= this.#recovering
        .catch(() => {})
        .then(() => {
          this.#next = undefined;
          return this.recover();
        });
      return this.#next;
    }
    this.#recovering = this.#recover().finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering;
  }

  /** Stops recovery and writes pending marks. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#retry);
    this.#timer = undefined;
    this.#unsubscribe?.();
    await this.#recovering?.catch(() => {});
    await this.#next?.catch(() => {});
    await this.flush();
  }

  async #recover(): Promise<RecoveryReport> {
    const report: RecoveryReport = {
      applied: 0,
      dropped: 0,
      replayed: 0,
      storeWentBack: false,
      droppedAll: false,
      pruned: 0,
    };
    await this.flush();
    await this.#checkAcks(report);
    await this.#applyLeftBehind(report);
    // A beat: evidence, in a store restored later, of how recent its snapshot is.
    const now = nowMicros();
    await this.#acks().add(BEATS_KEY, `${this.#member}:${now}`, now, now - this.#retention - ACK_KEEP_MARGIN);
    report.pruned = await this.#prune();
    if (report.applied || report.dropped || report.storeWentBack) {
      this.#logger?.info?.('CacheJournal: recovered', { ...report });
    }
    return report;
  }

  /**
   * Has the store lost writes it acknowledged? Every batch of marks left an ack in the store
   * (a member scored by its applied_at); the store must hold one for every distinct applied_at the
   * journal has between `now - retention` and `now - ACK_SETTLE`. A store restored from a snapshot
   * (or a lagging replica promoted) lacks the acks written after its snapshot, and nothing written
   * since can stand in for them (each batch has a member of its own: a later write cannot hide a
   * loss, as a single "position" could). The entries applied from the first missing ack on are
   * replayed; when the store shows nothing older in the window (the snapshot may predate what
   * the journal keeps), every cached version is dropped instead.
   *
   * Counting alone is not enough: acks whose applied_at the journal no longer holds (an entry
   * applied twice, or replayed, was marked again) still count, and can make up for lost ones. So
   * the first pass, and the first pass after each reconnect of the store (how a restore or a
   * failover reaches a live process), compare the window ack by ack; passes in between count.
   */
  async #checkAcks(report: RecoveryReport): Promise<void> {
    const now = nowMicros();
    const lo = now - this.#retention;
    const hi = now - ACK_SETTLE;
    const c = this.#columns;
    const inWindow = (query: KnexQuery) =>
      query.from(this.#table).where(c.appliedAt, '>=', lo).where(c.appliedAt, '<=', hi);
    const counted = (await this.#run(
      inWindow(this.#knex().queryBuilder().countDistinct({ n: c.appliedAt })),
      'all',
    )) as { n: number | string }[];
    const expected = Number(counted[0]?.n ?? 0);
    const acks = this.#acks();
    // This process's own acks need no settling: it awaited them.
    this.#recentAcks = this.#recentAcks.filter((at) => at > hi);
    const own = this.#recentAcks;
    let missing: number | undefined;
    if (own.length > 0) {
      const ownHeld = new Set(await acks.list(ACKS_KEY, own[0]!, now));
      missing = own.find((at) => !ownHeld.has(at));
    }
    const epoch = this.#cache.store.connectionEpoch;
    const exact = this.#exactEpoch === null || epoch !== this.#exactEpoch;
    if (expected > 0 && (exact || (await acks.count(ACKS_KEY, lo, hi)) < expected)) {
      const held = new Set(await acks.list(ACKS_KEY, lo, hi));
      const values = (
        (await this.#run(
          inWindow(this.#knex().queryBuilder().distinct(c.appliedAt)).orderBy(c.appliedAt, 'asc'),
          'all',
        )) as Record<string, number | string>[]
      ).map((row) => Number(Object.values(row)[0]));
      missing = values.find((at) => !held.has(at)) ?? missing;
    }
    this.#exactEpoch = epoch;
    if (missing === undefined) return;
    this.#recentAcks = [];
    // The store lost acknowledged writes.
    report.storeWentBack = true;
    const older =
      (await acks.count(ACKS_KEY, lo, missing - 1)) + (await acks.count(BEATS_KEY, lo, missing - 1));
    if (older === 0) {
      // Nothing shows that the store's snapshot is within what the journal keeps: forget everything
      // cached, and ack what the journal has, so that the store agrees with it again.
      for (const version of this.#cache.strategy.versions) await this.#cache.dropVersion(version);
      report.droppedAll = true;
      const all = (
        (await this.#run(
          this.#knex().queryBuilder().distinct(c.appliedAt).from(this.#table).where(c.appliedAt, '>=', lo),
          'all',
        )) as Record<string, number | string>[]
      ).map((row) => Number(Object.values(row)[0]));
      const stored = new Set(await acks.list(ACKS_KEY, lo, nowMicros()));
      for (const at of all) if (!stored.has(at)) await acks.add(ACKS_KEY, `${this.#member}:${at}`, at, lo);
    } else {
      // Unapplied again, and due at once (not counted as lagging: they were applied in time).
      const replayed = await this.#run(
        this.#knex()(this.#table)
          .where(c.appliedAt, '>=', missing)
          .update({ [c.appliedAt]: null, [c.claimedUntil]: null, [c.createdAt]: now - this.#grace - 1 }),
        'run',
      );
      report.replayed = affected(replayed);
    }
    this.#logger?.warn?.('CacheJournal: the store went back in time', {
      firstMissing: missing,
      replayed: report.replayed,
      droppedAll: report.droppedAll,
    });
  }

  async #applyLeftBehind(report: RecoveryReport): Promise<void> {
    const c = this.#columns;
    for (;;) {
      const now = nowMicros();
      const rows = (await this.#run(
        this.#knex()
          .queryBuilder()
          .select(c.id, c.refs, c.createdAt, c.appliedAt)
          .from(this.#table)
          .whereNull(c.appliedAt)
          .where(c.createdAt, '<=', now - this.#grace)
          .where((q) => q.whereNull(c.claimedUntil).orWhere(c.claimedUntil, '<', now))
          .orderBy(c.createdAt, 'asc')
          .limit(100),
        'all',
      )) as Row[];
      if (rows.length === 0) return;
      for (const row of rows) {
        // Claim it: only one process applies an entry at a time (twice would be harmless).
        const claimed = await this.#run(
          this.#knex()(this.#table)
            .where(c.id, '=', row.id)
            .whereNull(c.appliedAt)
            .where((q) => q.whereNull(c.claimedUntil).orWhere(c.claimedUntil, '<', now))
            .update({ [c.claimedUntil]: now + this.#grace }),
          'run',
        );
        if (affected(claimed) === 0) continue;
        await this.#run(this.#knex()(this.#table).where(c.id, '=', row.id).increment(c.attempts, 1), 'run');
        const refs = parseRefs(row.refs);
        if (Number(row.created_at) < now - this.#maxLag) {
          // Not applied for too long: drop what it concerns rather than risk it staying stale.
          for (const model of new Set(refs.map((ref) => ref.model))) {
            if (this.#cache.strategy.modelNames.includes(model)) await this.#cache.dropModel(model);
          }
          report.dropped += 1;
          this.applied(row.id);
          continue;
        }
        try {
          // Resumed: the process that left it may have written some levels and died before others.
          const summary = await this.#cache.update(refs, { resume: true });
          if (summary.failed === 0) {
            report.applied += 1;
            this.applied(row.id);
          }
        } catch (error) {
          this.#logger?.warn?.(
            `CacheJournal: entry ${row.id} could not be applied: ${(error as Error).message}`,
            { error },
          );
        }
      }
      await this.flush();
      if (rows.length < 100) return;
    }
  }

  async #prune(): Promise<number> {
    const c = this.#columns;
    const newest = (await this.#run(
      this.#knex().queryBuilder().max(c.appliedAt, { as: 'at' }).from(this.#table),
      'all',
    )) as { at: number | string | null }[];
    if (newest[0]?.at === null || newest[0]?.at === undefined) return 0;
    // The newest applied entry always stays: it tells a process that starts later what position
    // the store must show.
    const before = Math.min(nowMicros() - this.#retention, Number(newest[0].at));
    return affected(
      await this.#run(this.#knex()(this.#table).where(c.appliedAt, '<', before).delete(), 'run'),
    );
  }

  async #flushMarks(): Promise<void> {
    if (this.#toMark.size === 0) return;
    const ids = [...this.#toMark];
    this.#toMark.clear();
    const at = nowMicros();
    const c = this.#columns;
    try {
      for (let i = 0; i < ids.length; i += 500) {
        await this.#run(
          this.#knex()(this.#table)
            .whereIn(c.id, ids.slice(i, i + 500))
            .update({ [c.appliedAt]: at, [c.claimedUntil]: null }),
          'run',
        );
      }
    } catch (error) {
      // Left unapplied: recovery applies them again (which changes nothing).
      this.#logger?.warn?.(
        `CacheJournal: could not mark ${ids.length} entries applied: ${(error as Error).message}`,
        {
          error,
        },
      );
      return;
    }
    // The store's ack of this batch (see #checkAcks). Lost (the store is down): recovery will
    // find it missing and replay the batch, which changes nothing.
    await this.#acks()
      .add(ACKS_KEY, `${this.#member}:${at}`, at, at - this.#retention - ACK_KEEP_MARGIN)
      .then(() => {
        this.#recentAcks.push(at);
      })
      .catch((error: unknown) =>
        this.#logger?.warn?.(`CacheJournal: could not write the store's ack: ${(error as Error).message}`, {
          error,
        }),
      );
  }

  /** The ack and beat sets, in the cache's namespace. */
  #acks(): AckSet {
    return ackSetOf(this.#cache.store, `${this.#cache.strategy.namespace}:`);
  }

  #knex(): Knex {
    return (this.#orm.em.getConnection() as unknown as SqlConnection).getKnex();
  }

  #run(query: unknown, method: 'all' | 'run'): Promise<unknown> {
    return (this.#orm.em.getConnection() as unknown as SqlConnection).execute(query, [], method);
  }
}

/** The journal's sorted sets in the store: through `apply` where the store has it. */
interface AckSet {
  add(key: string, member: string, score: number, keepAfter: number): Promise<void>;
  count(key: string, min: number, max: number): Promise<number>;
  list(key: string, min: number, max: number): Promise<number[]>;
}

function ackSetOf(store: CacheStore, prefix: string): AckSet {
  if (store.apply) {
    const apply = store.apply.bind(store);
    return {
      async add(key, member, score, keepAfter) {
        await apply([{ type: 'ack', key: prefix + key, member, score, keepAfter }]);
      },
      async count(key, min, max) {
        const [n] = await apply([{ type: 'countAcks', key: prefix + key, min, max }]);
        return Number(n);
      },
      async list(key, min, max) {
        const [scores] = await apply([{ type: 'listAcks', key: prefix + key, min, max }]);
        return scores === '' ? [] : String(scores).split(',').map(Number);
      },
    };
  }
  // A store without conditional writes: the set as JSON in one value (as the memory store keeps
  // it), read, then written. Two processes adding at once may lose an ack, which costs a harmless
  // replay.
  const read = async (key: string): Promise<string | undefined> => (await store.getMany([prefix + key]))[0];
  const scores = async (key: string, min: number, max: number) => ackScores(await read(key), min, max);
  return {
    async add(key, member, score, keepAfter) {
      const value = addToAckSet(await read(key), member, score, keepAfter);
      await store.setMany([{ key: prefix + key, value }]);
    },
    async count(key, min, max) {
      return (await scores(key, min, max)).length;
    },
    list: scores,
  };
}

function affected(result: unknown): number {
  if (typeof result === 'number') return result;
  const r = result as { affectedRows?: number; changes?: number; rowCount?: number } | undefined;
  return r?.affectedRows ?? r?.changes ?? r?.rowCount ?? 0;
}

function parseRefs(text: string): Ref[] {
  try {
    const refs = JSON.parse(text) as unknown;
    if (Array.isArray(refs)) {
      return refs.filter(
        (ref): ref is Ref =>
          typeof ref?.model === 'string' && (typeof ref?.pk === 'number' || typeof ref?.pk === 'string'),
      );
    }
  } catch {
    // A corrupt row names nothing.
  }
  return [];
}
