import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CacheStore } from '../../../src/index.js';
import { storeCases, type TestStore } from '../../support/stores.js';

// One conformance suite, run against every store: what the cache relies on from a CacheStore.
for (const storeCase of storeCases) {
  describe.runIf(storeCase.available)(`CacheStore conformance: ${storeCase.name}`, () => {
    let handle: TestStore;
    let store: CacheStore;
    beforeEach(async () => {
      handle = await storeCase.create('conformance');
      store = handle.store;
    });
    afterEach(async () => {
      await handle.cleanup();
    });

    it('getMany returns values aligned with keys, undefined for missing ones', async () => {
      await store.setMany([
        { key: 'a:1', value: 'one' },
        { key: 'a:3', value: 'three' },
      ]);
      expect(await store.getMany(['a:1', 'a:2', 'a:3', 'a:1'])).toEqual(['one', undefined, 'three', 'one']);
    });

    it('stores strings byte for byte: newlines, unicode, JSON, colons', async () => {
      const values = ['g1\n{"a":[1,2]}', 'ünïcödé ✓ 𝄞', ':leading:colon', '"quoted"', '', 'null'];
      await store.setMany(values.map((value, i) => ({ key: `v:${i}`, value })));
      expect(await store.getMany(values.map((_, i) => `v:${i}`))).toEqual(values);
    });

    it('overwrites and deletes many keys; deleting missing keys is fine', async () => {
      await store.setMany([
        { key: 'd:1', value: 'x' },
        { key: 'd:2', value: 'y' },
      ]);
      await store.setMany([{ key: 'd:1', value: 'x2' }]);
      await store.deleteMany(['d:2', 'd:404']);
      expect(await store.getMany(['d:1', 'd:2'])).toEqual(['x2', undefined]);
    });

    it('empty batches are no-ops', async () => {
      expect(await store.getMany([])).toEqual([]);
      await store.setMany([]);
      await store.deleteMany([]);
    });

    it('expires entries after their ttl and keeps entries without one', async () => {
      await store.setMany([
        { key: 't:short', value: 'gone', ttl: 50 },
        { key: 't:forever', value: 'kept' },
      ]);
      expect(await store.getMany(['t:short'])).toEqual(['gone']);
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect(await store.getMany(['t:short', 't:forever'])).toEqual([undefined, 'kept']);
    });

    it('deleteByPrefix deletes exactly the keys under the prefix', async () => {
      await store.setMany([
        { key: 'gci:v1.abc:Q:1', value: '1' },
        { key: 'gci:v1.abc:Q:1:g', value: 'g' },
        { key: 'gci:v2.def:Q:1', value: '2' },
        { key: 'gci:v1.abcd:Q:1', value: 'other version hash' },
      ]);
      expect(await store.deleteByPrefix!('gci:v1.abc:')).toBe(2);
      expect(
        await store.getMany(['gci:v1.abc:Q:1', 'gci:v1.abc:Q:1:g', 'gci:v2.def:Q:1', 'gci:v1.abcd:Q:1']),
      ).toEqual([undefined, undefined, '2', 'other version hash']);
    });
  });
}
