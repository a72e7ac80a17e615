/**
 * `graphql-cached-instances/testing`: the store conformance suite, for anyone writing a
 * {@link CacheStore} (the way keyv exports its test suite for adapters). It runs under any test
 * runner with `describe`/`it`/`beforeEach`/`afterEach` (vitest, jest, node:test via a shim) and
 * asserts with `node:assert`, so it needs nothing else.
 *
 * @example
 * import { afterEach, beforeEach, describe, it } from 'vitest';
 * import { describeStoreConformance } from 'graphql-cached-instances/testing';
 * describeStoreConformance({ describe, it, beforeEach, afterEach }, {
 *   name: 'my store',
 *   create: async () => ({ store: await createMyStore(), cleanup: () => … }),
 * });
 *
 * @packageDocumentation
 */
import assert from 'node:assert/strict';
import { InstanceCache } from './core/instance-cache.js';
import type { CacheStore, StoreOp } from './core/store.js';
import { defineModel, defineStrategy } from './strategy/define.js';
import type { Pk } from './strategy/pk.js';

/** The test-runner functions the suite needs. */
export interface ConformanceRunner {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void>): void;
  beforeEach(fn: () => Promise<void>): void;
  afterEach(fn: () => Promise<void>): void;
}

/** A store under test: a fresh, empty one per test (its own namespace), and how to clean it up. */
export interface ConformanceOptions {
  /** Shown in the suite's title. */
  readonly name: string;
  create(): Promise<{ store: CacheStore; cleanup?(): Promise<void> }>;
}

/**
 * Declares the conformance suite for one store: the plain operations every store has; for a store
 * with `apply`, the semantics of claim, fill, swap and set, and the announcements on its bus; and
 * the end-to-end guarantees the cache builds on them (a fill that raced a write is never served,
 * a lost marker costs a miss, a warm read reads one key per record).
 */
export function describeStoreConformance(runner: ConformanceRunner, options: ConformanceOptions): void {
  const { describe, it, beforeEach, afterEach } = runner;
  describe(`CacheStore conformance: ${options.name}`, () => {
    let store: CacheStore;
    let cleanup: (() => Promise<void>) | undefined;
    beforeEach(async () => {
      const created = await options.create();
      store = created.store;
      cleanup = created.cleanup;
    });
    afterEach(async () => {
      await cleanup?.();
    });

    it('getMany returns values aligned with keys, undefined for missing ones', async () => {
      await store.setMany([
        { key: 'a:1', value: 'one' },
        { key: 'a:3', value: 'three' },
      ]);
      assert.deepEqual(await store.getMany(['a:1', 'a:2', 'a:3', 'a:1']), ['one', undefined, 'three', 'one']);
    });

    it('stores strings byte for byte: newlines, unicode, JSON, colons, markers', async () => {
      const values = ['g1\n{"a":[1,2]}', 'ünïcödé ✓ 𝄞', ':leading:colon', '"quoted"', 'null', '~marker'];
      await store.setMany(values.map((value, i) => ({ key: `v:${i}`, value })));
      assert.deepEqual(await store.getMany(values.map((_, i) => `v:${i}`)), values);
    });

    it('overwrites and deletes many keys; deleting missing keys is fine', async () => {
      await store.setMany([
        { key: 'd:1', value: 'x' },
        { key: 'd:2', value: 'y' },
      ]);
      await store.setMany([{ key: 'd:1', value: 'x2' }]);
      await store.deleteMany(['d:2', 'd:404']);
      assert.deepEqual(await store.getMany(['d:1', 'd:2']), ['x2', undefined]);
    });

    it('empty batches are no-ops', async () => {
      assert.deepEqual(await store.getMany([]), []);
      await store.setMany([]);
      await store.deleteMany([]);
      if (store.apply) assert.deepEqual(await store.apply([]), []);
    });

    it('expires entries after their ttl and keeps entries without one', async () => {
      await store.setMany([
        { key: 't:short', value: 'gone', ttl: 50 },
        { key: 't:forever', value: 'kept' },
      ]);
      assert.deepEqual(await store.getMany(['t:short']), ['gone']);
      // Expiry is the behaviour under test: wait past it.
      await new Promise((resolve) => setTimeout(resolve, 120));
      assert.deepEqual(await store.getMany(['t:short', 't:forever']), [undefined, 'kept']);
    });

    it('deleteByPrefix deletes exactly the keys under the prefix', async () => {
      if (!store.deleteByPrefix) return;
      await store.setMany([
        { key: 'gci:v1.abc:Q:1', value: '1' },
        { key: 'gci:v1.abc:Q:1:g', value: 'g' },
        { key: 'gci:v2.def:Q:1', value: '2' },
        { key: 'gci:v1.abcd:Q:1', value: 'other version hash' },
      ]);
      assert.equal(await store.deleteByPrefix('gci:v1.abc:'), 2);
      assert.deepEqual(
        await store.getMany(['gci:v1.abc:Q:1', 'gci:v1.abc:Q:1:g', 'gci:v2.def:Q:1', 'gci:v1.abcd:Q:1']),
        [undefined, undefined, '2', 'other version hash'],
      );
    });

    it('apply: claim writes only absent keys and returns what each key holds', async () => {
      if (!store.apply) return;
      await store.setMany([{ key: 'c:held', value: '{"id":1}' }]);
      const results = await store.apply([
        { type: 'claim', key: 'c:held', value: '~a' },
        { type: 'claim', key: 'c:new', value: '~b' },
      ]);
      assert.deepEqual(results, ['{"id":1}', '~b']);
      assert.deepEqual(await store.getMany(['c:held', 'c:new']), ['{"id":1}', '~b']);
    });

    it('apply: fill lands only where the key holds exactly what was expected', async () => {
      if (!store.apply) return;
      await store.setMany([
        { key: 'f:1', value: '~g1' },
        { key: 'f:2', value: '~g2' },
      ]);
      const results = await store.apply([
        { type: 'fill', key: 'f:1', expected: '~g1', value: '{"v":1}' },
        { type: 'fill', key: 'f:2', expected: '~older', value: '{"v":2}' },
        { type: 'fill', key: 'f:absent', expected: '~g3', value: '{"v":3}' },
      ]);
      assert.deepEqual(results, [true, false, false]);
      assert.deepEqual(await store.getMany(['f:1', 'f:2', 'f:absent']), ['{"v":1}', '~g2', undefined]);
    });

    it("apply: a refresh's fill also lands on its own marker; losing the key to a later refresh, it leaves that refresh's marker", async () => {
      if (!store.apply) return;
      const marked = '#abcdef01@t1\n{"v":0}';
      await store.setMany([
        { key: 'r:mine', value: marked },
        { key: 'r:own-marker', value: '~t1' },
        { key: 'r:later', value: '#abcdef01@t2\n{"v":0}' },
        { key: 'r:written', value: '#abcdef01{"v":9}' },
        { key: 'r:marker', value: '~g9' },
      ]);
      const fill = (key: string, token?: string): StoreOp => ({
        type: 'fill',
        key,
        expected: marked,
        value: '#abcdef01{"v":1}',
        ...(token === undefined ? {} : { token }),
      });
      const keys = ['r:mine', 'r:own-marker', 'r:later', 'r:written', 'r:marker', 'r:absent'];
      const results = await store.apply(keys.map((key) => fill(key, 't1')));
      assert.deepEqual(results, [true, true, false, false, false, false]);
      assert.deepEqual(await store.getMany(keys), [
        '#abcdef01{"v":1}',
        '#abcdef01{"v":1}',
        '~t2',
        '#abcdef01{"v":9}',
        '~g9',
        undefined,
      ]);
      // The refresh that owns the key can still write it.
      const later = {
        ...fill('r:later', 't2'),
        expected: '#abcdef01@t2\n{"v":0}',
        value: '#abcdef01{"v":2}',
      };
      assert.deepEqual(await store.apply([later]), [true]);
      assert.deepEqual(await store.getMany(['r:later']), ['#abcdef01{"v":2}']);
      // Without a token a fill changes nothing it does not land on.
      await store.setMany([{ key: 'r:plain', value: '#abcdef01@t2\n{"v":0}' }]);
      assert.deepEqual(await store.apply([fill('r:plain')]), [false]);
      assert.deepEqual(await store.getMany(['r:plain']), ['#abcdef01@t2\n{"v":0}']);
    });

    it('apply: mark gives a record a token (keeping its data and TTL), anything else a marker', async () => {
      if (!store.apply) return;
      await store.setMany([
        { key: 'm:record', value: '#abcdef01{"id":1}', ttl: 60_000 },
        { key: 'm:again', value: '#abcdef01@old\n{"id":2}' },
        { key: 'm:marker', value: '~old' },
      ]);
      const mark = (key: string, ifAbsent: boolean): StoreOp => ({
        type: 'mark',
        key,
        token: 't1',
        marker: `~new-${key}`,
        ifAbsent,
      });
      const results = await store.apply([
        mark('m:record', false),
        mark('m:again', false),
        mark('m:marker', false),
        mark('m:absent', false),
        mark('m:claimed', true),
      ]);
      assert.deepEqual(results, ['#abcdef01{"id":1}', '#abcdef01@old\n{"id":2}', '~old', '', '']);
      assert.deepEqual(await store.getMany(['m:record', 'm:again', 'm:marker', 'm:absent', 'm:claimed']), [
        '#abcdef01@t1\n{"id":1}',
        '#abcdef01@t1\n{"id":2}',
        '~new-m:marker',
        undefined,
        '~new-m:claimed',
      ]);
    });

    it('apply: set overwrites; results stay aligned over a large batch spread over many keys', async () => {
      if (!store.apply) return;
      const ops: StoreOp[] = [];
      for (let i = 0; i < 300; i += 1) {
        ops.push(
          i % 3 === 0
            ? { type: 'set', key: `b:${i}`, value: `~s${i}` }
            : i % 3 === 1
              ? { type: 'claim', key: `b:${i}`, value: `~c${i}` }
              : { type: 'fill', key: `b:${i}`, expected: `~never${i}`, value: '#00000000{}' },
        );
      }
      const results = await store.apply(ops);
      assert.deepEqual(
        results,
        ops.map((op) => (op.type === 'set' ? true : op.type === 'claim' ? op.value : false)),
      );
      const values = await store.getMany(ops.map((op) => op.key));
      assert.deepEqual(
        values,
        ops.map((op) => (op.type === 'set' || op.type === 'claim' ? op.value : undefined)),
      );
    });

    it('apply: ack adds members by score and prunes old ones; countAcks and listAcks read them', async () => {
      if (!store.apply) return;
      const ack = (member: string, score: number, keepAfter = 0): StoreOp => ({
        type: 'ack',
        key: 'acks',
        member,
        score,
        keepAfter,
      });
      const count = (min: number, max: number): StoreOp => ({ type: 'countAcks', key: 'acks', min, max });
      const list = (min: number, max: number): StoreOp => ({ type: 'listAcks', key: 'acks', min, max });
      assert.deepEqual(await store.apply([count(0, 1e16), list(0, 1e16)]), ['0', '']);
      // Microsecond scores as the journal writes them: exact up to 2^53.
      const t = 1_796_142_098_054_443;
      assert.deepEqual(await store.apply([ack('a', t), ack('b', t + 1), ack('c', t + 5)]), [
        true,
        true,
        true,
      ]);
      assert.deepEqual(await store.apply([count(t, t + 1), list(t, t + 10)]), [
        '2',
        `${t},${t + 1},${t + 5}`,
      ]);
      // Re-adding a member moves it; keepAfter prunes members scored below it.
      assert.deepEqual(await store.apply([ack('a', t + 7, t + 1)]), [true]);
      assert.deepEqual(await store.apply([list(0, 1e16)]), [`${t + 1},${t + 5},${t + 7}`]);
    });

    it("apply: ttls apply to what each op writes; a token, and the marker a losing refresh leaves, keep a record's TTL", async () => {
      if (!store.apply) return;
      await store.setMany([
        { key: 'x:record', value: '#abcdef01{}', ttl: 50 },
        { key: 'x:yielded', value: '#abcdef01@t2\n{}', ttl: 50 },
      ]);
      const results = await store.apply([
        { type: 'claim', key: 'x:claim', value: '~c', ttl: 50 },
        { type: 'set', key: 'x:set', value: '~s', ttl: 50 },
        { type: 'set', key: 'x:kept', value: '~k' },
        { type: 'mark', key: 'x:record', token: 't', marker: '~m', ifAbsent: false },
        { type: 'fill', key: 'x:yielded', expected: '#abcdef01@t1\n{}', value: '#abcdef01{}', token: 't1' },
      ]);
      assert.equal(results[4], false);
      assert.deepEqual(await store.getMany(['x:yielded']), ['~t2']);
      // Expiry is the behaviour under test: wait past it.
      await new Promise((resolve) => setTimeout(resolve, 120));
      assert.deepEqual(await store.getMany(['x:claim', 'x:set', 'x:kept', 'x:record', 'x:yielded']), [
        undefined,
        undefined,
        '~k',
        undefined,
        undefined,
      ]);
    });

    it('bus: marks, sets and announced fills are announced, claims and plain fills are not; deleteByPrefix resets', async () => {
      const bus = store.bus;
      if (!store.apply || !bus) return;
      const announced: string[] = [];
      let resets = 0;
      let notify: (() => void) | undefined;
      const stop = bus.subscribe({
        keys: (keys) => {
          announced.push(...keys);
          notify?.();
        },
        reset: () => {
          resets += 1;
          notify?.();
        },
      });
      try {
        await bus.ready();
        assert.equal(bus.live, true);
        const heard = (count: () => boolean) =>
          new Promise<void>((resolve) => {
            notify = () => {
              if (count()) resolve();
            };
            notify();
          });
        await store.apply([
          { type: 'claim', key: 'n:claim', value: '~c' },
          { type: 'fill', key: 'n:claim', expected: '~c', value: '#00000000{}' },
          { type: 'claim', key: 'n:fill', value: '~f' },
          { type: 'fill', key: 'n:fill', expected: '~f', value: '#00000000{}', announce: true },
          { type: 'mark', key: 'n:mark', token: 't', marker: '~m', ifAbsent: true },
          { type: 'set', key: 'n:set', value: '~s' },
        ]);
        await heard(() => announced.length >= 3);
        assert.deepEqual([...announced].sort(), ['n:fill', 'n:mark', 'n:set']);
        if (store.deleteByPrefix) {
          const before = resets;
          await store.deleteByPrefix('n:');
          await heard(() => resets > before);
        }
      } finally {
        stop();
      }
    });

    it('protocol: a fill that raced an invalidation is never served', async () => {
      const world = createWorld(store);
      // A reader misses and loads the old row, then pauses before filling; meanwhile the write
      // commits and is refreshed.
      const gate = world.pauseNextLoad();
      const slow = world.cache.getInstances('Thing', [1]);
      await gate.paused;
      world.rows.set(1, 'new');
      await world.cache.invalidate('Thing', [1]);
      gate.release();
      // The reader began before the write: it may answer with what it loaded …
      assert.deepEqual(await slow, [{ id: 1, value: 'old' }]);
      // … but what it loaded is never served afterwards.
      assert.deepEqual(await world.cache.getInstances('Thing', [1]), [{ id: 1, value: 'new' }]);
      assert.deepEqual(await world.cache.getInstances('Thing', [1]), [{ id: 1, value: 'new' }]);
    });

    it('protocol: of two refreshes of one key, a slow one that loaded before a later commit never writes', async () => {
      const world = createWorld(store);
      await world.cache.getInstances('Thing', [1]); // cached: 'old'
      // Write 1 commits; its refresh loads 'first' and stalls before writing.
      world.rows.set(1, 'first');
      const gate = world.pauseNextLoad();
      const slow = world.cache.invalidate('Thing', [1]);
      await gate.paused;
      // Write 2 restores 'old'; its refresh finds the record unchanged and writes nothing.
      world.rows.set(1, 'old');
      await world.cache.invalidate('Thing', [1]);
      gate.release();
      await slow;
      // The slow refresh's 'first' (older than write 2) must not have landed.
      assert.deepEqual(await world.cache.getInstances('Thing', [1]), [{ id: 1, value: 'old' }]);
    });

    it('protocol: a refresh that lost its key to a later one leaves nothing older than its load readable', async () => {
      const world = createWorld(store);
      const read = () => world.cache.getInstances('Thing', [1]);
      // A refresh of the key that has loaded and stalls before writing, until `finish()`.
      const stalledRefresh = async () => {
        const gate = world.pauseNextLoad();
        const done = world.cache.invalidate('Thing', [1]);
        await gate.paused;
        return async () => {
          gate.release();
          await done;
        };
      };
      await read(); // cached: 'old'
      // Write 1 commits; its refresh loads 'first' and stalls. A second refresh of the key
      // (another write's cascade) begins, loads, and stalls too.
      world.rows.set(1, 'first');
      const finish1 = await stalledRefresh();
      const finish2 = await stalledRefresh();
      // Write 1's refresh is over: 'old' must never be served again, though its own write could
      // not land (the second refresh owns the key) and the second has not written yet.
      await finish1();
      assert.deepEqual(await read(), [{ id: 1, value: 'first' }]);
      await finish2();
      assert.deepEqual(await read(), [{ id: 1, value: 'first' }]);

      // The same without a read in between: the second refresh writes, and the next read is a hit.
      world.rows.set(1, 'second');
      const finish3 = await stalledRefresh();
      const finish4 = await stalledRefresh();
      await finish3();
      await finish4();
      const misses = world.cache.stats.misses;
      assert.deepEqual(await read(), [{ id: 1, value: 'second' }]);
      assert.equal(world.cache.stats.misses, misses);
    });

    it('protocol: losing what an invalidation left (eviction, expiry) costs a miss, never a stale record', async () => {
      const world = createWorld(store);
      const gate = world.pauseNextLoad();
      const slow = world.cache.getInstances('Thing', [1]);
      await gate.paused;
      // The write commits and is refreshed while the reader is loading the old row; then every key
      // of the cache is lost (an eviction, a flush) before the reader fills.
      world.rows.set(1, 'new');
      await world.cache.invalidate('Thing', [1]);
      await store.deleteMany([world.cache.keyOf('Thing', 1), `${world.cache.keyOf('Thing', 1)}:g`]);
      gate.release();
      assert.deepEqual(await slow, [{ id: 1, value: 'old' }]);
      assert.deepEqual(await world.cache.getInstances('Thing', [1]), [{ id: 1, value: 'new' }]);
      assert.deepEqual(await world.cache.getInstances('Thing', [1]), [{ id: 1, value: 'new' }]);
    });

    it('protocol: a warm read is one round trip; with apply, of exactly one key per record', async () => {
      const read: string[][] = [];
      const counted = new Proxy(store, {
        get(target, property, receiver) {
          if (property === 'getMany') {
            return (keys: readonly string[]) => {
              read.push([...keys]);
              return target.getMany(keys);
            };
          }
          const value = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const world = createWorld(counted);
      await world.cache.getInstances('Thing', [1, 2, 3]);
      read.length = 0;
      const before = world.cache.stats.storeRoundTrips;
      assert.equal((await world.cache.getInstances('Thing', [1, 2, 3])).length, 3);
      assert.equal(world.cache.stats.storeRoundTrips - before, 1);
      assert.equal(read.length, 1);
      assert.equal(read[0]!.length, store.apply ? 3 : 6);
    });
  });
}

/** A tiny model over a Map, with a loader that can be paused, for the protocol tests. */
function createWorld(store: CacheStore) {
  const rows = new Map<number, string>([
    [1, 'old'],
    [2, 'two'],
    [3, 'three'],
  ]);
  let pause: { arrived: () => void; gate: Promise<void> } | undefined;
  const thing = defineModel('Thing', {
    load: async (pks: readonly Pk[]) => {
      const found = pks.flatMap((pk) =>
        rows.has(pk as number) ? [{ id: pk as number, value: rows.get(pk as number)! }] : [],
      );
      if (pause) {
        const { arrived, gate } = pause;
        pause = undefined;
        arrived();
        await gate;
      }
      return found;
    },
    serialize: (row: { id: number; value: string }) => ({ id: row.id, value: row.value }),
    invalidate: () => [],
  });
  const cache = new InstanceCache(
    defineStrategy({ versions: ['v1'], models: [thing], namespace: 'conformance' }),
    {
      store,
    },
  );
  return {
    rows,
    cache,
    /** Pauses the next load after it has read the rows, until `release()`. */
    pauseNextLoad() {
      let release!: () => void;
      let arrived!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const paused = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      pause = { arrived, gate };
      return { paused, release };
    },
  };
}
