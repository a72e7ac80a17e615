/**
 * The store protocol: how the cache reads, fills and refreshes records so that nothing loaded
 * before a committed write is ever served after that write's refresh. The read path
 * (`instance-cache.ts`), the cascade (`refresh.ts`) and cached root lists all go through this
 * module; nothing else talks to a store.
 *
 * Two implementations, chosen by the store:
 *
 * **Checked at write** (stores with `apply`: memory, Redis, Redis Cluster). One key per record
 * holds either the record or a marker (`~generation`). A warm read is one round trip of exactly
 * one key per record.
 * - A reader that misses takes the marker it read as its stamp (claiming a new one where the key
 *   is absent), loads, and fills with a check-and-set that lands only if the key still holds
 *   exactly that marker.
 * - A refresh (after a commit) first gives every key it refreshes a new unique token: a record
 *   keeps its data and stays readable, a marker is replaced by a new one. It then loads and writes
 *   only what changed, with a check-and-set against what it left. A later refresh replaces the
 *   token, so of two concurrent refreshes only the one that began last — and so loaded last —
 *   can write; a reader's fill stamped before the refresh began can never land. The one that
 *   lost the key does not leave it readable with the data both found: its failed write turns
 *   the record into the winner's marker, which the winner can still fill. A refresh that is over
 *   never leaves readable a record older than its own load.

 * - Tokens and markers are unique, so evicting or expiring any key costs a miss, never a stale
 *   record, and no value can come back (no ABA). What a refresh begins and what it writes is
 *   announced by the store atomically with the write, for every process's L1.
 *
 * **Checked at read** (any other keyv store). Each record key `K` has a generation entry `K:g`;
 * records are stored stamped with the generation their reader saw before loading, and a record is
 * served only while its stamp equals the current generation. A missing generation entry is a miss
 * (a new unique generation is written), never "generation zero". A refresh bumps the generation
 * before it loads, so of two concurrent refreshes the one whose bump lands last also loads last.
 *
 * Every method is one round trip to the store (the checked-at-read refresh start is two), counted
 * through {@link ProtocolHooks.roundTrip}. Methods reject when the store fails; the cache decides
 * what a failure means.
 */
import {
  encodeEntry,
  GENERATION_SUFFIX,
  isRecordText,
  MARKER_PREFIX,
  newGeneration,
  newMarker,
  readEntry,
  refreshTokenOf,
  withToken,
} from './entry.js';
import type { CacheStats } from './stats.js';
import type { CacheStore, StoreEntry, StoreOp } from './store.js';

/** Why a key missed, and what a fill of it must carry. */
export interface ReadMiss {
  /** The stamp a fill must carry; `undefined` when the key has none yet (claim one first). */
  readonly stamp: string | undefined;
  /** A record was there, stamped with an older generation (checked at read only). */
  readonly stale: boolean;
  /** Something this library did not write was there (the fill overwrites it). */
  readonly corrupt: boolean;
}

/**
 * Keys as read. Hits cost no allocation: `records[i]` is the stored record text (tag, maybe a
 * refresh token, JSON; see `entry.ts`) of key `i`, or `undefined`. `miss(i)` tells why key `i`
 * missed — also for a record that turns out unusable (another definition's, or corrupt).
 */
export interface ReadBatch {
  readonly records: readonly (string | undefined)[];
  miss(i: number): ReadMiss;
}

/** One loaded record to write, stamped with what its reader read. */
export interface Fill {
  readonly key: string;
  readonly stamp: string;
  readonly json: string;
  readonly ttl?: number;
}

/** What a refresh found before loading. */
export interface RefreshStart {
  /** The stored record per key, for change detection and the invalidator; `undefined` for a miss. */
  readonly current: readonly (string | undefined)[];
  /** What the refresh writes against, per key; `undefined`: nothing may be written. */
  readonly stamps: readonly (string | undefined)[];
  /** Keys the start itself invalidated (a marker replaced; every key, when checked at read). */
  readonly invalidated: readonly string[];
}

/** One outcome of a refresh: the record loaded for a key (its stored text). */
export interface RefreshWrite {
  readonly key: string;
  readonly stamp: string | undefined;
  readonly json: string;
  /** The record differs from the one found at the start of the refresh. */
  readonly changed: boolean;
  readonly ttl?: number;
}

/** A cached list entry as read. */
export interface ListRead {
  /** The list's JSON when the entry is valid; `undefined` for a miss. */
  readonly json: string | undefined;
  /** The stamp a fill of this list must carry. */
  readonly stamp: string;
}

/** What the protocol reports to the cache. */
export interface ProtocolHooks {
  /** One store round trip was made (for `storeRoundTrips`). */
  roundTrip(stats?: CacheStats): void;
  /** Expiry of markers and generation entries, in ms, or `undefined` for none. */
  readonly markerTtl: number | undefined;
}

/** The protocol operations; see the module comment. */
export interface StoreProtocol {
  /** True when fills are checked at write time (one key per record on a warm read). */
  readonly checksAtWrite: boolean;
  /** Reads records. */
  read(keys: readonly string[], stats?: CacheStats): Promise<ReadBatch>;
  /** Stamps for misses read without one. A key filled meanwhile comes back as a record. */
  claim(keys: readonly string[], stats?: CacheStats): Promise<ReadBatch>;
  /** Writes loaded records; which of them landed. */
  fill(fills: readonly Fill[], stats?: CacheStats): Promise<boolean[]>;
  /**
   * Refresh, before loading: the current records and what to write against. `always[i]`: the key
   * is loaded and written even when it holds no record (not `updateOnly`).
   */
  beginRefresh(
    keys: readonly string[],
    always: readonly boolean[],
    stats?: CacheStats,
  ): Promise<RefreshStart>;
  /**
   * Refresh, after loading: write what changed and invalidate the `alsoInvalidate` keys (list
   * generations), in one round trip (none when there is nothing to write). Resolves the keys it
   * wrote.
   */
  finishRefresh(
    writes: readonly RefreshWrite[],
    alsoInvalidate: readonly string[],
    stats?: CacheStats,
  ): Promise<readonly string[]>;
  /** Invalidates keys without loading (bulk changes, failed refreshes, list generations). */
  invalidate(keys: readonly string[], stats?: CacheStats): Promise<void>;
  /** Reads a cached list entry and the generation of its model's lists (claimed if absent). */
  readList(generationKey: string, entryKey: string, stats?: CacheStats): Promise<ListRead>;
  /** Writes a list entry stamped with the generation its reader saw; checked when read. */
  fillList(
    entryKey: string,
    stamp: string,
    json: string,
    ttl: number | undefined,
    stats?: CacheStats,
  ): Promise<void>;
}

/** The protocol a store supports: checked at write when it has `apply`, at read otherwise. */
export function createProtocol(store: CacheStore, hooks: ProtocolHooks): StoreProtocol {
  return store.apply ? checkedAtWrite(store, hooks) : checkedAtRead(store, hooks);
}

function stampedList(entry: string | undefined, stamp: string): ListRead {
  const json = entry === undefined ? undefined : readEntry(entry, stamp);
  return { json: typeof json === 'string' ? json : undefined, stamp };
}

function checkedAtWrite(store: CacheStore, hooks: ProtocolHooks): StoreProtocol {
  const apply = store.apply!.bind(store);
  const markerTtl = hooks.markerTtl;
  // The raw values as a batch: records are the values that are records; a miss's stamp is the
  // value itself (a marker, junk, or an unusable record: a fill must find exactly it).
  const batchOf = (values: (string | undefined)[]): ReadBatch => {
    const records: (string | undefined)[] = new Array(values.length);
    for (let i = 0; i < values.length; i += 1) {
      const value = values[i];
      records[i] = value !== undefined && isRecordText(value) ? value : undefined;
    }
    return {
      records,
      miss(i) {
        const value = values[i];
        if (value === undefined) return { stamp: undefined, stale: false, corrupt: false };
        return {
          stamp: value,
          stale: false,
          corrupt: !isRecordText(value) && !value.startsWith(MARKER_PREFIX),
        };
      },
    };
  };
  const claim = async (keys: readonly string[]): Promise<string[]> =>
    (await apply(
      keys.map((key) => ({ type: 'claim', key, value: newMarker(), ttl: markerTtl })),
    )) as string[];
  const markers = (keys: readonly string[]): StoreOp[] =>
    keys.map((key) => ({ type: 'set', key, value: newMarker(), ttl: markerTtl }));
  return {
    checksAtWrite: true,
    async read(keys, stats) {
      hooks.roundTrip(stats);
      return batchOf(await store.getMany(keys));
    },
    async claim(keys, stats) {
      hooks.roundTrip(stats);
      return batchOf(await claim(keys));
    },
    async fill(fills, stats) {
      if (fills.length === 0) return [];
      hooks.roundTrip(stats);
      const results = await apply(
        fills.map((fill) => ({
          type: 'fill',
          key: fill.key,
          expected: fill.stamp,
          value: fill.json,
          ttl: fill.ttl,
        })),
      );
      return results.map((landed) => landed === true);
    },
    async beginRefresh(keys, always, stats) {
      if (keys.length === 0) return { current: [], stamps: [], invalidated: [] };
      hooks.roundTrip(stats);
      // One token for this refresh's keys, unique, so no other refresh or fill can expect it. A
      // key without a record gets a new marker instead — except, under updateOnly, an absent key:
      // a reader that claims it from now on loads after the commit.
      const token = newGeneration();
      const fresh = keys.map(() => newMarker());
      const before = await apply(
        keys.map((key, i) => ({
          type: 'mark',
          key,
          token,
          marker: fresh[i]!,
          ttl: markerTtl,
          ifAbsent: always[i]!,
        })),
      );
      const current: (string | undefined)[] = [];
      const stamps: (string | undefined)[] = [];
      const invalidated: string[] = [];
      before.forEach((result, i) => {
        const value = result as string;
        const record = value !== '' && isRecordText(value);
        current.push(record ? value : undefined);
        stamps.push(record ? withToken(value, token) : value !== '' || always[i] ? fresh[i] : undefined);
        if (value !== '' && !record) invalidated.push(keys[i]!);
      });
      return { current, stamps, invalidated };
    },
    async finishRefresh(writes, alsoInvalidate, stats) {
      const ops = markers(alsoInvalidate);
      for (const write of writes) {
        // Only what changed is written, and only while this refresh's token (or marker) is still
        // there: otherwise a later refresh, which loaded later, owns the key. An unchanged record
        // keeps the token: its data is what a load made after the commit returned.
        //
        // A record that a later refresh marked still holds the data this refresh found, which is
        // older than its load: this refresh is over once it returns, but the later one may not
        // write for a while (or ever, if it finds its load unchanged). The fill's token turns that
        // record into the later refresh's marker (see `StoreOp`), so nothing older than this
        // refresh's load stays readable, and the later refresh can still write.
        if (write.changed && write.stamp !== undefined) {
          const token = refreshTokenOf(write.stamp);
          ops.push({
            type: 'fill',
            key: write.key,
            expected: write.stamp,
            value: write.json,
            ttl: write.ttl,
            announce: true,
            ...(token === undefined ? {} : { token }),
          });
        }
      }
      if (ops.length === 0) return [];
      hooks.roundTrip(stats);
      await apply(ops);
      return ops.map((op) => op.key);
    },
    async invalidate(keys, stats) {
      if (keys.length === 0) return;
      hooks.roundTrip(stats);
      await apply(markers(keys));
    },
    async readList(generationKey, entryKey, stats) {
      hooks.roundTrip(stats);
      const [generation, entry] = await store.getMany([generationKey, entryKey]);
      if (generation !== undefined) return stampedList(entry, generation);
      hooks.roundTrip(stats);
      const [claimed] = await claim([generationKey]);
      return stampedList(undefined, claimed!);
    },
    async fillList(entryKey, stamp, json, ttl, stats) {
      hooks.roundTrip(stats);
      await store.setMany([{ key: entryKey, value: encodeEntry(stamp, json), ttl }]);
    },
  };
}

function checkedAtRead(store: CacheStore, hooks: ProtocolHooks): StoreProtocol {
  const markerTtl = hooks.markerTtl;
  const bump = async (keys: readonly string[], stats?: CacheStats): Promise<string[]> => {
    const generations = keys.map(() => newGeneration());
    hooks.roundTrip(stats);
    await store.setMany(
      keys.map(
        (key, i): StoreEntry => ({ key: key + GENERATION_SUFFIX, value: generations[i]!, ttl: markerTtl }),
      ),
    );
    return generations;
  };
  const readPairs = async (keys: readonly string[], stats?: CacheStats): Promise<ReadBatch> => {
    hooks.roundTrip(stats);
    const values = await store.getMany(keys.flatMap((key) => [key, key + GENERATION_SUFFIX]));
    const records: (string | undefined)[] = [];
    const misses: ReadMiss[] = [];
    keys.forEach((_, i) => {
      const generation = values[2 * i + 1];
      const entry = values[2 * i];
      // No generation entry: never invalidated, or evicted. Whatever record is there cannot be
      // trusted (its stamp could be one a raced fill carried), so it is a miss.
      const json = generation === undefined || entry === undefined ? undefined : readEntry(entry, generation);
      records.push(typeof json === 'string' ? json : undefined);
      misses.push({
        stamp: generation,
        stale: json === null,
        corrupt: generation !== undefined && entry !== undefined && json === undefined,
      });
    });
    return { records, miss: (i) => misses[i]! };
  };
  return {
    checksAtWrite: false,
    read: readPairs,
    async claim(keys, stats) {
      // Not atomic: two readers may both write a generation. The later one wins and the other's
      // fill is then a miss at read time; a stale record can never match.
      const stamps = await bump(keys, stats);
      return {
        records: stamps.map(() => undefined),
        miss: (i) => ({ stamp: stamps[i], stale: false, corrupt: false }),
      };
    },
    async fill(fills, stats) {
      if (fills.length === 0) return [];
      hooks.roundTrip(stats);
      await store.setMany(
        fills.map((fill) => ({ key: fill.key, value: encodeEntry(fill.stamp, fill.json), ttl: fill.ttl })),
      );
      return fills.map(() => true);
    },
    async beginRefresh(keys, _always, stats) {
      if (keys.length === 0) return { current: [], stamps: [], invalidated: [] };
      const read = await readPairs(keys, stats);
      const stamps = await bump(keys, stats);
      return {
        current: read.records,
        stamps,
        invalidated: keys,
      };
    },
    async finishRefresh(writes, alsoInvalidate, stats) {
      const entries: StoreEntry[] = alsoInvalidate.map((key) => ({
        key: key + GENERATION_SUFFIX,
        value: newGeneration(),
        ttl: markerTtl,
      }));
      for (const write of writes) {
        if (write.stamp !== undefined) {
          entries.push({ key: write.key, value: encodeEntry(write.stamp, write.json), ttl: write.ttl });
        }
      }
      if (entries.length === 0) return [];
      hooks.roundTrip(stats);
      await store.setMany(entries);
      return [...writes.map((write) => write.key), ...alsoInvalidate];
    },
    async invalidate(keys, stats) {
      if (keys.length > 0) await bump(keys, stats);
    },
    async readList(generationKey, entryKey, stats) {
      hooks.roundTrip(stats);
      const [generation, entry] = await store.getMany([generationKey + GENERATION_SUFFIX, entryKey]);
      if (generation !== undefined) return stampedList(entry, generation);
      const [claimed] = await bump([generationKey], stats);
      return stampedList(undefined, claimed!);
    },
    async fillList(entryKey, stamp, json, ttl, stats) {
      hooks.roundTrip(stats);
      await store.setMany([{ key: entryKey, value: encodeEntry(stamp, json), ttl }]);
    },
  };
}
