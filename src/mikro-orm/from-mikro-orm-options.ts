/**
 * The options of `fromMikroOrm` and the types it infers from them, and how a version's options
 * merge with the model's.
 */
import type { EntityClass, EntityManager, EntitySchema, MetadataStorage } from '@mikro-orm/core';
import type { Codec } from '../codecs/codec.js';
import type { ModelDefinition } from '../strategy/define.js';
import type { DerivedFieldOptions } from './derive-fields.js';
import type { DerivedRecord, DerivedVersionRecords, RelatedPks, RelationName } from './derived-record.js';

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
  /**
   * Lets root lists of this model be cached (the Apollo list builder's `cache` option), naming the
   * entity properties the list queries filter or sort on: a create, a delete (or hide), or a change
   * to one of them invalidates every cached list of the model. `'all'`: any change does. Default:
   * none, lists are not cached. A version's `listFields` replaces the model's.
   */
  listFields?: readonly (keyof E & string)[] | 'all';
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

/** The merged options of one version (see {@link FromMikroOrmVersionOptions} for the rules). */
interface MergedVersionOptions {
  readonly fields: readonly string[] | undefined;
  readonly exclude: readonly string[];
  readonly rename: Readonly<Record<string, string | undefined>>;
  readonly codecs: Readonly<Record<string, Codec<unknown>>>;
  readonly computed: Readonly<Record<string, ComputedField>>;
  readonly visible: ((entity: object) => boolean) | undefined;
  readonly listFields: readonly string[] | 'all' | undefined;
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
    listFields: 'listFields' in own ? own.listFields : model.listFields,
  };
}
