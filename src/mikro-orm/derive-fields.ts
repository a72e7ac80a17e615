import {
  BigIntType,
  BlobType,
  DateType,
  DecimalType,
  type EntityMetadata,
  type EntityProperty,
  JsonType,
  ReferenceKind,
  Uint8ArrayType,
} from '@mikro-orm/core';
import { type Codec, codecs } from '../codecs/codec.js';
import { StrategyDefinitionError } from '../errors.js';
import type { PropertyName } from './derived-record.js';
import type { ComputedField } from './from-mikro-orm-options.js';
import { isToMany, isToOneInverse, isToOneOwner } from './relations.js';

/** How a record field is read from an entity. */
export type FieldKind = 'scalar' | 'toOne' | 'toOneInverse' | 'toMany';

/** One field of a derived record: the entity property it comes from, its record name and codec. */
export interface DerivedField {
  readonly prop: EntityProperty;
  readonly field: string;
  readonly kind: FieldKind;
  readonly codec: Codec<never> | undefined;
}

/**
 * The field options of `fromMikroOrm`, per version or for the whole model. Property names are
 * checked against the entity type `E` when it is known (`defineEntity`, `EntitySchema<E>`, a
 * class), and again at run time against the metadata.
 */
export interface DerivedFieldOptions<E = object> {
  /**
   * Entity property names to include. Default: every persisted scalar property and every
   * relation, except properties marked `hidden` (list those here to include them). A version's
   * `fields` replace the model's.
   */
  fields?: readonly PropertyName<E>[];
  /**
   * Entity property names to leave out (applied after `fields`). Default: none. A version's
   * `exclude` adds to the model's.
   */
  exclude?: readonly PropertyName<E>[];
  /**
   * Entity property name → record field name. Default naming: a scalar keeps its name; a to-one
   * relation becomes `<prop>Id` (`question` → `questionId`); a to-many or many-to-many relation
   * becomes its name without a trailing plural `s`, plus `Ids` (`choices` → `choiceIds`,
   * `voters` → `voterIds`, `categories` → `categoryIds`). A version's `rename` is merged over the
   * model's, entry by entry.
   */
  rename?: { readonly [K in PropertyName<E>]?: string };
  /**
   * Codecs by record field name (derived or computed), replacing the ones derived from property
   * types. Merged entry by entry, the version's entry winning.
   */
  codecs?: Readonly<Record<string, Codec<unknown>>>;
}

/** The field options once a version's are merged over the model's (what {@link deriveFields} reads). */
export interface ResolvedFieldOptions {
  readonly fields?: readonly string[] | undefined;
  readonly exclude?: readonly string[] | undefined;
  readonly rename?: Readonly<Record<string, string | undefined>> | undefined;
  readonly codecs?: Readonly<Record<string, Codec<unknown>>> | undefined;
}

function fail(message: string, model: string): never {
  throw new StrategyDefinitionError(`fromMikroOrm: ${message}`, { context: { model } });
}

/** `choices` → `choice`, `categories` → `category`, `boxes` → `box`, `voters` → `voter`. */
export function singular(name: string): string {
  if (/ies$/.test(name)) return `${name.slice(0, -3)}y`;
  if (/(ss|sh|ch|x|z)es$/.test(name)) return name.slice(0, -2);
  if (/[^s]s$/.test(name)) return name.slice(0, -1);
  return name;
}

/** The codec a scalar property needs to round-trip through JSON, from its MikroORM type. */
export function codecForProperty(prop: EntityProperty): Codec<never> | undefined {
  const type = prop.customType;
  if (type instanceof DateType) return codecs.dateOnly as Codec<never>;
  if (type instanceof BigIntType)
    return prop.runtimeType === 'bigint' ? (codecs.bigint as Codec<never>) : undefined;
  if (type instanceof DecimalType)
    return prop.runtimeType === 'string' ? (codecs.decimal as Codec<never>) : undefined;
  if (type instanceof JsonType) return codecs.json as Codec<never>;
  if (type instanceof BlobType || type instanceof Uint8ArrayType) return codecs.buffer as Codec<never>;
  if (prop.runtimeType === 'Date' || prop.type === 'Date' || prop.type === 'datetime') {
    return codecs.datetime as Codec<never>;
  }
  return undefined;
}

function kindOf(prop: EntityProperty): FieldKind | undefined {
  if (prop.kind === ReferenceKind.SCALAR) return 'scalar';
  if (isToOneOwner(prop)) return 'toOne';
  if (isToOneInverse(prop)) return 'toOneInverse';
  if (isToMany(prop)) return 'toMany';
  return undefined;
}

function defaultFieldName(prop: EntityProperty, kind: FieldKind): string {
  if (kind === 'scalar') return prop.name;
  if (kind === 'toMany') return `${singular(prop.name)}Ids`;
  return `${prop.name}Id`;
}

/**
 * Resolves the fields of one version from the entity metadata and the options, checking every
 * name: an unknown property, an unsupported one (embedded, composite relation) or two properties
 * mapped to one field name fail at once.
 */
export function deriveFields(
  meta: EntityMetadata,
  options: ResolvedFieldOptions,
  where: string,
  computed: readonly string[] = [],
): DerivedField[] {
  const model = meta.className;
  const known = (name: string, option: string) => {
    if (!meta.properties[name as keyof typeof meta.properties]) {
      fail(
        `${where}: ${option} names "${name}", which is not a property of ${model} (${meta.props.map((p) => p.name).join(', ')})`,
        model,
      );
    }
  };
  for (const name of options.fields ?? []) known(name, '`fields`');
  for (const name of options.exclude ?? []) known(name, '`exclude`');
  for (const name of Object.keys(options.rename ?? {})) known(name, '`rename`');

  const chosen = options.fields
    ? options.fields.map((name) => meta.properties[name as keyof typeof meta.properties]!)
    : meta.props.filter((prop) => !prop.hidden && prop.persist !== false && kindOf(prop) !== undefined);
  const excluded = new Set(options.exclude ?? []);
  const out: DerivedField[] = [];
  const names = new Map<string, string>();
  for (const prop of chosen) {
    if (excluded.has(prop.name)) continue;
    const kind = kindOf(prop);
    if (kind === undefined)
      fail(
        `${where}: ${model}.${prop.name} is a ${prop.kind} property, which cannot be derived; exclude it`,
        model,
      );
    if (kind !== 'scalar' && (prop.targetMeta?.primaryKeys.length ?? 0) !== 1) {
      fail(
        `${where}: ${model}.${prop.name} points to an entity with a composite pk, which is not supported; exclude it`,
        model,
      );
    }
    const field = options.rename?.[prop.name] ?? defaultFieldName(prop, kind);
    const clash = names.get(field);
    if (clash !== undefined)
      fail(
        `${where}: ${model}.${clash} and ${model}.${prop.name} both map to field "${field}"; rename one`,
        model,
      );
    names.set(field, prop.name);
    const codec =
      (options.codecs?.[field] as Codec<never> | undefined) ??
      (kind === 'scalar' ? codecForProperty(prop) : kind === 'toMany' ? codecs.pkList : codecs.pk);
    out.push({ prop, field, kind, codec: codec as Codec<never> | undefined });
  }
  for (const field of computed) {
    const clash = names.get(field);
    if (clash !== undefined)
      fail(
        `${where}: computed field "${field}" has the name of ${model}.${clash}'s field; rename one`,
        model,
      );
  }
  for (const field of Object.keys(options.codecs ?? {})) {
    if (!names.has(field) && !computed.includes(field))
      fail(`${where}: \`codecs\` names field "${field}", which is not a field of the record`, model);
  }
  return out;
}

/** Checks computed fields: a function `value`, `from` naming relations of the entity. */
export function checkComputed(
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
export function relatedGuard(meta: EntityMetadata, model: string, field: string, from: readonly string[]) {
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
