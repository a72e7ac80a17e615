import type { EntityMetadata, EntityName, EntityProperty } from '@mikro-orm/core';
import { Utils } from '@mikro-orm/core';
import type { Codec } from '../codecs/codec.js';
import { StrategyDefinitionError } from '../errors.js';
import { defineModel, type Ref, type VersionFunctions } from '../strategy/define.js';
import type { Pk } from '../strategy/pk.js';
import { checkComputed, type DerivedField, deriveFields, relatedGuard } from './derive-fields.js';
import type { DerivedRecord, RelatedPks } from './derived-record.js';
import {
  type ComputedField,
  type DerivedModel,
  type EntityOf,
  type FromMikroOrmOptions,
  type FromMikroOrmVersionOptions,
  type MikroOrmLike,
  mergeVersionOptions,
} from './from-mikro-orm-options.js';
import {
  fetchRelationPairs,
  isToOneOwner,
  pkOfEntity,
  relatedEntity,
  scalarValue,
  singlePkProp,
} from './relations.js';

export type { DerivedRecord } from './derived-record.js';
export type {
  ComputedField,
  DerivedModel,
  DerivedModelName,
  EntityOf,
  FromMikroOrmOptions,
  FromMikroOrmVersionOptions,
  MikroOrmLike,
} from './from-mikro-orm-options.js';

interface VersionPlan<T> {
  readonly fields: readonly DerivedField[];
  readonly computed: readonly [string, ComputedField<T>][];
  readonly codecs: Readonly<Record<string, Codec<unknown>>>;
  readonly visible: ((entity: T) => boolean) | undefined;
  readonly listFields: readonly string[] | 'all' | undefined;
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
 * - **Types.** The records are typed, per version, from the entity type (a `defineEntity`
 *   result, an `EntitySchema<E>`, a class) and the literal options, by the same rules; read them
 *   with `RecordsOf<typeof strategy, 'v2'>`. Give `name` for the model name to be a literal
 *   (MikroORM 6's entity types do not carry it); without it, and for an entity given by name,
 *   records are untyped ({@link DerivedRecord}).
 *
 * The ORM must be initialised (its metadata discovered). Misuse fails here, synchronously, with a
 * `StrategyDefinitionError` (`E_STRATEGY_INVALID`) naming the entity, the option and the fix.
 *
 * @example
 * const strategy = defineStrategy({
 *   versions: ['v1', 'v2'],
 *   models: [
 *     fromMikroOrm(orm, Question, { name: 'Question' }),
 *     fromMikroOrm(orm, Choice, { name: 'Choice', versions: { v1: {}, v2: { exclude: ['voters'] } } }),
 *     fromMikroOrm(orm, User, { name: 'User', exclude: ['active'], visible: (u) => u.active }),
 *   ],
 * });
 * type ChoiceV2 = RecordsOf<typeof strategy, 'v2'>['Choice']; // { id, choiceText, questionId }
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
      listFields: merged.listFields,
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
    { fields, computed, codecs: computedCodecs, visible, listFields }: VersionPlan<object>,
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
    if (listFields === undefined) return { serialize, invalidate, codecs };
    // Entity properties → this version's record fields (a property renamed here has another name).
    const listed =
      listFields === 'all'
        ? 'all'
        : listFields.map((prop) => {
            const field = fields.find((f) => f.prop.name === prop);
            if (!field) {
              fail(
                `listFields names "${prop}", which is not a field of the ${version} record of ${name}`,
                name,
              );
            }
            return field.field;
          });
    return { serialize, invalidate, codecs, listFields: listed };
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

function relationKind(prop: EntityProperty): DerivedField['kind'] {
  return isToOneOwner(prop) ? 'toOne' : prop.kind === '1:1' ? 'toOneInverse' : 'toMany';
}

function toPkList(value: unknown): Pk[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value))
    return value.filter((pk): pk is Pk => typeof pk === 'number' || typeof pk === 'string');
  return typeof value === 'number' || typeof value === 'string' ? [value] : [];
}
