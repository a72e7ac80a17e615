import {
  Cascade,
  type EntityManager,
  type EntityMetadata,
  type EntityProperty,
  helper,
  Reference,
  ReferenceKind,
  ScalarReference,
  type Transaction,
} from '@mikro-orm/core';
import { StrategyDefinitionError } from '../errors.js';
import type { Pk } from '../strategy/pk.js';

/**
 * Metadata helpers shared by the subscriber and the derived strategies: which properties are
 * relations, how to read a pk from an entity or a raw row, and the one batched query that reads
 * relation pairs. Internal to `graphql-cached-instances/mikro-orm`.
 */

/** An entity reference before it is turned into a `{ model, pk }` ref: the entity name and its pk. */
export interface EntityRef {
  readonly entity: string;
  readonly pk: Pk;
}

/** A stable map key for a ref: `Question\u0000n:1` (the pk type is part of it, so `1` ≠ `'1'`). */
export function refKey(entity: string, pk: Pk): string {
  return `${entity}\u0000${typeof pk === 'number' ? 'n' : 's'}:${pk}`;
}

/** True for a relation whose FK column lives on this entity (many-to-one, owning one-to-one). */
export function isToOneOwner(prop: EntityProperty): boolean {
  return prop.kind === ReferenceKind.MANY_TO_ONE || (prop.kind === ReferenceKind.ONE_TO_ONE && !!prop.owner);
}

/** True for the inverse side of a one-to-one (the FK lives on the other entity). */
export function isToOneInverse(prop: EntityProperty): boolean {
  return prop.kind === ReferenceKind.ONE_TO_ONE && !prop.owner;
}

/** True for a relation read through another table: one-to-many and many-to-many (either side). */
export function isToMany(prop: EntityProperty): boolean {
  return prop.kind === ReferenceKind.ONE_TO_MANY || prop.kind === ReferenceKind.MANY_TO_MANY;
}

/** Every relation property of an entity (to-one, to-many, many-to-many), persisted ones only. */
export function relationProps(meta: EntityMetadata): EntityProperty[] {
  return meta.props.filter(
    (prop) => prop.kind !== ReferenceKind.SCALAR && prop.kind !== ReferenceKind.EMBEDDED,
  );
}

/** The single pk property of an entity, or `undefined` for a composite pk (not supported). */
export function singlePkProp(meta: EntityMetadata): EntityProperty | undefined {
  if (meta.primaryKeys.length !== 1) return undefined;
  return meta.properties[meta.primaryKeys[0]!];
}

/** Normalises a pk value read from the database or the unit of work to the entity's pk type. */
export function normalizeDbPk(meta: EntityMetadata, value: unknown): Pk | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'object') {
    // A reference or an entity where a pk was expected (FK values in original data are pks).
    return pkOfEntity(value);
  }
  const runtime = singlePkProp(meta)?.runtimeType;
  if (runtime === 'number') {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : String(value);
  }
  return typeof value === 'number' ? value : String(value);
}

/** The pk of an entity (or a `Reference` to one), or `null` when it has none yet or it is composite. */
export function pkOfEntity(value: object): Pk | null {
  const entity = Reference.isReference(value) ? Reference.unwrapReference(value) : value;
  const wrapped = helper(entity);
  if (!wrapped?.__meta) return null;
  const pk = wrapped.getPrimaryKey();
  if (typeof pk === 'number' || typeof pk === 'string') return pk;
  if (typeof pk === 'bigint') return pk.toString();
  return null;
}

/** The entity name of an entity or a reference to one. */
export function entityNameOf(value: object): string | undefined {
  const entity = Reference.isReference(value) ? Reference.unwrapReference(value) : value;
  return helper(entity)?.__meta?.className;
}

/** Unwraps a to-one value (entity, `Reference`, `null`) to the related entity, or `null`. */
export function relatedEntity(value: unknown): object | null {
  if (value === null || value === undefined || typeof value !== 'object') return null;
  return Reference.isReference(value) ? Reference.unwrapReference(value) : value;
}

/** Unwraps a scalar value that may be a lazy `ScalarReference`. */
export function scalarValue(value: unknown): unknown {
  return value instanceof ScalarReference ? value.unwrap() : value;
}

/** The FK property on the child side of a one-to-many or inverse one-to-one (the child's to-one owner). */
export function childFkOf(prop: EntityProperty): EntityProperty | undefined {
  return prop.mappedBy ? prop.targetMeta?.properties[prop.mappedBy] : undefined;
}

/**
 * True when deleting a row makes the DATABASE delete the rows related through `prop` (a one-to-many
 * or inverse one-to-one): the child's FK is `ON DELETE CASCADE`. Read from the metadata the way
 * MikroORM's schema generator reads it: `deleteRule: 'cascade'`, or no delete rule and
 * `Cascade.REMOVE` / `Cascade.ALL` on the FK. A live schema that diverges from the metadata is not seen.
 */
export function cascadesOnDelete(prop: EntityProperty): boolean {
  if (prop.kind !== ReferenceKind.ONE_TO_MANY && !isToOneInverse(prop)) return false;
  const fk = childFkOf(prop);
  if (!fk || fk.createForeignKeyConstraint === false) return false;
  if (fk.deleteRule) return fk.deleteRule.toLowerCase() === 'cascade';
  return (fk.cascade ?? []).some((cascade) => cascade === Cascade.REMOVE || cascade === Cascade.ALL);
}

/** The table of an entity, schema-qualified when the entity names a schema. */
export function tableOf(meta: EntityMetadata): string {
  return meta.schema && meta.schema !== '*' ? `${meta.schema}.${meta.tableName}` : meta.tableName;
}

interface KnexQuery {
  select(...columns: string[]): KnexQuery;
  from(table: string): KnexQuery;
  whereIn(column: string, values: readonly Pk[]): KnexQuery;
  forUpdate(): KnexQuery;
  toSQL(): { sql: string };
}

interface SqlConnection {
  getKnex(): { queryBuilder(): KnexQuery };
  execute(query: unknown, params: unknown[], method: 'all', ctx?: Transaction): Promise<unknown>;
}

const lockingDialects = new WeakMap<object, boolean>();

/** True when the em's database has row locks (`for update` on Postgres, MariaDB and MySQL; SQLite has none). */
export function locksRows(em: EntityManager): boolean {
  const knex = (em.getConnection() as unknown as SqlConnection).getKnex();
  let locks = lockingDialects.get(knex);
  if (locks === undefined) {
    const plain = knex.queryBuilder().select('c').from('t').toSQL().sql;
    locks = knex.queryBuilder().select('c').from('t').forUpdate().toSQL().sql !== plain;
    lockingDialects.set(knex, locks);
  }
  return locks;
}

/**
 * `select col0 as c0, col1 as c1 … from table where column in (…) [for update]`, in `ctx` when
 * given, built by the connection's query builder (so the dialect decides how to lock, and the
 * logged statement names its table).
 */
export async function selectRows(
  em: EntityManager,
  table: string,
  columns: readonly string[],
  where: string,
  values: readonly Pk[],
  ctx: Transaction | undefined,
  lock: boolean,
): Promise<Record<string, unknown>[]> {
  const connection = em.getConnection() as unknown as SqlConnection;
  let query = connection
    .getKnex()
    .queryBuilder()
    .select(...columns.map((column, i) => `${column} as c${i}`))
    .from(table)
    .whereIn(where, values);
  if (lock) query = query.forUpdate();
  return (await connection.execute(query, [], 'all', ctx)) as Record<string, unknown>[];
}

/**
 * Reads, for many owners at once, the pks related to each through one relation: ONE statement,
 * whatever the number of owners. The shape of the statement depends on the relation:
 *
 * - many-to-many (either side): `select owner_col, other_col from pivot where owner_col in (…)`;
 * - one-to-many and inverse one-to-one: `select pk, fk from child where fk in (…)`;
 * - many-to-one and owning one-to-one: `select pk, fk from self where pk in (…)` (the FK of each
 *   owner, as stored now — used to learn a previous value MikroORM never loaded).
 *
 * Runs in `ctx` when given (a transaction), so a lookup made during a flush sees the flush's
 * transaction; with `lock` it is a locking read (`for update`), which reads the latest committed
 * rows even where the transaction reads from an older snapshot (REPEATABLE READ, the default of
 * MariaDB and MySQL). Returns `[ownerPk, relatedPk]` pairs; owners with nothing related are absent.
 */
export async function fetchRelationPairs(
  em: EntityManager,
  meta: EntityMetadata,
  prop: EntityProperty,
  ownerPks: readonly Pk[],
  ctx?: Transaction,
  lock = false,
): Promise<[Pk, Pk][]> {
  if (ownerPks.length === 0) return [];
  const target = prop.targetMeta!;
  let table: string;
  let ownerColumn: string;
  let relatedColumn: string;
  if (prop.kind === ReferenceKind.MANY_TO_MANY) {
    table = prop.pivotTable;
    ownerColumn = prop.joinColumns[0]!;
    relatedColumn = prop.inverseJoinColumns[0]!;
  } else if (isToOneOwner(prop)) {
    table = tableOf(meta);
    ownerColumn = singlePkProp(meta)!.fieldNames[0]!;
    relatedColumn = prop.fieldNames[0]!;
  } else {
    const fk = target.properties[prop.mappedBy];
    if (!fk)
      throw new StrategyDefinitionError(
        `${meta.className}.${prop.name}: mappedBy ${prop.mappedBy} not found on ${target.className}`,
        { context: { model: meta.className, field: prop.name } },
      );
    table = tableOf(target);
    ownerColumn = fk.fieldNames[0]!;
    relatedColumn = singlePkProp(target)!.fieldNames[0]!;
  }
  const rows = await selectRows(em, table, [ownerColumn, relatedColumn], ownerColumn, ownerPks, ctx, lock);
  const pairs: [Pk, Pk][] = [];
  for (const row of rows) {
    const owner = normalizeDbPk(meta, row.c0);
    const related = normalizeDbPk(target, row.c1);
    if (owner !== null && related !== null) pairs.push([owner, related]);
  }
  return pairs;
}
