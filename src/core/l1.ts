import { InvalidOptionError } from '../errors.js';
import type { Pk } from '../strategy/pk.js';

/** Options of the per-process L1 tier (`new InstanceCache(strategy, { l1: {…} })`). */
export interface L1Options {
  /** Most entries held (records and cached lists). Default 10,000. */
  maxEntries?: number;
  /**
   * Most bytes held, counted as the length of each entry's JSON plus its key. Default 64 MiB.
   * Least recently used entries go first when either bound is reached.
   */
  maxBytes?: number;
  /**
   * Longest an entry is served, in ms. Default: none — entries leave on invalidation (announced by
   * the store to every process), on a reset, or by LRU.
   */
  ttl?: number;
}

/** What {@link L1Tier.begin} hands a read: entries it finds are kept only if nothing raced it. */
export interface L1Token {
  readonly seq: number;
  readonly epoch: number;
}

/** The L1 value of "no such instance". */
const NOT_FOUND_ENTRY = Symbol('not found');
type Entry = object | typeof NOT_FOUND_ENTRY;

/**
 * Freezes a decoded record and the plain objects and arrays inside it: L1 hands the same object
 * to every request, so a resolver that mutated it would change what others read. Dates, Buffers
 * and other class instances are not plain data and are left as they are (a frozen Buffer throws).
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  const proto = Object.getPrototypeOf(value);
  if (Array.isArray(value)) {
    for (const item of value) deepFreeze(item);
  } else if (proto === Object.prototype || proto === null) {
    for (const item of Object.values(value)) deepFreeze(item);
  } else {
    return value;
  }
  return Object.freeze(value);
}

function positive(value: number | undefined, name: string, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidOptionError(
      `InstanceCache: options.l1.${name} must be a positive integer, got ${String(value)}`,
      {
        context: { option: `l1.${name}` },
      },
    );
  }
  return value;
}

/**
 * One entry of the LRU list: a record (in its model version's table, by pk) or a cached list.
 * A class, so that every entry has the same shape.
 */
class Node {
  prev: Node | null = null;
  next: Node | null = null;
  constructor(
    readonly key: string,
    /** The record table it is in (by pk), or `null` for a cached list. */
    readonly table: Map<Pk, Node> | null,
    readonly pk: Pk,
    readonly value: Entry,
    readonly size: number,
    /** When it stops being served (the clock's ms), or 0 for never. */
    readonly expires: number,
  ) {}
}

/** The records of one model version in L1, by normalised pk: what {@link L1Tier.records} hands out. */
export type L1Records = Map<Pk, Node>;

/**
 * The per-process tier of decoded, frozen records (and cached root lists) in front of the shared
 * store. It never decides what is current: it holds what was read from the store and drops a key
 * as soon as anyone announces a change to it.
 *
 * The one subtle rule, at {@link set}: a read that raced an invalidation must not put what it read
 * into L1. Every invalidation gets a sequence number; a read notes the sequence when it begins
 * ({@link begin}), and at the end keeps only entries whose keys were not invalidated since. A
 * reset (a reconnect of the announcements, a gap in them) starts a new epoch: every read begun
 * before it keeps nothing.
 *
 * Records are found by pk in their model version's table (a read of a warm request looks up
 * hundreds: a number key costs a fraction of hashing a freshly built key string); announcements
 * name store keys, which an index by key resolves. One LRU order and one pair of bounds cover
 * every table and the lists.
 */
export class L1Tier {
  /** Every entry by its store key (announcements name keys). */
  readonly #byKey = new Map<string, Node>();
  /** Record tables by key prefix (a model version's `keyPrefix`). */
  readonly #tables = new Map<string, L1Records>();
  /** List generation key → the list entries held under it. */
  readonly #lists = new Map<string, Set<string>>();
  /** List entry key → its generation key. */
  readonly #listOf = new Map<string, string>();
  /** Key → sequence of its last invalidation, while some read that began before it is in flight. */
  readonly #invalidatedAt = new Map<string, number>();
  /** Sequence → how many reads began at it and are still in flight. */
  readonly #active = new Map<number, number>();
  /** Least recently used end of the LRU list, and most recently used end. */
  #oldest: Node | null = null;
  #newest: Node | null = null;
  #bytes = 0;
  #seq = 0;
  #epoch = 0;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #ttl: number | undefined;
  readonly #live: () => boolean;
  readonly #now: () => number;

  /** `now`: the clock of `ttl`s, in ms (for tests). */
  constructor(options: L1Options, live: () => boolean, now: () => number = () => performance.now()) {
    this.#maxEntries = positive(options.maxEntries, 'maxEntries', 10_000)!;
    this.#maxBytes = positive(options.maxBytes, 'maxBytes', 64 * 1024 * 1024)!;
    this.#ttl = positive(options.ttl, 'ttl', undefined);
    this.#live = live;
    this.#now = now;
  }

  /** Entries held. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Bytes held, as counted for `maxBytes`. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The table of the records under `prefix` (a model version's key prefix), for {@link get} and {@link set}. */
  records(prefix: string): L1Records {
    let table = this.#tables.get(prefix);
    if (!table) {
      table = new Map();
      this.#tables.set(prefix, table);
    }
    return table;
  }

  /** The record of `pk` in `table`: the record, `null` for a cached "not found", `undefined` when not held. */
  get(table: L1Records, pk: Pk): object | null | undefined {
    const node = table.get(pk);
    if (node === undefined || !this.#live()) return undefined;
    const value = this.#use(node);
    return value === NOT_FOUND_ENTRY ? null : (value as object | undefined);
  }

  /** Marks the start of a read whose results may enter L1. Pair with {@link end}. */
  begin(): L1Token {
    const token = { seq: this.#seq, epoch: this.#epoch };
    this.#active.set(token.seq, (this.#active.get(token.seq) ?? 0) + 1);
    return token;
  }

  /** The read that began with `token` is over. */
  end(token: L1Token): void {
    const left = (this.#active.get(token.seq) ?? 1) - 1;
    if (left > 0) this.#active.set(token.seq, left);
    else this.#active.delete(token.seq);
    if (this.#active.size === 0) this.#invalidatedAt.clear();
    else if (this.#invalidatedAt.size > 4096) {
      const oldest = Math.min(...this.#active.keys());
      for (const [key, seq] of this.#invalidatedAt) if (seq <= oldest) this.#invalidatedAt.delete(key);
    }
  }

  /**
   * Holds the record of `pk` (stored at `key`) read by the read of `token` (frozen; `null` for
   * "not found"), unless an invalidation of `key` raced it.
   */
  set(token: L1Token, table: L1Records, pk: Pk, key: string, record: object | null, size: number): void {
    if (this.#raced(token, key)) return;
    const value = record === null ? NOT_FOUND_ENTRY : deepFreeze(record);
    this.#add(new Node(key, table, pk, value, size + key.length, this.#expiry(undefined)));
  }

  /** A cached list's rows, or `undefined` when not held. */
  getList(entryKey: string): readonly unknown[] | undefined {
    const node = this.#byKey.get(entryKey);
    if (node === undefined || !this.#live()) return undefined;
    return this.#use(node) as readonly unknown[] | undefined;
  }

  /** Holds a cached list, dropped when its generation key is invalidated (or after `ttl` ms). */
  setList(
    token: L1Token,
    generationKey: string,
    entryKey: string,
    rows: readonly unknown[],
    size: number,
    ttl?: number,
  ): void {
    if (this.#raced(token, generationKey)) return;
    if (
      !this.#add(
        new Node(entryKey, null, entryKey, deepFreeze([...rows]), size + entryKey.length, this.#expiry(ttl)),
      )
    )
      return;
    let entries = this.#lists.get(generationKey);
    if (!entries) {
      entries = new Set();
      this.#lists.set(generationKey, entries);
    }
    entries.add(entryKey);
    this.#listOf.set(entryKey, generationKey);
  }

  /** These keys changed: drop them (and the lists under a list generation key). */
  invalidate(keys: readonly string[]): void {
    this.#seq += 1;
    const tracking = this.#active.size > 0;
    for (const key of keys) {
      if (tracking) this.#invalidatedAt.set(key, this.#seq);
      const node = this.#byKey.get(key);
      if (node) this.#remove(node);
      const lists = this.#lists.get(key);
      if (lists) {
        for (const entryKey of [...lists]) {
          const entry = this.#byKey.get(entryKey);
          if (entry) this.#remove(entry);
        }
      }
    }
  }

  /** Drops everything; reads in flight keep nothing. */
  reset(): void {
    this.#epoch += 1;
    this.#byKey.clear();
    for (const table of this.#tables.values()) table.clear();
    this.#lists.clear();
    this.#listOf.clear();
    this.#oldest = null;
    this.#newest = null;
    this.#bytes = 0;
  }

  #raced(token: L1Token, key: string): boolean {
    if (token.epoch !== this.#epoch || !this.#live()) return true;
    const at = this.#invalidatedAt.get(key);
    return at !== undefined && at > token.seq;
  }

  #expiry(ttl: number | undefined): number {
    const ms = ttl ?? this.#ttl;
    return ms === undefined ? 0 : this.#now() + ms;
  }

  /** The value of a held entry, now the most recently used; `undefined` (and dropped) once expired. */
  #use(node: Node): Entry | undefined {
    if (node.expires !== 0 && node.expires <= this.#now()) {
      this.#remove(node);
      return undefined;
    }
    if (node !== this.#newest) {
      this.#unlink(node);
      this.#append(node);
    }
    return node.value;
  }

  /**
   * Adds an entry (replacing the one at its key) and evicts the least recently used beyond the
   * bounds; false when the entry is larger than the tier (not held).
   */
  #add(node: Node): boolean {
    // Larger than the whole tier: not held (as before, and it would evict everything else).
    if (node.size > this.#maxBytes) return false;
    const previous = this.#byKey.get(node.key);
    if (previous) this.#remove(previous);
    this.#byKey.set(node.key, node);
    node.table?.set(node.pk, node);
    this.#bytes += node.size;
    this.#append(node);
    // The new entry is the most recent and fits on its own: only older ones go.
    while (this.#oldest !== null && (this.#byKey.size > this.#maxEntries || this.#bytes > this.#maxBytes)) {
      this.#remove(this.#oldest);
    }
    return true;
  }

  #remove(node: Node): void {
    if (this.#byKey.get(node.key) !== node) return;
    this.#byKey.delete(node.key);
    node.table?.delete(node.pk);
    this.#bytes -= node.size;
    this.#unlink(node);
    if (node.table === null) this.#forgetList(node.key);
  }

  #append(node: Node): void {
    node.prev = this.#newest;
    node.next = null;
    if (this.#newest) this.#newest.next = node;
    else this.#oldest = node;
    this.#newest = node;
  }

  #unlink(node: Node): void {
    if (node.prev) node.prev.next = node.next;
    else if (this.#oldest === node) this.#oldest = node.next;
    if (node.next) node.next.prev = node.prev;
    else if (this.#newest === node) this.#newest = node.prev;
    node.prev = null;
    node.next = null;
  }

  #forgetList(entryKey: string): void {
    const generationKey = this.#listOf.get(entryKey);
    if (generationKey === undefined) return;
    this.#listOf.delete(entryKey);
    const entries = this.#lists.get(generationKey);
    entries?.delete(entryKey);
    if (entries?.size === 0) this.#lists.delete(generationKey);
  }
}
