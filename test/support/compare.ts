/**
 * The durability suites' and the stress run's verdict: every record the shared store serves, for
 * every model in every version, compared with a fresh serialization from the database.
 */
import type { MikroORM } from '@mikro-orm/core';
import { type CacheStore, InstanceCache, type Pk, type Strategy } from '../../src/index.js';

/** One record the store serves that differs from the database. */
export interface Mismatch {
  readonly version: string;
  readonly model: string;
  readonly pk: Pk;
  readonly served: unknown;
  readonly database: unknown;
}

/** What {@link compareWithDatabase} found. */
export interface Comparison {
  /** Records compared (instances × versions, absent ones included). */
  readonly compared: number;
  readonly mismatches: readonly Mismatch[];
}

/** A record as comparable text: Dates as ISO strings, keys in a stable order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/**
 * Reads every instance of every model of `strategy` in every version through a new cache on
 * `store` (no L1: what any process would be served from the store, filling what is missing) and
 * through the database alone (a cache with `enabled: false`), and returns what differs. `extra`
 * names pks to compare beyond the rows that exist now (deleted ones must read as absent).
 */
export async function compareWithDatabase<R extends object>(
  orm: MikroORM,
  strategy: Strategy<R>,
  store: CacheStore,
  extra: Readonly<Record<string, readonly Pk[]>> = {},
): Promise<Comparison> {
  const served = new InstanceCache(strategy, { store });
  // A store that fails falls back to the database: that would compare the database with itself.
  const errors: Error[] = [];
  served.on('error', (error) => errors.push(error));
  const truth = new InstanceCache(strategy, { enabled: false });
  const mismatches: Mismatch[] = [];
  let compared = 0;
  for (const model of strategy.modelNames) {
    const meta = orm.getMetadata().find(model);
    if (!meta) throw new Error(`compareWithDatabase: the ORM has no entity ${model}`);
    const pkProperty = meta.primaryKeys[0]!;
    const rows = (await orm.em
      .fork()
      .find(meta.className, {}, { fields: [pkProperty] as never[] })) as Record<string, Pk>[];
    const pks = [...new Set([...rows.map((row) => row[pkProperty]!), ...(extra[model] ?? [])])];
    for (const version of strategy.versions) {
      for (let i = 0; i < pks.length; i += 500) {
        const batch = pks.slice(i, i + 500);
        const options = { version };
        const [fromStore, fromDatabase] = await Promise.all([
          served.getInstances(model as keyof R & string, batch, options),
          truth.getInstances(model as keyof R & string, batch, options),
        ]);
        if (errors.length > 0) {
          throw new Error(
            `compareWithDatabase: the store failed, so the database was compared with itself: ${errors[0]!.message}`,
          );
        }
        batch.forEach((pk, j) => {
          compared += 1;
          if (canonical(fromStore[j]) !== canonical(fromDatabase[j])) {
            mismatches.push({ version, model, pk, served: fromStore[j], database: fromDatabase[j] });
          }
        });
      }
    }
  }
  await truth.close();
  // `served` is not closed: that would close the store, which belongs to the caller.
  return { compared, mismatches };
}
