import type { EntityManager, EntityMetadata, EntityProperty, Transaction } from '@mikro-orm/core';
import { StrategyDefinitionError } from '../errors.js';
import type { Pk } from '../strategy/pk.js';
import {
  cascadesOnDelete,
  childFkOf,
  fetchRelationPairs,
  isToOneOwner,
  locksRows,
  normalizeDbPk,
  selectRows,
  singlePkProp,
  tableOf,
} from './relations.js';

/**
 * The previous values a flush's SQL changes without MikroORM knowing them, and how they are looked
 * up: inside the flush's transaction, before its first statement, with one query per relation
 * (never one per row). Internal to `graphql-cached-instances/mikro-orm`.
 *
 * The order of the queries matters on databases with row locks (Postgres, MariaDB, MySQL):
 * 1. the rows the flush deletes or changes, `select … for update`: nobody can now insert a row
 *    that references them (an FK check takes a key-share lock) or move them until this
 *    transaction ends; their unknown to-one FKs are read by the same statement;
 * 2. the rows the database deletes by `ON DELETE CASCADE`, level by level, `select … where fk in
 *    (…) for update`: each row with its to-one FKs, then their own cascades;
 * 3. what goes with all these rows: pivot rows (many-to-many members) and children that are not
 *    cascaded (an FK `SET NULL` changes them), also `for update`: the flush deletes or changes
 *    them anyway, and a locking read sees rows committed after the transaction's snapshot, which
 *    a plain read under REPEATABLE READ (MariaDB's and MySQL's default) would not.
 */

/** A relation to read for many owners at once. */
export interface RelationLookup {
  readonly meta: EntityMetadata;
  readonly prop: EntityProperty;
  readonly pks: Set<Pk>;
}

interface RowLookup {
  readonly meta: EntityMetadata;
  readonly pks: Set<Pk>;
  /** To-one relations whose previous FK is unknown, per property name, with the rows concerned. */
  readonly toOne: Map<string, RelationLookup>;
}

/** Everything one flush must look up (see the file comment for the order). */
export interface LookupPlan {
  /** Rows whose relations are read: locked first; unknown to-one FKs read with them. Per entity. */
  readonly rows: Map<string, RowLookup>;
  /** Relations read through another table (pivot rows, non-cascaded children), per `Entity.prop`. */
  readonly relations: Map<string, RelationLookup>;
  /** Relations of deleted rows whose FK cascades: the database deletes these children too. */
  readonly cascades: Map<string, RelationLookup>;
  /** Rows the flush deletes itself: their own change sets name what goes with them. */
  readonly deleted: Map<string, Set<Pk>>;
}

/** A plan with nothing to look up. */
export function emptyPlan(): LookupPlan {
  return { rows: new Map(), relations: new Map(), cascades: new Map(), deleted: new Map() };
}

/** True when running the plan would query anything. */
export function hasLookups(plan: LookupPlan): boolean {
  return plan.rows.size > 0 || plan.relations.size > 0 || plan.cascades.size > 0;
}

function addTo(
  map: Map<string, RelationLookup>,
  key: string,
  meta: EntityMetadata,
  prop: EntityProperty,
  pk: Pk,
) {
  let entry = map.get(key);
  if (!entry) {
    entry = { meta, prop, pks: new Set() };
    map.set(key, entry);
  }
  entry.pks.add(pk);
}

function row(plan: LookupPlan, meta: EntityMetadata, pk: Pk): RowLookup {
  let entry = plan.rows.get(meta.className);
  if (!entry) {
    entry = { meta, pks: new Set(), toOne: new Map() };
    plan.rows.set(meta.className, entry);
  }
  entry.pks.add(pk);
  return entry;
}

/** The previous FK of a to-one relation of this row is unknown. */
export function lookupToOne(plan: LookupPlan, meta: EntityMetadata, prop: EntityProperty, pk: Pk): void {
  addTo(row(plan, meta, pk).toOne, prop.name, meta, prop, pk);
}

/** The previous members of a relation read through another table are unknown (the row is locked first). */
export function lookupRelation(plan: LookupPlan, meta: EntityMetadata, prop: EntityProperty, pk: Pk): void {
  row(plan, meta, pk);
  addTo(plan.relations, `${meta.className}.${prop.name}`, meta, prop, pk);
}

/** This deleted row's children through `prop` go by FK cascade: treat them, recursively, as deletes. */
export function lookupCascade(plan: LookupPlan, meta: EntityMetadata, prop: EntityProperty, pk: Pk): void {
  row(plan, meta, pk);
  addTo(plan.cascades, `${meta.className}.${prop.name}`, meta, prop, pk);
}

/** The flush deletes this row itself (a change set). */
export function markDeleted(plan: LookupPlan, meta: EntityMetadata, pk: Pk): void {
  let pks = plan.deleted.get(meta.className);
  if (!pks) {
    pks = new Set();
    plan.deleted.set(meta.className, pks);
  }
  pks.add(pk);
}

/** Where the flush reports what it found: an entity name and a pk to refresh. */
export type FoundRef = (entity: string, pk: Pk | null) => void;

function pkColumn(meta: EntityMetadata): string {
  const prop = singlePkProp(meta);
  if (!prop) {
    throw new StrategyDefinitionError(`${meta.className}: a composite pk is not supported`, {
      context: { model: meta.className },
    });
  }
  return prop.fieldNames[0]!;
}

/** Reports the FKs read in columns c1… of a row (c0 is its pk); `null` skips a column. */
function reportToOne(
  record: Record<string, unknown>,
  props: readonly (EntityProperty | null)[],
  found: FoundRef,
): void {
  props.forEach((prop, i) => {
    if (prop) found(prop.targetMeta!.className, normalizeDbPk(prop.targetMeta!, record[`c${i + 1}`]));
  });
}

/** Step 1: lock the rows, reading their unknown to-one FKs at the same time. */
async function lockRows(
  em: EntityManager,
  plan: LookupPlan,
  found: FoundRef,
  ctx?: Transaction,
  lock = false,
) {
  for (const { meta, pks, toOne } of plan.rows.values()) {
    if (toOne.size === 0 && !lock) continue;
    const lookups = [...toOne.values()];
    const columns = [pkColumn(meta), ...lookups.map((t) => t.prop.fieldNames[0]!)];
    const rows = await selectRows(em, tableOf(meta), columns, columns[0]!, [...pks], ctx, lock);
    for (const record of rows) {
      const pk = normalizeDbPk(meta, record.c0);
      if (pk === null) continue;
      // Only the (row, relation) pairs asked for: another relation of the same row did not change.
      reportToOne(
        record,
        lookups.map((t) => (t.pks.has(pk) ? t.prop : null)),
        found,
      );
    }
  }
}

/** Step 2: the rows deleted by FK cascade, level by level, as far as the schema cascades. */
async function followCascades(
  em: EntityManager,
  plan: LookupPlan,
  found: FoundRef,
  ctx?: Transaction,
  lock = false,
) {
  const seen = new Map<string, Set<Pk>>();
  for (const [entity, pks] of plan.deleted) seen.set(entity, new Set(pks));
  let level = [...plan.cascades.values()];
  while (level.length > 0) {
    const next = new Map<string, RelationLookup>();
    for (const { prop, pks } of level) {
      const child = prop.targetMeta!;
      const toOnes = child.relations.filter(isToOneOwner);
      const columns = [pkColumn(child), ...toOnes.map((p) => p.fieldNames[0]!)];
      const fk = childFkOf(prop)!.fieldNames[0]!;
      const rows = await selectRows(em, tableOf(child), columns, fk, [...pks], ctx, lock);
      const known = seen.get(child.className) ?? new Set<Pk>();
      seen.set(child.className, known);
      const deleted: Pk[] = [];
      for (const record of rows) {
        const pk = normalizeDbPk(child, record.c0);
        if (pk === null || known.has(pk)) continue;
        known.add(pk);
        deleted.push(pk);
        found(child.className, pk);
        reportToOne(record, toOnes, found);
      }
      for (const relation of child.relations) {
        if (isToOneOwner(relation)) continue;
        const key = `${child.className}.${relation.name}`;
        const cascades = cascadesOnDelete(relation);
        for (const pk of deleted) addTo(cascades ? next : plan.relations, key, child, relation, pk);
      }
    }
    level = [...next.values()];
  }
}

/**
 * Runs a plan: every query in `ctx` (the flush's transaction), rows locked where the dialect can
 * and `ctx` is a transaction. Reports every related row found; it is up to the caller to refresh them.
 */
export async function runLookups(
  em: EntityManager,
  plan: LookupPlan,
  found: FoundRef,
  ctx?: Transaction,
): Promise<void> {
  if (!hasLookups(plan)) return;
  const lock = ctx !== undefined && locksRows(em);
  await lockRows(em, plan, found, ctx, lock);
  await followCascades(em, plan, found, ctx, lock);
  for (const { meta, prop, pks } of plan.relations.values()) {
    for (const [, related] of await fetchRelationPairs(em, meta, prop, [...pks], ctx, lock)) {
      found(prop.targetMeta!.className, related);
    }
  }
}
