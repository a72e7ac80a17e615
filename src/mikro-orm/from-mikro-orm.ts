import type {
  EntityClass,
  EntityManager,
  EntityMetadata,
  EntityName,
  EntityProperty,
  EntitySchema,
  MetadataStorage,
} from '@mikro-orm/core';
import { Utils } from '@mikro-orm/core';
import type { Codec } from '../codecs/codec.js';
import { StrategyDefinitionError } from '../errors.js';
import { defineModel, type ModelDefinition, type Ref, type VersionFunctions } from '../strategy/define.js';
import type { Pk } from '../strategy/pk.js';
import { type DerivedField, type DerivedFieldOptions, deriveFields } from './derive-fields.js';
import type { DerivedRecord, DerivedVersionRecords, RelatedPks, RelationName } from './derived-record.js';
import {
  fetchRelationPairs,
  isToOneOwner,
  pkOfEntity,
  relatedEntity,
  scalarValue,
  singlePkProp,
} from './relations.js';

export type { DerivedRecord } from './derived-record.js';

/** What `fromMikroOrm` needs from an ORM: its global entity manager and its metadata. */
export interface MikroOrmLike {
  readonly em: EntityManager;
  getMetadata(): MetadataStorage;
}

/**
 * A field computed from the entity when its record is serialized (`supportCount`, `voteCount`):
 * `value(entity, related)` returns a JSON value, or a value its codec (`codecs: { [field]: … }`)
 * encodes. The loaded entity has no populated collections: read related pks from `related`,
 * which holds, sorted, the pks of each relation listed in `from` (the loader reads them with the
 * entities: one query per to-many relation for the whole batch). Reading a relation not listed
 * in `from` throws. The function's source and `from` are part of the strategy hash, so changing
 * them starts a fresh cache.
 */
export interface ComputedField<E = object, V = unknown> {
  /** The relations whose pks `value` reads. Default: none. */
  readonly from?: readonly RelationName<E>[];
  /** Computes the field. Must be synchronous and pure: the same entity gives the same value. */
  value(entity: E, related: RelatedPks<E>): V;
}

/** Per-version options of {@link fromMikroOrm}: the field options, `computed` and `visible`. */
export interface FromMikroOrmVersionOptions<E = object> extends DerivedFieldOptions<E> {
  /**
   * Fields computed from the entity, by record field name (see {@link ComputedField}). Default:
   * none. A version's entries are merged over the model's.
   */
  computed?: { readonly [field: string]: ComputedField<E> };
  /**
   * Returns `false` to hide an instance: its record is `null` and it reads as not found (inactive
   * users, unpublished questions). Default: every instance is visible. A version's `visible`
   * replaces the model's (`visible: undefined` shows every instance in that version).
   */
  visible?(entity: E): boolean;
}

/** Options of {@link fromMikroOrm}. */
export interface FromMikroOrmOptions<E = object> extends FromMikroOrmVersionOptions<E> {
  /**
   * The model name in the strategy. Default: the entity name. MikroORM 6's entity types do not
   * carry the entity's name, so give it here (`name: 'Question'`) for the strategy's record map
   * to be keyed by it; without it the model's name types as `string`.
   */
  name?: string;
  /**
   * The versions the model exists in. An array gives each the options above; an object gives each
   * version its own options, merged over the ones above (see {@link FromMikroOrmVersionOptions}
   * for how each option merges). Default: every version of the strategy.
   */
  versions?: readonly string[] | { readonly [version: string]: FromMikroOrmVersionOptions<E> };
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

/**
 * The entity type behind what `fromMikroOrm` is given: the `E` of a `defineEntity` result or an
 * `EntitySchema<E>`, the instance type of a class, `object` (untyped) for an entity name.
 */
export type EntityOf<S> = S extends string
  ? object
  : S extends EntitySchema<infer E, never>
    ? E
    : S extends EntitySchema<infer E, infer _Base>
      ? E
      : S extends EntityClass<infer E>
        ? E
        : object;

/** The model name `fromMikroOrm` gives: `options.name`, else the entity name when given as a string, else `string`. */
export type DerivedModelName<S, O> = O extends { readonly name: infer N extends string }
  ? N
  : S extends string
    ? S
    : string;

/**
 * What `fromMikroOrm` returns: a model definition whose records are typed from the entity type
 * and the options, per version. Read the records through the strategy: `RecordsOf<typeof
 * strategy, 'v2'>['Question']`. A model whose name is only known as `string` (no `name` option,
 * entity given as a schema or class) keeps untyped records ({@link DerivedRecord}): the
 * strategy's record map could not tell it from the other models anyway.
 */
export type DerivedModel<S, O> =
  string extends DerivedModelName<S, O>
    ? ModelDefinition<string, EntityOf<S>, DerivedRecord>
    : ModelDefinition<
        DerivedModelName<S, O>,
        EntityOf<S>,
        DerivedVersionRecords<EntityOf<S>, O>[keyof DerivedVersionRecords<EntityOf<S>, O>] & object,
        DerivedVersionRecords<EntityOf<S>, O>
      >;

interface VersionPlan<T> {
  readonly fields: readonly DerivedField[];
  readonly computed: readonly [string, ComputedField<T>][];
  readonly codecs: Readonly<Record<string, Codec<unknown>>>;
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
export function fromMikroOrm<
  const S extends string | object,
  const O extends FromMikroOrmOptions<EntityOf<S>>,
>(orm: MikroOrmLike, entity: S, options?: O): DerivedModel<S, O> {
  if (!orm || typeof orm.getMetadata !== 'function')
    fail('the first argument must be an initialised MikroORM instance');
  // Types end at the signature: inside, entities are plain objects and options are checked at run time.
  const model = (options ?? {}) as FromMikroOrmOptions;
  const entityName = typeof entity === 'string' ? entity : Utils.className(entity as EntityName<object>);
  const meta = orm.getMetadata().find(entityName) as EntityMetadata | undefined;
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
  const name = model.name ?? meta.className;
  const neighbours = model.neighbours ?? 'changed';
  const cascadeTo = model.cascadeTo ? new Set(model.cascadeTo) : null;

  const plan = (own: FromMikroOrmVersionOptions, where: string): VersionPlan<object> => {
    const merged = mergeVersionOptions(model, own);
    const computed = checkComputed(meta, merged.computed, where);
    return {
      fields: deriveFields(meta, merged, where, Object.keys(merged.computed)),
      computed,
      codecs: merged.codecs,
      visible: merged.visible,
    };
  };
  const perVersion = new Map<string, VersionPlan<object>>();
  const basePlan = plan({}, `model "${name}"`);
  if (model.versions && !Array.isArray(model.versions)) {
    for (const [version, own] of Object.entries(
      model.versions as Readonly<Record<string, FromMikroOrmVersionOptions>>,
    )) {
      perVersion.set(version, plan(own ?? {}, `model "${name}" version "${version}"`));
    }
  }
  const plans = perVersion.size > 0 ? [...perVersion.values()] : [basePlan];

  // Relations read through another table, for the union of the versions' fields and the `from`
  // of their computed fields: one load serves all.
  const listProps = new Map<string, EntityProperty>();
  for (const { fields, computed } of plans) {
    for (const f of fields)
      if (f.kind === 'toMany' || f.kind === 'toOneInverse') listProps.set(f.prop.name, f.prop);
    for (const [, field] of computed) {
      for (const relation of field.from ?? []) {
        const prop = meta.properties[relation as keyof typeof meta.properties]!;
        if (!isToOneOwner(prop)) listProps.set(prop.name, prop);
      }
    }
  }
  const lazyProps = [
    ...new Set(plans.flatMap((p) => p.fields.filter((f) => f.kind === 'scalar' && f.prop.lazy))),
  ].map((f) => f.prop.name);
  // Pks read through another table, per loaded entity. A WeakMap keeps entities plain MikroORM entities.
  const lists = new WeakMap<object, Map<string, Pk[]>>();

  const load = described(
    async (pks: readonly Pk[]): Promise<object[]> => {
      const em = orm.em.fork({ disableContextResolution: true });
      const found = (await em.find(meta.className, { [pkProp.name]: { $in: [...pks] } } as never, {
        populate: lazyProps as never,
      })) as object[];
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

  /** The pks related to `item` through `prop`, as its record holds them (sorted list, pk or `null`). */
  const relationValue = (item: object, prop: EntityProperty, kind: DerivedField['kind']): unknown => {
    const raw = (item as Record<string, unknown>)[prop.name];
    if (kind === 'scalar') return scalarValue(raw) ?? null;
    if (kind === 'toOne') {
      const target = relatedEntity(raw);
      return target ? pkOfEntity(target) : null;
    }
    const related = lists.get(item)?.get(prop.name);
    if (!related) {
      throw new StrategyDefinitionError(
        `fromMikroOrm: ${name}.serialize was given an entity that its own load did not return (no ${prop.name} pks); serialize only what load returns`,
        { context: { model: name, field: prop.name } },
      );
    }
    return kind === 'toMany' ? sortPks([...related]) : (related[0] ?? null);
  };
  const fieldValue = (item: object, f: DerivedField): unknown => relationValue(item, f.prop, f.kind);
  const relatedFor = (item: object, field: string, from: readonly string[]) => {
    const related = Object.create(relatedGuard(meta, name, field, from)) as Record<string, readonly Pk[]>;
    for (const relation of from) {
      const prop = meta.properties[relation as keyof typeof meta.properties]!;
      related[relation] = toPkList(relationValue(item, prop, relationKind(prop)));
    }
    return related;
  };

  const functionsFor = (
    version: string,
    { fields, computed, codecs: computedCodecs, visible }: VersionPlan<object>,
  ): VersionFunctions<object, DerivedRecord> => {
    const serialize = described(
      (item: object): DerivedRecord | null => {
        if (visible && !visible(item)) return null;
        const record: Record<string, unknown> = {};
        for (const f of fields) record[f.field] = fieldValue(item, f);
        for (const [field, { from, value }] of computed) {
          record[field] = value(item, relatedFor(item, field, from ?? []) as RelatedPks<object>);
        }
        return record;
      },
      `fromMikroOrm.serialize(${meta.className}@${version}: ${fields.map((f) => `${f.prop.name}>${f.field}:${f.codec?.name ?? '-'}`).join(',')}; computed: ${computed.map(([field, c]) => `${field}:${computedCodecs[field]?.name ?? '-'}(${(c.from ?? []).join(',')})=${String(c.value)}`).join(';')}; visible: ${visible ? String(visible) : '-'})`,
    );
    const invalidate = (item: object | null, previous: DerivedRecord | null): Ref[] => {
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
    for (const [field] of computed) {
      const codec = computedCodecs[field];
      if (codec) codecs[field] = codec as Codec<never>;
    }
    return { serialize, invalidate, codecs };
  };

  const base = functionsFor('*', basePlan);
  const versions =
    perVersion.size > 0
      ? Object.fromEntries([...perVersion].map(([version, p]) => [version, functionsFor(version, p)]))
      : (model.versions as readonly string[] | undefined);
  return defineModel<string, object, DerivedRecord>(name, {
    pk: pkType,
    pkOf: (item: object) => pkOfEntity(item)!,
    load,
    ...base,
    ...(versions ? { versions } : {}),
  }) as unknown as DerivedModel<S, O>;
}

/** The merged options of one version (see {@link FromMikroOrmVersionOptions} for the rules). */
interface MergedVersionOptions {
  readonly fields: readonly string[] | undefined;
  readonly exclude: readonly string[];
  readonly rename: Readonly<Record<string, string | undefined>>;
  readonly codecs: Readonly<Record<string, Codec<unknown>>>;
  readonly computed: Readonly<Record<string, ComputedField>>;
  readonly visible: ((entity: object) => boolean) | undefined;
}

/**
 * Merges a version's options over the model's: `fields` and `visible` of the version replace the
 * model's, `exclude` lists add up, and `rename`, `codecs` and `computed` merge entry by entry with
 * the version's entry winning.
 */
export function mergeVersionOptions(
  model: FromMikroOrmVersionOptions,
  own: FromMikroOrmVersionOptions,
): MergedVersionOptions {
  return {
    fields: 'fields' in own ? own.fields : model.fields,
    exclude: [...new Set([...(model.exclude ?? []), ...(own.exclude ?? [])])],
    rename: { ...model.rename, ...own.rename },
    codecs: { ...model.codecs, ...own.codecs },
    computed: { ...model.computed, ...own.computed },
    visible: 'visible' in own ? own.visible : model.visible,
  };
}

function relationKind(prop: EntityProperty): DerivedField['kind'] {
  return isToOneOwner(prop) ? 'toOne' : prop.kind === '1:1' ? 'toOneInverse' : 'toMany';
}

/** Checks computed fields: a function `value`, `from` naming relations of the entity. */
function checkComputed(
  meta: EntityMetadata,
  computed: Readonly<Record<string, ComputedField>>,
  where: string,
): [string, ComputedField][] {
  const model = meta.className;
  return Object.entries(computed).map(([field, spec]) => {
    if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(field))
      fail(`${where}: computed field name ${JSON.stringify(field)} is not an identifier`, model);
    if (!spec || typeof spec.value !== 'function')
      fail(`${where}: computed field "${field}" needs value(entity, related), a function`, model);
    for (const relation of spec.from ?? []) {
      const prop = meta.properties[relation as keyof typeof meta.properties];
      if (!prop || prop.kind === 'scalar' || prop.kind === 'embedded')
        fail(
          `${where}: computed field "${field}" reads from "${relation}", which is not a relation of ${model} (${meta.relations.map((r) => r.name).join(', ')})`,
          model,
        );
    }
    return [field, spec];
  });
}

const guards = new Map<string, object>();

/**
 * The prototype of a computed field's `related` object: reading a relation of the entity that
 * the field's `from` does not list throws, instead of reading `undefined` where pks were expected.
 */
function relatedGuard(meta: EntityMetadata, model: string, field: string, from: readonly string[]) {
  const key = `${model}\u0000${field}\u0000${from.join(',')}`;
  let guard = guards.get(key);
  if (!guard) {
    guard = {};
    for (const prop of meta.relations) {
      if (from.includes(prop.name)) continue;
      Object.defineProperty(guard, prop.name, {
        get() {
          throw new StrategyDefinitionError(
            `fromMikroOrm: computed field ${model}.${field} reads related pks of "${prop.name}"; list it in the field's \`from\``,
            { context: { model, field } },
          );
        },
      });
    }
    guards.set(key, guard);
  }
  return guard;
}

function toPkList(value: unknown): Pk[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value))
    return value.filter((pk): pk is Pk => typeof pk === 'number' || typeof pk === 'string');
  return typeof value === 'number' || typeof value === 'string' ? [value] : [];
}
