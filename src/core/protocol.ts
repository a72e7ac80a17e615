/**
 * The store protocol: how the cache reads, fills and invalidates records so that a fill that
 * raced a committed write is never served. The read path (`instance-cache.ts`), the cascade
 * (`refresh.ts`) and cached root lists all go through this module; nothing else talks to a store.
 *
 * Two implementations, chosen by the store:
 *
 * **Checked at write** (stores with `apply`: memory, Redis, Redis Cluster). One key per record
 * holds either the record or a marker (`~generation`). A warm read is one round trip of exactly
 * one key per record. A reader that misses takes the marker it read as its stamp (claiming a new
 * one where the key is absent), loads, and fills with a check-and-set that lands only if the key
 * still holds exactly that marker. A refresh reads the current value, loads, and swaps only where
 * the record changed: it lands only if the key still holds what the refresh read, and otherwise
 * leaves a new marker. Markers are unique, so evicting or expiring any key costs a miss, never a
 * stale record. Every swap and set is announced by the store, atomically with the write.
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
} from './entry.js';
import type { CacheStats } from './stats.js';
import type { CacheStore, StoreEntry, StoreOp } from './store.js';

/** One key as read: a valid record, or a miss with the stamp a fill must carry. */
export type ReadResult =
  | {
      readonly hit: true;
      readonly json: string;
      /** What a fill must be stamped with if this record turns out not to decode (corrupt). */
      readonly stamp: string;
    }
  | {
      readonly hit: false;
      /** The stamp a fill must carry; `undefined` when the key has none yet (claim one first). */
      readonly stamp: string | undefined;
      /** A record was there, stamped with an older generation (checked at read only). */
      readonly stale: boolean;
      /** Something this library did not write was there (it is overwritten by the fill). */
      readonly corrupt?: boolean;
    };

/** One loaded record to write, stamped with what its reader read. */
export interface Fill {
  readonly key: string;
  readonly stamp: string;
  readonly json: string;
  readonly ttl?: number;
}

/** What a refresh read before loading. */
export interface RefreshStart {
  /** The valid stored record per key (tag and JSON), for change detection and the invalidator; `undefined` for a miss. */
  readonly current: readonly (string | undefined)[];
  /** What the refresh writes against, per key. */
  readonly stamps: readonly (string | undefined)[];
}

/** One outcome of a refresh: the record loaded for a key, or "not loaded, invalidate it". */
export type RefreshWrite =
  | {
      readonly key: string;
      readonly stamp: string | undefined;
      readonly json: string;
      /** The record differs from the one read at the start of the refresh. */
      readonly changed: boolean;
      readonly ttl?: number;
    }
  | { readonly key: string; readonly stamp: string | undefined; readonly kill: true };

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
  read(keys: readonly string[], stats?: CacheStats): Promise<ReadResult[]>;
  /** Stamps for misses read without one. A key filled meanwhile comes back as a hit. */
  claim(keys: readonly string[], stats?: CacheStats): Promise<ReadResult[]>;
  /** Writes loaded records; which of them landed. */
  fill(fills: readonly Fill[], stats?: CacheStats): Promise<boolean[]>;
  /** Refresh, before loading: the current records and what to write against. */
  beginRefresh(keys: readonly string[], stats?: CacheStats): Promise<RefreshStart>;
  /**
   * Refresh, after loading: write what changed, invalidate what was not loaded and the
   * `alsoInvalidate` keys (list generations), in one round trip. Resolves the keys it changed
   * (for a store checked at read, every key of the refresh: its start bumped them all).
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
  const classify = (value: string | undefined): ReadResult => {
    if (value === undefined) return { hit: false, stamp: undefined, stale: false };
    // A marker, or something this library did not write: either way a fill must find exactly it.
    if (!isRecordText(value))
      return { hit: false, stamp: value, stale: false, corrupt: !value.startsWith(MARKER_PREFIX) };
    return { hit: true, json: value, stamp: value };
  };
  const claimOps = (keys: readonly string[]): StoreOp[] =>
    keys.map((key) => ({ type: 'claim', key, value: newMarker(), ttl: markerTtl }));
  return {
    checksAtWrite: true,
    async read(keys, stats) {
      hooks.roundTrip(stats);
      return (await store.getMany(keys)).map(classify);
    },
    async claim(keys, stats) {
      hooks.roundTrip(stats);
      return (await apply(claimOps(keys))).map((value) => classify(value as string));
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
    async beginRefresh(keys, stats) {
      hooks.roundTrip(stats);
      const values = await store.getMany(keys);
      return {
        current: values.map((value) => (value !== undefined && isRecordText(value) ? value : undefined)),
        stamps: values,
      };
    },
    async finishRefresh(writes, alsoInvalidate, stats) {
      const ops: StoreOp[] = alsoInvalidate.map((key) => ({
        type: 'set',
        key,
        value: newMarker(),
        ttl: markerTtl,
      }));
      for (const write of writes) {
        if ('kill' in write) {
          // Not loaded (updateOnly): where a reader may be filling against what is there, replace
          // it. An absent key needs nothing: a reader that claims it now loads after the commit.
          if (write.stamp !== undefined)
            ops.push({ type: 'set', key: write.key, value: newMarker(), ttl: markerTtl });
        } else if (write.changed) {
          ops.push({
            type: 'swap',
            key: write.key,
            expected: write.stamp,
            value: write.json,
            ttl: write.ttl,
            otherwise: { value: newMarker(), ttl: markerTtl },
          });
        }
        // Unchanged: the key still holds a record equal to a load made after the commit. Nothing
        // but another refresh (which loads after its own commit) can replace a record.
      }
      if (ops.length === 0) return [];
      hooks.roundTrip(stats);
      await apply(ops);
      return ops.map((op) => op.key);
    },
    async invalidate(keys, stats) {
      if (keys.length === 0) return;
      hooks.roundTrip(stats);
      await apply(keys.map((key) => ({ type: 'set', key, value: newMarker(), ttl: markerTtl })));
    },
    async readList(generationKey, entryKey, stats) {
      hooks.roundTrip(stats);
      const [generation, entry] = await store.getMany([generationKey, entryKey]);
      if (generation !== undefined) return stampedList(entry, generation);
      hooks.roundTrip(stats);
      const [claimed] = await apply(claimOps([generationKey]));
      return stampedList(undefined, claimed as string);
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
  const readPairs = async (keys: readonly string[], stats?: CacheStats): Promise<ReadResult[]> => {
    hooks.roundTrip(stats);
    const values = await store.getMany(keys.flatMap((key) => [key, key + GENERATION_SUFFIX]));
    return keys.map((_, i): ReadResult => {
      const generation = values[2 * i + 1];
      // No generation entry: never invalidated, or evicted. Whatever record is there cannot be
      // trusted (its stamp could be one a raced fill carried), so it is a miss.
      if (generation === undefined) return { hit: false, stamp: undefined, stale: false };
      const entry = values[2 * i];
      if (entry === undefined) return { hit: false, stamp: generation, stale: false };
      const json = readEntry(entry, generation);
      if (json === null) return { hit: false, stamp: generation, stale: true };
      if (json === undefined) return { hit: false, stamp: generation, stale: false, corrupt: true };
      return { hit: true, json, stamp: generation };
    });
  };
  return {
    checksAtWrite: false,
    read: readPairs,
    async claim(keys, stats) {
      // Not atomic: two readers may both write a generation. The later one wins and the other's
      // fill is then a miss at read time; a stale record can never match.
      return (await bump(keys, stats)).map((stamp) => ({ hit: false, stamp, stale: false }));
    },
    async fill(fills, stats) {
      if (fills.length === 0) return [];
      hooks.roundTrip(stats);
      await store.setMany(
        fills.map((fill) => ({ key: fill.key, value: encodeEntry(fill.stamp, fill.json), ttl: fill.ttl })),
      );
      return fills.map(() => true);
    },
    async beginRefresh(keys, stats) {
      const read = await readPairs(keys, stats);
      const stamps = await bump(keys, stats);
      return { current: read.map((result) => (result.hit ? result.json : undefined)), stamps };
    },
    async finishRefresh(writes, alsoInvalidate, stats) {
      const entries: StoreEntry[] = alsoInvalidate.map((key) => ({
        key: key + GENERATION_SUFFIX,
        value: newGeneration(),
        ttl: markerTtl,
      }));
      for (const write of writes) {
        if ('kill' in write || write.stamp === undefined) continue;
        entries.push({ key: write.key, value: encodeEntry(write.stamp, write.json), ttl: write.ttl });
      }
      if (entries.length > 0) {
        hooks.roundTrip(stats);
        await store.setMany(entries);
      }
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
