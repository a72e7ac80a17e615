/**
 * The record types of derived models, computed from MikroORM entity types (what `defineEntity`
 * and `EntitySchema<Entity>` carry) and from the literal options given to `fromMikroOrm`. Types
 * only: the run-time counterpart is derive-fields.ts, and both follow the same rules.
 */
import type {
  Collection,
  Hidden,
  HiddenProps,
  Opt,
  PrimaryKeyProp,
  Reference,
  ScalarReference,
} from '@mikro-orm/core';
import type { Pk } from '../strategy/pk.js';

/** The record of a derived model whose entity type is unknown (an entity given by name): plain JSON fields. */
export type DerivedRecord = Readonly<Record<string, unknown>>;

/** `{ a: 1 } & { b: 2 }` → `{ a: 1; b: 2 }`, for readable hovers. */
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** True for an entity type that says nothing about its properties (`object`, `any`, `unknown`). */
export type IsUntypedEntity<E> = 0 extends 1 & E ? true : [keyof E] extends [never] ? true : false;

/** MikroORM's `Opt<T>` and `Hidden<T>` brands removed (per member of a union). */
type Unbrand<T> = T extends unknown
  ? typeof Opt.__optional extends keyof T
    ? T extends Opt<infer U>
      ? UnHide<U>
      : T
    : UnHide<T>
  : never;
type UnHide<T> = typeof Hidden.__hidden extends keyof T ? (T extends Hidden<infer U> ? U : T) : T;

/** A property's value type, without `null`/`undefined` and brands. */
type Bare<V> = Unbrand<Exclude<V, null | undefined>>;

/** Values that are stored as they are (after their codec), never as relations. */
type ScalarLike =
  | string
  | number
  | bigint
  | boolean
  | symbol
  | Date
  | RegExp
  | Uint8Array
  | readonly unknown[];

/** An entity as MikroORM's own types recognise one: it names its pk (`[PrimaryKeyProp]`, `id`, `_id`, `uuid`). */
type IsEntityLike<T> = T extends ScalarLike
  ? false
  : typeof PrimaryKeyProp extends keyof T
    ? true
    : 'id' extends keyof T
      ? true
      : '_id' extends keyof T
        ? true
        : 'uuid' extends keyof T
          ? true
          : false;

/** How a property becomes a record field: `'scalar'`, `'one'` (`<prop>Id`), `'many'` (`<singular>Ids`), or `'none'` (a method). */
export type PropertyKind<V> = [Bare<V>] extends [never]
  ? 'scalar'
  : Bare<V> extends Collection<object, object>
    ? 'many'
    : Bare<V> extends ScalarReference<unknown>
      ? 'scalar'
      : Bare<V> extends Reference<object>
        ? 'one'
        : Bare<V> extends (...args: never[]) => unknown
          ? 'none'
          : IsEntityLike<Bare<V>> extends true
            ? 'one'
            : 'scalar';

/** The pk of a related entity as a record stores it (bigint pks become strings, as at run time). */
type PkValue<V> =
  Bare<V> extends infer U ? (U extends bigint ? string : U extends number | string ? U : Pk) : never;

/** The pk type of an entity type, read the way MikroORM reads it (`[PrimaryKeyProp]`, then `id`). */
export type PkOfEntity<T> = typeof PrimaryKeyProp extends keyof T
  ? NonNullable<T[typeof PrimaryKeyProp]> extends infer K
    ? K extends keyof T
      ? PkValue<T[K]>
      : Pk
    : Pk
  : 'id' extends keyof T
    ? PkValue<T['id' & keyof T]>
    : '_id' extends keyof T
      ? string
      : 'uuid' extends keyof T
        ? PkValue<T['uuid' & keyof T]>
        : Pk;

/** The entity a relation points to: `Collection<T>`, `Ref<T>`, `Reference<T>` or `T` itself. */
type Target<V> =
  Bare<V> extends Collection<infer T extends object, object>
    ? T
    : Bare<V> extends Reference<infer T extends object>
      ? T
      : Bare<V>;

/** `null` stays possible where the property may be `null` or `undefined` (stored as `null`). */
type OrNull<V, T> = null extends V ? T | null : undefined extends V ? T | null : T;

/** The record value of a property, after its codec decoded it. */
export type FieldValue<V> =
  PropertyKind<V> extends 'many'
    ? readonly PkOfEntity<Target<V>>[]
    : PropertyKind<V> extends 'one'
      ? OrNull<V, PkOfEntity<Target<V>>>
      : OrNull<V, Bare<V> extends ScalarReference<infer S> ? Exclude<S, null | undefined> : Bare<V>>;

/** `choices` → `choice`, `categories` → `category`, `boxes` → `box`, `voters` → `voter` (as `singular()` at run time). */
export type Singular<S extends string> = S extends `${infer B}ies`
  ? `${B}y`
  : S extends `${infer B}${'ss' | 'sh' | 'ch' | 'x' | 'z'}es`
    ? S extends `${B}${infer E}es`
      ? `${B}${E}`
      : never
    : S extends `${string}ss`
      ? S
      : S extends `${infer B}s`
        ? B
        : S;

/** The default record field name of property `K`: the name, `<prop>Id` or `<singular>Ids`. */
export type DefaultFieldName<K extends string, V> =
  PropertyKind<V> extends 'many' ? `${Singular<K>}Ids` : PropertyKind<V> extends 'one' ? `${K}Id` : K;

/** The property names of an entity type (`string` when the type is unknown). */
export type PropertyName<E> = IsUntypedEntity<E> extends true ? string : keyof E & string;

/** The relation property names of an entity type: what `computed` fields may read pks of. */
export type RelationName<E> =
  IsUntypedEntity<E> extends true
    ? string
    : { [K in keyof E & string]: PropertyKind<E[K]> extends 'many' | 'one' ? K : never }[keyof E & string];

/** The related pks a computed field is given: for each relation it lists in `from`, the sorted pks. */
export type RelatedPks<E> =
  IsUntypedEntity<E> extends true
    ? Readonly<Record<string, readonly Pk[]>>
    : { readonly [K in RelationName<E>]: readonly PkOfEntity<Target<E[K & keyof E]>>[] };

/** Property names marked hidden: `Hidden<T>`, or listed in the entity's `[HiddenProps]`. */
type HiddenNames<E> =
  | (E extends { [HiddenProps]?: infer H } ? H & string : never)
  | {
      [K in keyof E & string]: typeof Hidden.__hidden extends keyof Exclude<E[K], null | undefined>
        ? K
        : never;
    }[keyof E & string];

/** The properties a record holds when `fields` is not given: every property but methods and hidden ones. */
export type DefaultPropertyNames<E> = Exclude<
  { [K in keyof E & string]: PropertyKind<E[K]> extends 'none' ? never : K }[keyof E & string],
  HiddenNames<E>
>;

/** The options that decide a record's shape, as `fromMikroOrm` reads them (literal types). */
export interface ShapeOptions {
  readonly fields?: readonly string[];
  readonly exclude?: readonly string[];
  readonly rename?: { readonly [property: string]: string | undefined };
  readonly computed?: { readonly [field: string]: { value(...args: never[]): unknown } };
}

type FieldsOf<O> = O extends { readonly fields: readonly (infer F extends string)[] } ? F : undefined;
type ExcludeOf<O> = O extends { readonly exclude: readonly (infer X extends string)[] } ? X : never;
/** No options: what a version without its own options merges over the model's. */
type NoOptions = Record<never, never>;

type RenameOf<O> = O extends { readonly rename: infer R extends object } ? R : NoOptions;
type ComputedOf<O> = O extends { readonly computed: infer C extends object } ? C : NoOptions;

/**
 * A version's options merged over the model's, as `fromMikroOrm` merges them: `fields` and
 * `visible` of the version replace the model's, `exclude` lists add up, `rename`, `codecs` and
 * `computed` merge key by key (the version's entry wins).
 */
export interface MergedShape<M, V> {
  fields: [FieldsOf<V>] extends [undefined] ? FieldsOf<M> : FieldsOf<V>;
  exclude: ExcludeOf<M> | ExcludeOf<V>;
  rename: Omit<RenameOf<M>, keyof RenameOf<V>> & RenameOf<V>;
  computed: Omit<ComputedOf<M>, keyof ComputedOf<V>> & ComputedOf<V>;
}

type SelectedNames<E, S extends MergedShape<unknown, unknown>> = Exclude<
  [S['fields']] extends [undefined] ? DefaultPropertyNames<E> : S['fields'] & keyof E & string,
  S['exclude']
>;

type FieldNameOf<E, K extends keyof E & string, Rename> = K extends keyof Rename
  ? Rename[K] extends string
    ? Rename[K]
    : DefaultFieldName<K, E[K]>
  : DefaultFieldName<K, E[K]>;

type ComputedValues<C> = {
  readonly [F in keyof C]: C[F] extends { value(...args: never[]): infer R } ? R : never;
};

/** The record of entity type `E` under merged options `S`. */
export type RecordOfShape<E, S extends MergedShape<unknown, unknown>> =
  IsUntypedEntity<E> extends true
    ? DerivedRecord
    : Simplify<
        {
          readonly [K in SelectedNames<E, S> as FieldNameOf<E, K, S['rename']>]: FieldValue<E[K]>;
        } & ComputedValues<S['computed']>
      >;

/**
 * Version name → record type of a derived model, from its options `O`: the keys of `versions`
 * (an object) or its items (an array); `'*'` (every version of the strategy) when `versions` is
 * not given.
 */
export type DerivedVersionRecords<E, O> = O extends { readonly versions: infer Vs }
  ? Vs extends readonly (infer N extends string)[]
    ? { [V in N]: RecordOfShape<E, MergedShape<O, NoOptions>> }
    : { [V in keyof Vs & string]: RecordOfShape<E, MergedShape<O, Vs[V]>> }
  : { '*': RecordOfShape<E, MergedShape<O, NoOptions>> };
