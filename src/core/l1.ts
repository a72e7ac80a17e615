import { LRUCache } from 'lru-cache';
import { InvalidOptionError } from '../errors.js';

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
 * The per-process tier of decoded, frozen records (and cached root lists) in front of the shared
 * store. It never decides what is current: it holds what was read from the store and drops a key
 * as soon as anyone announces a change to it.
 *
 * The one subtle rule, at {@link set}: a read that raced an invalidation must not put what it read
 * into L1. Every invalidation gets a sequence number; a read notes the sequence when it begins
 * ({@link begin}), and at the end keeps only entries whose keys were not invalidated since. A
 * reset (a reconnect of the announcements, a gap in them) starts a new epoch: every read begun
 * before it keeps nothing.
 */
export class L1Tier {
  readonly #lru: LRUCache<string, Entry>;
  /** List generation key → the list entries held under it. */
  readonly #lists = new Map<string, Set<string>>();
  /** List entry key → its generation key (for LRU disposal). */
  readonly #listOf = new Map<string, string>();
  /** Key → sequence of its last invalidation, while some read that began before it is in flight. */
  readonly #invalidatedAt = new Map<string, number>();
  /** Sequence → how many reads began at it and are still in flight. */
  readonly #active = new Map<number, number>();
  #seq = 0;
  #epoch = 0;
  #live: () => boolean;

  constructor(options: L1Options, live: () => boolean) {
    const max = positive(options.maxEntries, 'maxEntries', 10_000)!;
    const maxSize = positive(options.maxBytes, 'maxBytes', 64 * 1024 * 1024)!;
    const ttl = positive(options.ttl, 'ttl', undefined);
    this.#live = live;
    this.#lru = new LRUCache<string, Entry>({
      max,
      maxSize,
      ...(ttl === undefined ? {} : { ttl }),
      dispose: (_value, key) => this.#forgetList(key),
    });
  }

  /** Entries held. */
  get size(): number {
    return this.#lru.size;
  }

  /** The record at `key`: the record, `null` for a cached "not found", `undefined` when not held. */
  get(key: string): object | null | undefined {
    if (!this.#live()) return undefined;
    const entry = this.#lru.get(key);
    return entry === NOT_FOUND_ENTRY ? null : entry;
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

  /** Holds a record read by the read of `token` (frozen; `null` for "not found"), unless an invalidation of `key` raced it. */
  set(token: L1Token, key: string, record: object | null, size: number): void {
    if (this.#raced(token, key)) return;
    this.#lru.set(key, record === null ? NOT_FOUND_ENTRY : deepFreeze(record), { size: size + key.length });
  }

  /** A cached list's rows, or `undefined` when not held. */
  getList(entryKey: string): readonly unknown[] | undefined {
    if (!this.#live()) return undefined;
    return this.#lru.get(entryKey) as readonly unknown[] | undefined;
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
    // Set first: replacing an entry disposes the old one, which unlinks it from the index.
    this.#lru.set(entryKey, deepFreeze([...rows]), {
      size: size + entryKey.length,
      ...(ttl === undefined ? {} : { ttl }),
    });
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
      this.#lru.delete(key);
      const lists = this.#lists.get(key);
      if (lists) for (const entryKey of [...lists]) this.#lru.delete(entryKey);
    }
  }

  /** Drops everything; reads in flight keep nothing. */
  reset(): void {
    this.#epoch += 1;
    this.#lru.clear();
    this.#lists.clear();
    this.#listOf.clear();
  }

  #raced(token: L1Token, key: string): boolean {
    if (token.epoch !== this.#epoch || !this.#live()) return true;
    const at = this.#invalidatedAt.get(key);
    return at !== undefined && at > token.seq;
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
