import type { ChangeSet, EntityManager, EntityMetadata, Transaction, UnitOfWork } from '@mikro-orm/core';
import { helper, ReferenceKind } from '@mikro-orm/core';
import type { Pk } from '../strategy/pk.js';
import {
  emptyPlan,
  type LookupPlan,
  lookupCascade,
  lookupRelation,
  lookupToOne,
  markDeleted,
  runLookups,
} from './lookups.js';
import {
  cascadesOnDelete,
  type EntityRef,
  entityNameOf,
  isToMany,
  isToOneOwner,
  normalizeDbPk,
  pkOfEntity,
  refKey,
  relatedEntity,
} from './relations.js';

/**
 * What one flush changed, as the instances whose cached records may now be wrong: the changed
 * instances themselves and their previous and new relation neighbours.
 *
 * Three moments matter. In `onFlush` the unit of work still knows what is about to change: the
 * previous members of many-to-many collections (the snapshot), the full previous row of a deleted
 * entity, and which previous values MikroORM never loaded (`lookups`). Those are looked up inside
 * the flush's transaction before its first statement ({@link resolveLookups}: at `onFlush` inside
 * an explicit transaction, at `afterTransactionStart` for a plain flush). After the flush's SQL
 * ran (`afterFlush`, or `afterTransactionCommit` of a plain flush, which comes first) new entities
 * have pks; {@link finishCapture} resolves them.
 */
export interface FlushCapture {
  /** Refs known before the flush's SQL (pks of deleted rows, previous FKs, looked-up neighbours). */
  readonly known: Map<string, EntityRef>;
  /** Entities whose pk the flush may assign (new ones), resolved after the flush. */
  readonly entities: Set<object>;
  /** Previous values MikroORM does not know, to look up before the flush's SQL runs. */
  readonly lookups: LookupPlan;
  /** True while the lookups wait for the flush's own transaction to begin. */
  lookupsDeferred: boolean;
  /** Set once the capture was handed on, so the `afterFlush` that follows a commit skips it. */
  emitted: boolean;
}

function addKnown(known: Map<string, EntityRef>, entity: string, pk: Pk | null): void {
  if (pk !== null) known.set(refKey(entity, pk), { entity, pk });
}

function addEntity(entities: Set<object>, value: unknown): void {
  const entity = relatedEntity(value);
  if (entity) entities.add(entity);
}

function collectionItems(
  value: unknown,
): { items: object[]; snapshot: object[] | undefined; initialized: boolean } | null {
  const collection = value as
    | {
        getItems?(check?: boolean): object[];
        getSnapshot?(): object[] | undefined;
        isInitialized?(): boolean;
      }
    | null
    | undefined;
  if (!collection || typeof collection.getItems !== 'function') return null;
  return {
    items: collection.getItems(false),
    snapshot: collection.getSnapshot?.(),
    initialized: collection.isInitialized?.() ?? false,
  };
}

/**
 * A deleted entity: its pk, its previous to-one targets and every member of its collections.
 * Children whose FK cascades are deleted by the database with it: their own neighbours are looked
 * up too (always, loaded or not), as far as the schema cascades.
 */
function captureDelete(uow: UnitOfWork, changeSet: ChangeSet<object>, capture: FlushCapture): void {
  const { meta, entity } = changeSet;
  const plan = capture.lookups;
  const pk = normalizeDbPk(meta, changeSet.getPrimaryKey()) ?? pkOfEntity(entity);
  if (pk === null) return;
  addKnown(capture.known, meta.className, pk);
  markDeleted(plan, meta, pk);
  const original = (uow.getOriginalEntityData(entity) ?? {}) as Record<string, unknown>;
  const current = entity as Record<string, unknown>;
  for (const prop of meta.relations) {
    if (isToOneOwner(prop)) {
      if (prop.name in original)
        addKnown(
          capture.known,
          prop.targetMeta!.className,
          normalizeDbPk(prop.targetMeta!, original[prop.name]),
        );
      else lookupToOne(plan, meta, prop, pk);
      addEntity(capture.entities, current[prop.name]);
      continue;
    }
    if (!isToMany(prop) && prop.kind !== ReferenceKind.ONE_TO_ONE) continue;
    // Members vanish with the row (FK cascade, or SET NULL): name every one of them. A loaded
    // collection knows them; otherwise ask the database before the delete runs.
    const members = collectionItems(current[prop.name]);
    if (members?.initialized) {
      for (const item of members.items) capture.entities.add(item);
      for (const item of members.snapshot ?? []) capture.entities.add(item);
    } else if (prop.kind === ReferenceKind.ONE_TO_ONE) {
      addEntity(capture.entities, current[prop.name]);
    }
    if (cascadesOnDelete(prop)) lookupCascade(plan, meta, prop, pk);
    else if (!members?.initialized) lookupRelation(plan, meta, prop, pk);
  }
}

/** A created or updated entity: itself, and the previous and new targets of changed to-one relations. */
function captureUpsert(changeSet: ChangeSet<object>, capture: FlushCapture): void {
  const { meta, entity, payload } = changeSet;
  capture.entities.add(entity);
  const isCreate = changeSet.type === 'create';
  const original = (changeSet.originalEntity ?? {}) as Record<string, unknown>;
  const pk = isCreate ? null : pkOfEntity(entity);
  for (const prop of meta.relations) {
    if (!isToOneOwner(prop)) continue;
    if (!isCreate && !(prop.name in (payload as object))) continue;
    addEntity(capture.entities, (entity as Record<string, unknown>)[prop.name]);
    if (isCreate || pk === null) continue;
    if (prop.name in original)
      addKnown(
        capture.known,
        prop.targetMeta!.className,
        normalizeDbPk(prop.targetMeta!, original[prop.name]),
      );
    else lookupToOne(capture.lookups, meta, prop, pk);
  }
}

/** Many-to-many changes, on either side: the owner, and every item added or removed. */
function captureCollections(uow: UnitOfWork, capture: FlushCapture): void {
  for (const collection of uow.getCollectionUpdates()) {
    const prop = collection.property;
    if (prop.kind !== ReferenceKind.MANY_TO_MANY) continue;
    const members = collectionItems(collection);
    if (!members) continue;
    const { items, snapshot } = members;
    const before = new Set(snapshot ?? []);
    const after = new Set(items);
    const added = items.filter((item) => !before.has(item));
    const removed = (snapshot ?? []).filter((item) => !after.has(item));
    if (snapshot !== undefined && added.length === 0 && removed.length === 0) continue;
    capture.entities.add(collection.owner);
    for (const item of added) capture.entities.add(item);
    for (const item of removed) capture.entities.add(item);
    if (snapshot === undefined) {
      // `removeAll()` / `set()` on a collection that was never loaded: MikroORM deletes every
      // pivot row of the owner without knowing them. Name them now, before the delete runs.
      const meta = helperMeta(collection.owner);
      const pk = pkOfEntity(collection.owner);
      if (meta && pk !== null) lookupRelation(capture.lookups, meta, prop, pk);
    }
  }
}

function helperMeta(entity: object): EntityMetadata | undefined {
  return helper(entity)?.__meta;
}

/** A capture with nothing in it yet. */
export function emptyCapture(): FlushCapture {
  return {
    known: new Map(),
    entities: new Set(),
    lookups: emptyPlan(),
    lookupsDeferred: false,
    emitted: false,
  };
}

/**
 * Captures a flush in `onFlush`, synchronously: what the unit of work knows. What it does not know
 * is listed in `capture.lookups`, for {@link resolveLookups}.
 */
export function captureFlush(uow: UnitOfWork): FlushCapture {
  const capture = emptyCapture();
  for (const changeSet of uow.getChangeSets() as ChangeSet<object>[]) {
    if (changeSet.type.startsWith('delete')) captureDelete(uow, changeSet, capture);
    else captureUpsert(changeSet, capture);
  }
  captureCollections(uow, capture);
  return capture;
}

/**
 * True when the flush about to run opens its own transaction (a plain `em.flush()` outside any
 * transaction): MikroORM's own test, made in `onFlush`, before it begins that transaction.
 */
export function flushOpensTransaction(em: EntityManager): boolean {
  return (
    !em.isInTransaction() &&
    em.getPlatform().supportsTransactions() &&
    Boolean(em.config.get('implicitTransactions'))
  );
}

/**
 * Runs the capture's lookups in `ctx`, the flush's transaction, before the flush's own SQL: one
 * query per relation whose previous members MikroORM does not know, after locking the rows
 * concerned where the database has row locks. See `lookups.ts`.
 */
export async function resolveLookups(
  em: EntityManager,
  capture: FlushCapture,
  ctx?: Transaction,
): Promise<void> {
  capture.lookupsDeferred = false;
  await runLookups(em, capture.lookups, (entity, pk) => addKnown(capture.known, entity, pk), ctx);
}

/**
 * Resolves a capture to refs once the flush's SQL ran (new entities have pks now), adding what the
 * change sets say after the flush (a later `onFlush` listener may have added change sets).
 */
export function finishCapture(uow: UnitOfWork, capture: FlushCapture | undefined): Map<string, EntityRef> {
  const refs = new Map<string, EntityRef>(capture?.known);
  const entities = new Set<object>(capture?.entities);
  for (const changeSet of uow.getChangeSets() as ChangeSet<object>[]) {
    if (changeSet.type.startsWith('delete')) {
      const pk = normalizeDbPk(changeSet.meta, changeSet.getPrimaryKey());
      if (pk !== null)
        refs.set(refKey(changeSet.meta.className, pk), { entity: changeSet.meta.className, pk });
      continue;
    }
    entities.add(changeSet.entity);
    const isCreate = changeSet.type === 'create';
    for (const prop of changeSet.meta.relations) {
      if (!isToOneOwner(prop) || (!isCreate && !(prop.name in (changeSet.payload as object)))) continue;
      addEntity(entities, (changeSet.entity as Record<string, unknown>)[prop.name]);
    }
  }
  for (const entity of entities) {
    const name = entityNameOf(entity);
    const pk = pkOfEntity(entity);
    if (name !== undefined && pk !== null) refs.set(refKey(name, pk), { entity: name, pk });
  }
  return refs;
}

/** Refs for an entity written by `em.upsert`: itself and its current to-one targets (previous ones are unknown). */
export function upsertRefs(entity: object): Map<string, EntityRef> {
  const refs = new Map<string, EntityRef>();
  for (const value of [entity, ...toOneValues(entity)]) {
    const name = entityNameOf(value);
    const pk = pkOfEntity(value);
    if (name !== undefined && pk !== null) refs.set(refKey(name, pk), { entity: name, pk });
  }
  return refs;
}

function toOneValues(entity: object): object[] {
  const meta = helperMeta(entity);
  if (!meta) return [];
  const out: object[] = [];
  for (const prop of meta.relations) {
    if (!isToOneOwner(prop)) continue;
    const related = relatedEntity((entity as Record<string, unknown>)[prop.name]);
    if (related) out.push(related);
  }
  return out;
}
