/**
 * A one-model world shared by several OS processes: the rows live in a JSON file (written with an
 * atomic rename, read on every load, so every process sees the last committed write), the cache
 * on Redis. Used by the multi-process suites.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import {
  defineModel,
  defineStrategy,
  InstanceCache,
  type InstanceCacheOptions,
  type Pk,
} from '../../../src/index.js';
import { createRedisStore, type RedisStore } from '../../../src/redis.js';

/** A row of the shared table. */
export interface ThingRow {
  readonly id: number;
  readonly value: string;
}

/** The rows table in the JSON file at `path`. */
export function openRows(path: string) {
  const all = (): Record<string, string> => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  };
  return {
    /** Commits one row (an atomic rename: readers see the old file or the new one). */
    set(id: number, value: string) {
      const rows = all();
      rows[id] = value;
      writeFileSync(`${path}.tmp`, JSON.stringify(rows));
      renameSync(`${path}.tmp`, path);
    },
    get(ids: readonly Pk[]): ThingRow[] {
      const rows = all();
      return ids.flatMap((id) => (rows[id] === undefined ? [] : [{ id: Number(id), value: rows[id]! }]));
    },
  };
}

/** The cache of one process over the shared rows and the shared Redis namespace. */
export async function openThingCache(
  path: string,
  redisUrl: string,
  namespace: string,
  options: InstanceCacheOptions = {},
) {
  const rows = openRows(path);
  const thing = defineModel('Thing', {
    load: (pks: readonly Pk[]) => rows.get(pks),
    serialize: (row: ThingRow) => ({ id: row.id, value: row.value }),
    invalidate: () => [],
  });
  const store: RedisStore = await createRedisStore({ url: redisUrl, namespace });
  const cache = new InstanceCache(
    defineStrategy({ versions: ['v1'], models: [thing], namespace: 'things' }),
    {
      store,
      ...options,
    },
  );
  return { cache, store, rows };
}
