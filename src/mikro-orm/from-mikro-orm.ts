import type { EntityManager, EntityMetadata, EntityName, MetadataStorage } from '@mikro-orm/core';
import { Utils } from '@mikro-orm/core';
import type { Codec } from '../codecs/codec.js';
import { StrategyDefinitionError } from '../errors.js';
import { defineModel, type ModelDefinition, type Ref, type VersionFunctions } from '../strategy/define.js';
import type { Pk } from '../strategy/pk.js';
import { type DerivedField, type DerivedFieldOptions, deriveFields } from './derive-fields.js';
import { fetchRelationPairs, pkOfEntity, relatedEntity, scalarValue, singlePkProp } from './relations.js';

/** The record of a derived model: plain fields, `<prop>Id` pks and sorted `<prop>Ids` lists. */
export type DerivedRecord = Readonly<Record<string, unknown>>;

/** What `fromMikroOrm` needs from an ORM: its global entity manager and its metadata. */
export interface MikroOrmLike {
  readonly em: EntityManager;
  getMetadata(): MetadataStorage;
}

/** Per-version options of {@link fromMikroOrm}: the field options, and `visible`. */
export interface FromMikroOrmVersionOptions<T> extends DerivedFieldOptions {
  /**
   * Returns `false` to hide an instance: its record is `null` and it reads as not found (inactive
   * users, unpublished questions). Default: every instance is visible.
   */
  visible?(entity: T): boolean;
}

/** Options of {@link fromMikroOrm}. */
export interface FromMikroOrmOptions<T> extends FromMikroOrmVersionOptions<T> {
  /** The model name in the strategy. Default: the entity name. */
  name?: string;
  /**
   * The versions the model exists in. An array gives each the options above; an object gives each
   * version its own options, merged over the ones above. Default: every version of the strategy.
   */
  versions?: readonly string[] | Readonly<Record<string, FromMikroOrmVersionOptions<T>>>;
  /**
   * The entity names the invalidator may name. Default: every entity this one is related to. Leave
   * out related entities the strategy does not cache.
   */
  cascadeTo?: readonly string[];
  /**
   * Which neighbours the invalidator names when a record changed. `'changed'` (default): only
   * those whose relation to this instance changed (joined, left), since a derived record holds
   * nothing but pks of its neighbours. `'all'`: every previous and current neighbour, for
   * strategies whose other models embed more of this one than its pk.
   */
  neighbours?: 'changed' | 'all';
}

interface VersionPlan<T> {
  readonly fields: readonly DerivedField[];
  readonly visible: ((entity: T) => boolean) | undefined;
}

function fail(message: string, model?: string): never {
  throw new StrategyDefinitionError(`fromMikroOrm: ${message}`, { context: { model } });
}

/** Gives a generated function a descriptive `toString`: the strategy hash reads it, so a changed field list starts a fresh cache. */
function described<F extends (...args: never[]) => unknown>(fn: F, text: string): F {
  Object.defineProperty(fn, 'toString', { value: () => text });
  return fn;
}

function sortPks(pks: Pk[]): Pk[] {
  return pks.sort((a, b) =>
    typeof a === 'number' && typeof b === 'number'
      ? a - b
      : String(a) < String(b)
        ? -1
        : String(a) > String(b)
          ? 1
          : 0,
  );
}

/**
 * Derives a cached model from MikroORM entity metadata: its serializer, its batched loader and its
 * invalidator, for one entity, in one or more versions.
 *
 * - **Record.** Scalar properties keep their names and get codecs from their types (`Date` →
 *   `codecs.datetime`, `date` → `dateOnly`, `bigint` → `bigint`, `decimal` → `decimal`, `json` →
 *   `json`, `blob`/`uint8array` → `buffer`). A to-one relation becomes `<prop>Id`, a to-many or
 *   many-to-many relation a sorted `<singular prop>Ids` list. See {@link DerivedFieldOptions}.
 * - **Loader.** For a batch of N pks: ONE query for the entities (no collection is populated)
 *   plus ONE query per to-many / many-to-many / inverse one-to-one relation any version includes
 *   (pivot rows or child FKs for all N at once), in a fresh fork of the global entity manager
 *   (no request context, no transaction). Never a query per instance.
 * - **Invalidator.** The neighbours through every relation the record holds, from the fresh
 *   entity AND from the previous record, so a child moved from A to B names both.
 *
 * The ORM must be initialised (its metadata discovered). Misuse fails here, synchronously, with a
 * `StrategyDefinitionError` (`E_STRATEGY_INVALID`) naming the entity, the option and the fix.
 *
 * @example
 * const strategy = defineStrategy({
 *   versions: ['v1', 'v2'],
 *   models: [
 *     fromMikroOrm(orm, 'Question'),
 *     fromMikroOrm(orm, 'Choice', { versions: { v1: {}, v2: { exclude: ['voters'] } } }),
 *     fromMikroOrm(orm, 'User', { exclude: ['active'], visible: (u) => u.active }),
 *   ],
 * });
 */
export function fromMikroOrm<T extends object = object>(
  orm: MikroOrmLike,
  entity: EntityName<T>,
  options: FromMikroOrmOptions<T> = {},
): ModelDefinition<string, T, DerivedRecord> {
  if (!orm || typeof orm.getMetadata !== 'function')
    fail('the first argument must be an initialised MikroORM instance');
  const entityName = typeof entity === 'string' ? entity : Utils.className(entity);
  const meta = orm.getMetadata().find(entityName) as EntityMetadata<T> | undefined;
  if (!meta) {
    const names = Object.values(orm.getMetadata().getAll()).map((m) => m.className);
    fail(`unknown entity "${entityName}"; the entities are ${JSON.stringify(names)}`, entityName);
  }
  const pkProp = singlePkProp(meta);
  if (!pkProp) fail(`${meta.className} has a composite pk, which is not supported`, meta.className);
  const pkType =
    pkProp.runtimeType === 'number' ? 'number' : pkProp.runtimeType === 'string' ? 'string' : undefined;
  if (!pkType)
    fail(
      `${meta.className}.${pkProp.name} is a ${pkProp.runtimeType} pk; use a number or string pk`,
      meta.className,
    );
  const name = options.name ?? meta.className;
  const neighbours = options.neighbours ?? 'changed';
  const cascadeTo = options.cascadeTo ? new Set(options.cascadeTo) : null;

  const plan = (own: FromMikroOrmVersionOptions<T>, where: string): VersionPlan<T> => {
    const merged = { ...options, ...own };
    return { fields: deriveFields(meta, merged, where), visible: merged.visible };
  };
  const perVersion = new Map<string, VersionPlan<T>>();
  const basePlan = plan({}, `model "${name}"`);
  if (options.versions && !Array.isArray(options.versions)) {
    for (const [version, own] of Object.entries(
      options.versions as Record<string, FromMikroOrmVersionOptions<T>>,
    )) {
      perVersion.set(version, plan(own, `model "${name}" version "${version}"`));
    }
  }
  const plans = perVersion.size > 0 ? [...perVersion.values()] : [basePlan];

  // Relations read through another table, for the union of the versions' fields: one load serves all.
  const listProps = new Map<string, DerivedField['prop']>();
  for (const { fields } of plans) {
    for (const f of fields)
      if (f.kind === 'toMany' || f.kind === 'toOneInverse') listProps.set(f.prop.name, f.prop);
  }
  const lazyProps = [
    ...new Set(plans.flatMap((p) => p.fields.filter((f) => f.kind === 'scalar' && f.prop.lazy))),
  ].map((f) => f.prop.name);
  // Pks read through another table, per loaded entity. A WeakMap keeps entities plain MikroORM entities.
  const lists = new WeakMap<object, Map<string, Pk[]>>();

  const load = described(
    async (pks: readonly Pk[]): Promise<T[]> => {
      const em = orm.em.fork({ disableContextResolution: true });
      const found = (await em.find(meta.className, { [pkProp.name]: { $in: [...pks] } } as never, {
        populate: lazyProps as never,
      })) as T[];
      const byPk = new Map<Pk, Map<string, Pk[]>>();
      for (const item of found) {
        const related = new Map<string, Pk[]>();
        for (const prop of listProps.keys()) related.set(prop, []);
        lists.set(item, related);
        byPk.set(pkOfEntity(item)!, related);
      }
      const foundPks = [...byPk.keys()];
      await Promise.all(
        [...listProps.values()].map(async (prop) => {
          for (const [owner, related] of await fetchRelationPairs(em, meta, prop, foundPks)) {
            byPk.get(owner)?.get(prop.name)?.push(related);
          }
        }),
      );
      return found;
    },
    `fromMikroOrm.load(${meta.className}; lists: ${[...listProps.keys()].join(',')}; lazy: ${lazyProps.join(',')})`,
  );

  const fieldValue = (item: T, f: DerivedField): unknown => {
    const raw = (item as Record<string, unknown>)[f.prop.name];
    if (f.kind === 'scalar') return scalarValue(raw) ?? null;
    if (f.kind === 'toOne') {
      const target = relatedEntity(raw);
      return target ? pkOfEntity(target) : null;
    }
    const related = lists.get(item)?.get(f.prop.name);
    if (!related) {
      throw new StrategyDefinitionError(
        `fromMikroOrm: ${name}.serialize was given an entity that its own load did not return (no ${f.prop.name} pks); serialize only what load returns`,
        { context: { model: name, field: f.field } },
      );
    }
    return f.kind === 'toMany' ? sortPks([...related]) : (related[0] ?? null);
  };

  const functionsFor = (
    version: string,
    { fields, visible }: VersionPlan<T>,
  ): VersionFunctions<T, DerivedRecord> => {
    const serialize = described(
      (item: T): DerivedRecord | null => {
        if (visible && !visible(item)) return null;
        const record: Record<string, unknown> = {};
        for (const f of fields) record[f.field] = fieldValue(item, f);
        return record;
      },
      `fromMikroOrm.serialize(${meta.className}@${version}: ${fields.map((f) => `${f.prop.name}>${f.field}:${f.codec?.name ?? '-'}`).join(',')}; visible: ${visible ? String(visible) : '-'})`,
    );
    const invalidate = (item: T | null, previous: DerivedRecord | null): Ref[] => {
      const refs = new Map<string, Ref>();
      for (const f of fields) {
        if (f.kind === 'scalar') continue;
        const target = f.prop.targetMeta!.className;
        if (cascadeTo && !cascadeTo.has(target)) continue;
        const now = item ? toPkList(fieldValue(item, f)) : [];
        const before = previous && f.field in previous ? toPkList(previous[f.field]) : null;
        const nowSet = new Set(now);
        const beforeSet = new Set(before ?? []);
        // Unknown previous (cache miss): every current neighbour may be new to it.
        const named =
          neighbours === 'all' || before === null
            ? [...now, ...(before ?? [])]
            : [...now.filter((pk) => !beforeSet.has(pk)), ...before.filter((pk) => !nowSet.has(pk))];
        for (const pk of named) refs.set(`${target}\u0000${typeof pk}:${pk}`, { model: target, pk });
      }
      return [...refs.values()];
    };
    const codecs: Record<string, Codec<never>> = {};
    for (const f of fields) if (f.codec) codecs[f.field] = f.codec;
    return { serialize, invalidate, codecs };
  };

  const base = functionsFor('*', basePlan);
  const versions =
    perVersion.size > 0
      ? Object.fromEntries([...perVersion].map(([version, p]) => [version, functionsFor(version, p)]))
      : (options.versions as readonly string[] | undefined);
  return defineModel<string, T, DerivedRecord>(name, {
    pk: pkType,
    pkOf: (item: T) => pkOfEntity(item)!,
    load,
    ...base,
    ...(versions ? { versions } : {}),
  });
}

function toPkList(value: unknown): Pk[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value))
    return value.filter((pk): pk is Pk => typeof pk === 'number' || typeof pk === 'string');
  return typeof value === 'number' || typeof value === 'string' ? [value] : [];
}
