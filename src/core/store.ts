import Keyv from 'keyv';
import { StoreError } from '../errors.js';
import { isRecordText, MARKER_PREFIX, refreshTokenOf, withToken } from './entry.js';

/** One entry to write. `ttl` is in milliseconds; omitted means no expiry. */
export interface StoreEntry {
  readonly key: string;
  readonly value: string;
  readonly ttl?: number;
}

/**
 * One conditional write of {@link CacheStore.apply}, atomic for its key. Records are the values
 * that start with `#` (see `entry.ts`); anything else is a marker or junk.
 *
 * - `claim`: write `value` if the key is absent; the result is the value at the key afterwards
 *   (`value`, or whatever was there).
 * - `fill`: write `value` only if the key holds exactly `expected`; the result says whether it
 *   landed. Announced when `announce` is set and it landed.
 *   With `token` (a refresh's write; `expected` is the record it marked with that token), it also
 *   lands where the key holds the marker `~token`. Where it does not land and the key holds a
 *   record under ANOTHER refresh token `T` (a refresh that began later owns the key, and the data
 *   it left readable may predate this refresh's load), that record becomes the marker `~T`,
 *   keeping its TTL, and this is announced too: readers then miss rather than read data older
 *   than a refresh that is over, and the refresh holding `T` can still fill it.

 * - `mark`: a refresh begins. A record gets `token` (replacing any token it had, keeping its
 *   TTL); anything else gets `marker` (with `ttl`), and so does an absent key when `ifAbsent` is
 *   set. The result is the value before (`''` for an absent key). Always announced.
 * - `set`: write `value` whatever the key holds; the result is `true`. Always announced.
 * - `ack`: add `member` with `score` to the sorted set at `key` (replacing its score if present)
 *   and remove the members scored below `keepAfter`; the result is `true`. Never announced. The
 *   journal records in the store each batch of entries it marked applied (see `journal.ts`).
 * - `countAcks`: how many members of the set at `key` have a score in `[min, max]`, as a decimal
 *   string (`'0'` for an absent key). Writes nothing.
 * - `listAcks`: the scores in `[min, max]` of the set at `key`, ascending, comma-separated (`''`
 *   for none). Writes nothing.
 */
export type StoreOp =
  | { readonly type: 'claim'; readonly key: string; readonly value: string; readonly ttl?: number }
  | {
      readonly type: 'fill';
      readonly key: string;
      readonly expected: string;
      readonly value: string;
      readonly ttl?: number;
      readonly announce?: boolean;
      readonly token?: string;
    }
  | {
      readonly type: 'mark';
      readonly key: string;
      readonly token: string;
      readonly marker: string;
      readonly ttl?: number;
      readonly ifAbsent: boolean;
    }
  | { readonly type: 'set'; readonly key: string; readonly value: string; readonly ttl?: number }
  | {
      readonly type: 'ack';
      readonly key: string;
      readonly member: string;
      readonly score: number;
      readonly keepAfter: number;
    }
  | {
      readonly type: 'countAcks' | 'listAcks';
      readonly key: string;
      readonly min: number;
      readonly max: number;
    };

/**
 * The result of one {@link StoreOp}: a string for `claim`, `mark`, `countAcks` and `listAcks`, a
 * boolean for the others.
 */
export type StoreOpResult = string | boolean;

/** What an {@link InvalidationBus} tells its listeners. */
export interface BusListener {
  /** These keys changed in the shared store (in this process or another). */
  keys(keys: readonly string[]): void;
  /**
   * Announcements may have been missed (a reconnect, a gap in a publisher's sequence, keys dropped
   * by prefix): forget everything held from the store.
   */
  reset(): void;
}

/**
 * Invalidation announcements between processes. A store whose {@link CacheStore.apply} announces
 * what it changes (atomically with the write, so no change goes unannounced) exposes one; the
 * cache's L1 tier listens to it.
 */
export interface InvalidationBus {
  /** Starts listening; returns a function that stops. Announcements before this call are not replayed. */
  subscribe(listener: BusListener): () => void;
  /**
   * True while announcements are being received (subscribed and connected). An L1 tier serves
   * and fills only while this is true, and resets when it becomes true again.
   */
  readonly live: boolean;
  /** Resolves once announcements are being received (or rejects if they cannot be). */
  ready(): Promise<void>;
}

/**
 * The store boundary. Every call is one round trip to the store (one `MGET`, one `MULTI…EXEC`,
 * one script), which is what the cache counts as `storeRoundTrips`. Implementations must not retry
 * silently and must reject on failure: the cache turns failures into `error` events and falls
 * back to the database.
 *
 * A store WITH {@link apply} lets the cache check fills at write time: a warm read reads one key
 * per record (see the README's consistency contract). A store without it (any keyv store through
 * {@link keyvStore}) is checked at read time: each record is read beside its generation entry.
 */
export interface CacheStore {
  /** Values aligned with `keys`; `undefined` for a missing key. */
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  /** Writes every entry. */
  setMany(entries: readonly StoreEntry[]): Promise<void>;
  /** Deletes every key (missing keys are fine). */
  deleteMany(keys: readonly string[]): Promise<void>;
  /** Deletes every key that starts with `prefix`; returns how many. Optional: used by `dropVersion`. */
  deleteByPrefix?(prefix: string): Promise<number>;
  /**
   * Runs conditional writes, each atomic for its key, in one round trip, and announces the keys
   * they changed (see {@link StoreOp}) on {@link bus} atomically with them. Results are aligned
   * with `ops`. Optional: stores that have it check fills at write time.
   */
  apply?(ops: readonly StoreOp[]): Promise<StoreOpResult[]>;
  /** Invalidation announcements, for an L1 tier. Optional. */
  readonly bus?: InvalidationBus;
  /**
   * A number that changes whenever the store's connection is established again (a reconnect,
   * perhaps to a restarted, restored or failed-over server). A refresh that sees it change
   * between its beginning and its writes writes nothing and invalidates its keys instead, since
   * what it began may be gone. Optional: a store without reconnects (memory) leaves it out.
   */
  readonly connectionEpoch?: number;
  /** Releases connections the store owns. Optional. */
  close?(): Promise<void>;
}

/** Options of {@link keyvStore}. */
export interface KeyvStoreOptions {
  /**
   * Whether `close()` disconnects the keyv instance. Default `false`: the application that
   * created the keyv owns it.
   */
  ownsKeyv?: boolean;
}

/**
 * Adapts any keyv 5 instance whose values are strings, as a store checked at read time (keyv has
 * no conditional writes). keyv's own (de)serializer is bypassed by the caller's configuration:
 * pass a Keyv built with `serialize: undefined` (memory) or the raw pair (Redis), because the
 * cache hands over strings it encoded itself. Keyv swallows store errors unless `throwOnErrors`
 * is set; this adapter sets it so failures reach the cache, which reports them as events.
 */
export function keyvStore(keyv: Keyv<string>, options: KeyvStoreOptions = {}): CacheStore {
  keyv.throwOnErrors = true;
  // keyv emits 'error' as well as rejecting; without a listener an EventEmitter 'error' throws.
  if (keyv.listeners('error').length === 0) keyv.on('error', () => {});
  return {
    async getMany(keys) {
      if (keys.length === 0) return [];
      return (await keyv.getMany<string>([...keys])) as (string | undefined)[];
    },
    async setMany(entries) {
      if (entries.length === 0) return;
      await keyv.setMany(entries.map((entry) => ({ key: entry.key, value: entry.value, ttl: entry.ttl })));
    },
    async deleteMany(keys) {
      if (keys.length === 0) return;
      await keyv.deleteMany([...keys]);
    },
    async deleteByPrefix(prefix) {
      const doomed: string[] = [];
      if (!keyv.iterator) throw new StoreError('keyvStore: this keyv store cannot iterate its keys');
      for await (const [key] of keyv.iterator(undefined)) {
        if (typeof key === 'string' && key.startsWith(prefix)) doomed.push(key);
      }
      for (let i = 0; i < doomed.length; i += 500) await keyv.deleteMany(doomed.slice(i, i + 500));
      return doomed.length;
    },
    async close() {
      if (options.ownsKeyv) await keyv.disconnect();
    },
  };
}

type Row = { value: string; expires?: number };

/**
 * An ack set kept as one JSON value (`[[score, member], …]`), as the memory store keeps it and as
 * the journal keeps it on a store without `apply`: `value` with `member` added at `score` (its
 * old score replaced) and the members scored below `keepAfter` removed. A corrupt or absent
 * value is an empty set. @internal
 */
export function addToAckSet(
  value: string | undefined,
  member: string,
  score: number,
  keepAfter: number,
): string {
  const members = readAcks(value).filter(([at, m]) => at >= keepAfter && m !== member);
  members.push([score, member]);
  return JSON.stringify(members);
}

/** The scores in `[min, max]` of an ack set kept as JSON (see {@link addToAckSet}), ascending. @internal */
export function ackScores(value: string | undefined, min: number, max: number): number[] {
  return readAcks(value)
    .map(([score]) => score)
    .filter((score) => score >= min && score <= max)
    .sort((a, b) => a - b);
}

function readAcks(value: string | undefined): [number, string][] {
  if (value === undefined) return [];
  try {
    const parsed = JSON.parse(value) as unknown;
    return Array.isArray(parsed) ? (parsed as [number, string][]) : [];
  } catch {
    return [];
  }
}

/**
 * An in-process store: keyv over a `Map`, values kept as the encoded strings (so a record read
 * back is a fresh object every time and never shares state with another request). It checks fills
 * at write time (its conditional writes run synchronously on the `Map`, so they are atomic) and
 * announces invalidations to listeners in this process. The default store of an `InstanceCache`;
 * fine for one process and for tests, not shared across processes.
 */
export function createMemoryStore(): CacheStore {
  const map = new Map<string, Row>();
  // No keyv namespace: keyv prefixes inconsistently when a key already starts with the
  // namespace, and its Map iterator splits keys on ':'. The cache's keys carry their own prefix.
  const keyv = new Keyv<string>({
    store: map,
    serialize: undefined,
    deserialize: undefined,
    useKeyPrefix: false,
  });
  const base = keyvStore(keyv, { ownsKeyv: true });
  const listeners = new Set<BusListener>();
  // Reads and writes use keyv's own row format on the Map it writes, with keyv's expiry rule:
  // keyv's Map adapter runs one async step per key, ~25× slower on a warm request.
  const read = (key: string, now: number): string | undefined => {
    const row = map.get(key);
    if (row === undefined) return undefined;
    if (typeof row.expires === 'number' && now > row.expires) {
      map.delete(key);
      return undefined;
    }
    return row.value;
  };
  const write = (key: string, value: string, ttl: number | undefined, now: number) => {
    map.set(key, ttl === undefined ? { value } : { value, expires: now + ttl });
  };
  const announce = (keys: readonly string[]) => {
    if (keys.length === 0) return;
    for (const listener of listeners) listener.keys(keys);
  };
  return {
    ...base,
    async getMany(keys) {
      const now = Date.now();
      return keys.map((key) => read(key, now));
    },
    async setMany(entries) {
      const now = Date.now();
      for (const { key, value, ttl } of entries) write(key, value, ttl, now);
    },
    async deleteMany(keys) {
      for (const key of keys) map.delete(key);
    },
    async apply(ops) {
      const now = Date.now();
      const changed: string[] = [];
      const results = ops.map((op): StoreOpResult => {
        const current = read(op.key, now);
        switch (op.type) {
          case 'claim':
            if (current !== undefined) return current;
            write(op.key, op.value, op.ttl, now);
            return op.value;
          case 'fill': {
            const token = op.token;
            if (current === op.expected || (token !== undefined && current === MARKER_PREFIX + token)) {
              write(op.key, op.value, op.ttl, now);
              if (op.announce) changed.push(op.key);
              return true;
            }
            const owner = token === undefined || current === undefined ? undefined : refreshTokenOf(current);
            if (owner !== undefined && owner !== token) {
              map.set(op.key, { ...map.get(op.key)!, value: MARKER_PREFIX + owner });
              if (op.announce) changed.push(op.key);
            }
            return false;
          }

          case 'mark': {
            changed.push(op.key);
            if (current !== undefined && isRecordText(current)) {
              const row = map.get(op.key)!;
              map.set(op.key, { ...row, value: withToken(current, op.token) });
            } else if (current !== undefined || op.ifAbsent) {
              write(op.key, op.marker, op.ttl, now);
            }
            return current ?? '';
          }
          case 'ack':
            map.set(op.key, { value: addToAckSet(current, op.member, op.score, op.keepAfter) });
            return true;
          case 'countAcks':
          case 'listAcks': {
            const scores = ackScores(current, op.min, op.max);
            return op.type === 'countAcks' ? String(scores.length) : scores.join(',');
          }

          default:
            changed.push(op.key);
            write(op.key, op.value, op.ttl, now);
            return true;
        }
      });
      announce(changed);
      return results;
    },
    bus: {
      live: true,
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      async ready() {},
    },
    async deleteByPrefix(prefix) {
      let count = 0;
      for (const key of map.keys()) {
        if (key.startsWith(prefix)) {
          map.delete(key);
          count += 1;
        }
      }
      for (const listener of listeners) listener.reset();
      return count;
    },
  };
}
