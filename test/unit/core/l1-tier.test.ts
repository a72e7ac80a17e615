import { describe, expect, it } from 'vitest';
import { L1Tier } from '../../../src/core/l1.js';

// The L1 tier on its own: its LRU order and bounds, its clock, and the race rule at set(). The
// tier through a cache, on every store, is in l1.test.ts.
function tier(options: ConstructorParameters<typeof L1Tier>[0] = {}) {
  const clock = { now: 0 };
  let live = true;
  const l1 = new L1Tier(
    options,
    () => live,
    () => clock.now,
  );
  return {
    l1,
    clock,
    setLive(value: boolean) {
      live = value;
    },
  };
}

describe('L1Tier', () => {
  it('finds records by pk in their own table, and drops them by store key', () => {
    const { l1 } = tier();
    const choices = l1.records('p:Choice:');
    const users = l1.records('p:User:');
    expect(l1.records('p:Choice:')).toBe(choices);
    const token = l1.begin();
    l1.set(token, choices, 1, 'p:Choice:1', { id: 1 }, 10);
    l1.set(token, users, 1, 'p:User:1', null, 4);
    l1.end(token);
    expect(l1.get(choices, 1)).toEqual({ id: 1 });
    expect(Object.isFrozen(l1.get(choices, 1))).toBe(true);
    expect(l1.get(users, 1)).toBeNull(); // a cached "not found"
    expect(l1.get(choices, 2)).toBeUndefined();
    l1.invalidate(['p:Choice:1', 'p:Choice:99']);
    expect(l1.get(choices, 1)).toBeUndefined();
    expect(l1.get(users, 1)).toBeNull();
    expect(l1.size).toBe(1);
  });

  it('evicts the least recently used entry beyond maxEntries; a get makes an entry recent', () => {
    const { l1 } = tier({ maxEntries: 2 });
    const table = l1.records('k:');
    const token = l1.begin();
    l1.set(token, table, 1, 'k:1', { id: 1 }, 1);
    l1.set(token, table, 2, 'k:2', { id: 2 }, 1);
    expect(l1.get(table, 1)).toEqual({ id: 1 });
    l1.set(token, table, 3, 'k:3', { id: 3 }, 1);
    expect([1, 2, 3].map((pk) => l1.get(table, pk) !== undefined)).toEqual([true, false, true]);
    expect(l1.size).toBe(2);
  });

  it('counts bytes as size plus key length, evicts beyond maxBytes, and never holds an entry larger than the tier', () => {
    const { l1 } = tier({ maxBytes: 100 });
    const table = l1.records('k:');
    const token = l1.begin();
    l1.set(token, table, 1, 'k:1', { id: 1 }, 37); // 40 bytes
    l1.set(token, table, 2, 'k:2', { id: 2 }, 37);
    expect(l1.bytes).toBe(80);
    l1.set(token, table, 3, 'k:3', { id: 3 }, 37); // 120 > 100: the oldest goes
    expect(l1.bytes).toBe(80);
    expect(l1.get(table, 1)).toBeUndefined();
    l1.set(token, table, 4, 'k:4', { id: 4 }, 200);
    expect(l1.get(table, 4)).toBeUndefined();
    expect(l1.size).toBe(2);
    // Replacing an entry counts only the new one.
    l1.set(token, table, 2, 'k:2', { id: 2, again: true }, 7);
    expect(l1.bytes).toBe(50);
  });

  it('serves an entry until its ttl on its own clock, a list until its own ttl', () => {
    const { l1, clock } = tier({ ttl: 1000 });
    const table = l1.records('k:');
    const token = l1.begin();
    l1.set(token, table, 1, 'k:1', { id: 1 }, 1);
    l1.setList(token, 'k:~lists', 'k:~list:a', [1, 2], 5, 100);
    clock.now = 99;
    expect(l1.getList('k:~list:a')).toEqual([1, 2]);
    clock.now = 100;
    expect(l1.getList('k:~list:a')).toBeUndefined();
    expect(l1.get(table, 1)).toEqual({ id: 1 });
    clock.now = 1000;
    expect(l1.get(table, 1)).toBeUndefined();
    expect(l1.size).toBe(0);
  });

  it('drops every list under a generation key, and a replaced list leaves the index', () => {
    const { l1 } = tier();
    const token = l1.begin();
    l1.setList(token, 'k:~lists', 'k:~list:a', [1], 1);
    l1.setList(token, 'k:~lists', 'k:~list:a', [1, 2], 1);
    l1.setList(token, 'k:~lists', 'k:~list:b', [3], 1);
    expect(l1.size).toBe(2);
    l1.invalidate(['k:~lists']);
    expect(l1.getList('k:~list:a')).toBeUndefined();
    expect(l1.getList('k:~list:b')).toBeUndefined();
    expect(l1.size).toBe(0);
  });

  it('a read that raced an invalidation, or began before a reset, keeps nothing; nothing is served while not live', () => {
    const { l1, setLive } = tier();
    const table = l1.records('k:');
    const raced = l1.begin();
    l1.invalidate(['k:1']);
    l1.set(raced, table, 1, 'k:1', { id: 1 }, 1);
    l1.set(raced, table, 2, 'k:2', { id: 2 }, 1); // another key: kept
    l1.end(raced);
    expect(l1.get(table, 1)).toBeUndefined();
    expect(l1.get(table, 2)).toEqual({ id: 2 });

    const before = l1.begin();
    l1.reset();
    l1.set(before, table, 3, 'k:3', { id: 3 }, 1);
    l1.end(before);
    expect(l1.size).toBe(0);

    const token = l1.begin();
    l1.set(token, table, 4, 'k:4', { id: 4 }, 1);
    setLive(false);
    expect(l1.get(table, 4)).toBeUndefined();
    l1.set(token, table, 5, 'k:5', { id: 5 }, 1);
    setLive(true);
    expect(l1.get(table, 4)).toEqual({ id: 4 });
    expect(l1.get(table, 5)).toBeUndefined();
    l1.end(token);
  });
});
