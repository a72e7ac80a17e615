import { createHash } from 'node:crypto';
import type { Codec } from '../codecs/codec.js';
import { createRecordCodec, type RecordCodec } from '../codecs/record.js';
import {
  DuplicateModelError,
  StrategyDefinitionError,
  UnknownModelError,
  UnknownVersionError,
} from '../errors.js';
import type { Pk, PkType } from './pk.js';

/** A reference to one instance: the model name and its pk. Invalidators return these. */
export interface Ref {
  readonly model: string;
  readonly pk: Pk;
}

/**
 * A key of the application's own in the shared store (a cached count, say) that an invalidator
 * names so that the cascade deletes it, as drf-cached-instances' invalidators can name raw keys.
 * The key is used exactly as given (the store's own namespace still applies).
 */
export interface AppKeyRef {
  readonly key: string;
}

/** What a model's `load` is told about the call. */
export interface LoadContext {
  /** The model being loaded. */
  readonly model: string;
  /** The cache version the load serves (versions that share a `load` function share one call). */
  readonly version: string;
}

/**
 * The functions of one model in one version. Method syntax on purpose: a model's entity type
 * appears both in what `load` returns and in what `serialize` takes.
 */
export interface VersionFunctions<E, R extends object> {
  /**
   * Entity → JSON-safe record, with related instances as pks or sorted pk lists. Return `null` to
   * hide the instance: it then reads as not found. `null` as the function itself makes the model
   * invalidator-only in this version: it is never stored, but its changes cascade.
   */
  serialize?: ((entity: E) => R | null) | null;
  /**
   * Loads many instances, and whatever their records need, in as few queries as possible. Pks
   * that no entity answers for read as not found (and are cached as such).
   */
  load?(pks: readonly Pk[], context: LoadContext): Promise<Iterable<E>> | Iterable<E>;
  /**
   * The other instances whose records may change when this one changes. Called with the fresh
   * entity (`null` once deleted) and the record cached before the change (`null` if none), so a
   * child that moved from parent A to parent B can name both.
   */
  invalidate?(entity: E | null, previous: R | null): readonly (Ref | AppKeyRef)[];
  /** Codecs for the record fields that are not plain JSON (dates, bigints, pk lists, …). */
  codecs?: { readonly [K in keyof R]?: Codec<unknown> };
  /**
   * Lets root lists of this model be cached (`cache.getList`, or the Apollo list builder's
   * `cache` option) and names the record fields their queries filter or sort on: every create,
   * delete (or hide) of an instance, and every change to one of these fields, invalidates all
   * cached lists of the model in this version. `'all'`: any change to a record does. Default:
   * none — lists of this model are not cached.
   */
  listFields?: readonly (keyof R & string)[] | 'all';
}

/** Options of {@link defineModel}. */
export interface ModelOptions<E, R extends object> extends VersionFunctions<E, R> {
  /** The declared pk type. Default `'number'`: ids such as `'42'` from GraphQL become `42`. */
  pk?: PkType;
  /** Reads the pk of a loaded entity. Default: `entity.id`. */
  pkOf?(entity: E): Pk;
  /**
   * Loads many instances, and whatever their records need, in as few queries as possible. Required
   * (a model without it is a type error); a version may replace it.
   */
  load(pks: readonly Pk[], context: LoadContext): Promise<Iterable<E>> | Iterable<E>;
  /**
   * The versions this model exists in. An array lists them, each using the functions above; an
   * object also overrides functions per version. Default: every version of the strategy.
   */
  versions?: readonly string[] | { readonly [version: string]: VersionFunctions<E, R> };
}

/**
 * A model as declared by {@link defineModel}: its name and options, checked when the strategy is
 * defined. `VersionRecords` maps version names to the record type of each version (`'*'`: every
 * version of the strategy); derived models (`fromMikroOrm`) fill it in per version.
 */
export interface ModelDefinition<
  Name extends string = string,
  E = unknown,
  R extends object = object,
  VersionRecords extends object = { readonly '*': R },
> {
  readonly name: Name;
  readonly options: ModelOptions<E, R>;
  /** Phantom: the record type per version. Always undefined at run time. */
  readonly __versionRecords?: VersionRecords;
}

/**
 * Declares one model: its name, pk type, and for each version its serializer, batched loader and
 * invalidator. Nothing is checked until {@link defineStrategy}.
 *
 * @example
 * defineModel('Question', {
 *   load: (pks) => db.questions.whereIn('id', pks),
 *   serialize: (q) => ({ id: q.id, text: q.text, pubDate: q.pubDate, choiceIds: q.choiceIds }),
 *   invalidate: () => [],
 *   codecs: { pubDate: codecs.datetime, choiceIds: codecs.pkList },
 * })
 */
export function defineModel<Name extends string, E, R extends object>(
  name: Name,
  options: ModelOptions<E, R>,
): ModelDefinition<Name, E, R> {
  return { name, options };
}

/** Options of {@link defineStrategy}. */
export interface StrategyOptions<Models extends readonly AnyModelDefinition[]> {
  /** The cache versions, one per API representation (`['v1', 'v2']`). */
  versions: readonly string[];
  /** The version used when none is asked for. Default: the first of `versions`. */
  defaultVersion?: string;
  /** The models. Hand-written and derived (`fromMikroOrm`) models mix freely. */
  models: Models;
  /**
   * Key namespace, the first segment of every key. Default `'gci'`. Give each application
   * sharing a Redis its own.
   */
  namespace?: string;
  /**
   * Free text folded into each version's definition hash. Change it to start a fresh cache when
   * something the hash cannot see changed (the data a `load` reads, say). Default `''`.
   */
  revision?: string;
}

/** One model in one version, fully resolved. Internal to the cache, exported for integrations. */
export interface ResolvedVersion {
  readonly model: string;
  readonly version: string;
  readonly pkType: PkType;
  /** `null` for an invalidator-only model. */
  readonly serialize: ((entity: unknown) => object | null) | null;
  readonly load: (pks: readonly Pk[], context: LoadContext) => Promise<Iterable<unknown>> | Iterable<unknown>;
  readonly invalidate: (entity: unknown, previous: object | null) => readonly (Ref | AppKeyRef)[];
  /** The record fields cached lists depend on, `'all'`, or `null` when lists are not cached. */
  readonly listFields: readonly string[] | 'all' | null;
  readonly pkOf: (entity: unknown) => Pk;
  readonly codec: RecordCodec<object>;
  /** `{namespace}:{version}:{Model}:` — the key of a pk is this plus the encoded pk. */
  readonly keyPrefix: string;
  /**
   * `#` and 8 hex characters of SHA-256 over this model version's definition (name, pk type,
   * serializer and loader source, codecs, list fields) and the strategy's `revision`. Every stored
   * record starts with it: a record written by another definition (another deploy, another build)
   * reads as a miss and is overwritten, while every definition shares the keys, so an
   * invalidation by any process reaches every process.
   */
  readonly recordTag: string;
}

/** A model across versions, resolved. */
export interface ResolvedModel {
  readonly name: string;
  readonly pkType: PkType;
  /** Resolved functions per version, in the strategy's version order. */
  readonly versions: ReadonlyMap<string, ResolvedVersion>;
}

/** Any model definition, whatever its entity and record types. */
export interface AnyModelDefinition {
  readonly name: string;
  readonly options: object;
}

type NameOf<D> = D extends { readonly name: infer N extends string } ? N : never;
type VersionRecordsOf<D> = D extends { readonly __versionRecords?: infer VR extends object } ? VR : never;
type RecordOfDefinition<D> = [VersionRecordsOf<D>] extends [never]
  ? D extends ModelDefinition<string, infer _E, infer R>
    ? R
    : object
  : VersionRecordsOf<D>[keyof VersionRecordsOf<D>];
type RecordInVersion<D, V extends string> = [VersionRecordsOf<D>] extends [never]
  ? RecordOfDefinition<D>
  : V extends keyof VersionRecordsOf<D>
    ? VersionRecordsOf<D>[V]
    : '*' extends keyof VersionRecordsOf<D>
      ? VersionRecordsOf<D>['*']
      : never;

/**
 * Model name → record type, inferred from a strategy's model definitions. A model whose records
 * differ per version maps to the union of its versions' records; see {@link VersionRecordMap}.
 */
export type RecordMap<Models extends readonly AnyModelDefinition[]> = {
  [D in Models[number] as NameOf<D>]: RecordOfDefinition<D>;
};

/**
 * Version → model name → record type: the models that exist in each version, with the record
 * that version stores. Read it with {@link RecordsOf}.
 */
export type VersionRecordMap<Models extends readonly AnyModelDefinition[], Version extends string> = {
  [V in Version]: {
    [D in Models[number] as [RecordInVersion<D, V>] extends [never] ? never : NameOf<D>]: RecordInVersion<
      D,
      V
    >;
  };
};

/** What {@link RecordsOf} and {@link VersionsOf} read of a strategy: its phantom types. */
interface StrategyTypes {
  readonly __records?: object;
  readonly __versionRecords?: object;
}

/**
 * The record types of a strategy: model name → record, for one version (`RecordsOf<typeof
 * strategy, 'v2'>`: exactly the models of v2, each with the record v2 stores), or across versions
 * when no version is given (each model's records of every version, as a union).
 *
 * @example
 * const strategy = defineStrategy({ versions: ['v1', 'v2'], models: [...] });
 * type V2 = RecordsOf<typeof strategy, 'v2'>;
 * type QuestionV2 = V2['Question'];
 * const cached = createCachedResolvers<V2, MyContext>();
 */
export type RecordsOf<
  S extends StrategyTypes,
  Version extends (keyof NonNullable<S['__versionRecords']> & string) | undefined = undefined,
> = Version extends keyof NonNullable<S['__versionRecords']>
  ? NonNullable<S['__versionRecords']>[Version]
  : NonNullable<S['__records']>;

/** The version names of a strategy, as a union of literals when they were given as literals. */
export type VersionsOf<S extends StrategyTypes> = keyof NonNullable<S['__versionRecords']> & string;

/** A checked, immutable strategy: the models, their versions and their key prefixes. */
export interface Strategy<
  Records extends object = Record<string, object>,
  // `object` by default, so that APIs typed with `Strategy<Records>` accept every strategy whatever
  // models each version holds.
  VersionRecords extends object = object,
> {
  readonly versions: readonly string[];
  readonly defaultVersion: string;
  readonly namespace: string;
  /** Model names, in definition order. */
  readonly modelNames: readonly (keyof Records & string)[];
  /** The resolved model, or an {@link UnknownModelError}. */
  model(name: string): ResolvedModel;
  /** The resolved model version, or an {@link UnknownModelError} / {@link UnknownVersionError}. */
  resolve(model: string, version: string): ResolvedVersion;
  /** Throws an {@link UnknownVersionError} unless `version` is one of `versions`. */
  checkVersion(version: string): string;
  /** The `{namespace}:{version}:` prefix shared by every key of a version. */
  versionPrefix(version: string): string;
  /** Phantom: the record types across versions, for typed loaders. Always undefined at run time. Read it with {@link RecordsOf}. */
  readonly __records?: Records;
  /** Phantom: the record types per version. Always undefined at run time. Read it with {@link RecordsOf}. */
  readonly __versionRecords?: VersionRecords;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VERSION = /^[A-Za-z0-9_-]+$/;
const NAMESPACE = /^[A-Za-z0-9_-]+$/;

function invalid(message: string, context: { model?: string; version?: string } = {}): never {
  throw new StrategyDefinitionError(`defineStrategy: ${message}`, { context });
}

function defaultPkOf(entity: unknown): Pk {
  return (entity as { id: Pk }).id;
}

/**
 * Checks a strategy definition and resolves it: every model, in every version it exists in, must
 * end up with `serialize` (or `serialize: null` for an invalidator-only model), `load` and
 * `invalidate`. Throws a {@link StrategyDefinitionError} (`E_STRATEGY_INVALID`), a {@link DuplicateModelError}
 * (`E_DUPLICATE_MODEL`) or an {@link UnknownVersionError} at once, naming the model, the version
 * and the fix; a strategy that was defined never fails later for a reason visible here.
 */
export function defineStrategy<
  const Models extends readonly AnyModelDefinition[],
  const Version extends string = string,
>(
  // `string & {}` keeps the versions array a string array inside while `Version` captures its literals.
  options: StrategyOptions<Models> & { readonly versions: readonly (Version | (string & {}))[] },
): Strategy<RecordMap<Models>, VersionRecordMap<Models, Version>> {
  const versions = [...(options.versions ?? [])];
  if (versions.length === 0) invalid('`versions` must list at least one version, e.g. ["v1"]');
  for (const version of versions) {
    if (typeof version !== 'string' || !VERSION.test(version)) {
      invalid(`version ${JSON.stringify(version)} must match ${VERSION}`);
    }
  }
  if (new Set(versions).size !== versions.length)
    invalid(`versions contain a duplicate: ${JSON.stringify(versions)}`);
  const defaultVersion = options.defaultVersion ?? versions[0]!;
  if (!versions.includes(defaultVersion)) {
    throw new UnknownVersionError(
      `defineStrategy: defaultVersion ${JSON.stringify(defaultVersion)} is not one of the versions ${JSON.stringify(versions)}`,
      { context: { version: defaultVersion } },
    );
  }
  const namespace = options.namespace ?? 'gci';
  if (!NAMESPACE.test(namespace)) invalid(`namespace ${JSON.stringify(namespace)} must match ${NAMESPACE}`);
  if (!Array.isArray(options.models) || options.models.length === 0) {
    invalid('`models` must be a non-empty array of defineModel(...) definitions');
  }

  type Draft = Omit<ResolvedVersion, 'keyPrefix' | 'recordTag'> & { fingerprint: string };
  const drafts = new Map<string, Map<string, Draft>>();
  const pkTypes = new Map<string, PkType>();
  for (const definition of options.models as readonly ModelDefinition<string, unknown, object>[]) {
    const name = definition?.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      invalid(
        `model name ${JSON.stringify(name)} must match ${NAME} (did you pass defineModel(name, options)?)`,
      );
    }
    if (drafts.has(name)) {
      throw new DuplicateModelError(`defineStrategy: model "${name}" is defined twice`, {
        context: { model: name },
      });
    }
    const model = definition.options ?? {};
    const pkType = model.pk ?? 'number';
    if (pkType !== 'number' && pkType !== 'string') {
      invalid(`model "${name}" has pk type ${JSON.stringify(pkType)}; use 'number' or 'string'`, {
        model: name,
      });
    }
    pkTypes.set(name, pkType);
    const pkOf = (model.pkOf?.bind(model) ?? defaultPkOf) as (entity: unknown) => Pk;
    const perVersion: Record<string, VersionFunctions<unknown, object>> = Array.isArray(model.versions)
      ? Object.fromEntries((model.versions as readonly string[]).map((v) => [v, {}]))
      : model.versions
        ? { ...(model.versions as Record<string, VersionFunctions<unknown, object>>) }
        : Object.fromEntries(versions.map((v) => [v, {}]));
    const resolved = new Map<string, Draft>();
    for (const version of versions) {
      const own = perVersion[version];
      if (own === undefined) continue;
      delete perVersion[version];
      const pick = <K extends keyof VersionFunctions<unknown, object>>(key: K) =>
        (key in own ? own[key] : model[key]) as VersionFunctions<unknown, object>[K];
      const serialize = pick('serialize');
      const load = pick('load');
      const invalidate = pick('invalidate');
      const codecs = (pick('codecs') ?? {}) as Record<string, Codec<unknown>>;
      const listFields = pick('listFields') ?? null;
      const where = `model "${name}" version "${version}"`;
      if (serialize === undefined) {
        invalid(`${where} has no serialize function (use serialize: null for an invalidator-only model)`, {
          model: name,
          version,
        });
      }
      if (serialize !== null && typeof serialize !== 'function')
        invalid(`${where}: serialize must be a function or null`);
      if (typeof load !== 'function') invalid(`${where} has no load function`, { model: name, version });
      if (typeof invalidate !== 'function') {
        invalid(`${where} has no invalidate function (use invalidate: () => [] when nothing depends on it)`, {
          model: name,
          version,
        });
      }
      for (const [field, codec] of Object.entries(codecs)) {
        if (!codec || typeof codec.encode !== 'function' || typeof codec.decode !== 'function') {
          invalid(`${where}: codec for field "${field}" is not a codec (use one of codecs.*)`, {
            model: name,
            version,
          });
        }
      }
      if (
        listFields !== null &&
        listFields !== 'all' &&
        !(Array.isArray(listFields) && listFields.every((field) => typeof field === 'string'))
      ) {
        invalid(`${where}: listFields must be an array of record field names or 'all'`, {
          model: name,
          version,
        });
      }
      const fingerprint = JSON.stringify([
        name,
        pkType,
        serialize === null ? null : String(serialize),
        String(load),
        Object.entries(codecs)
          .map(([field, codec]) => `${field}:${codec.name}`)
          .sort(),
        listFields,
      ]);
      resolved.set(version, {
        model: name,
        version,
        pkType,
        serialize: serialize === null ? null : (serialize as (entity: unknown) => object | null),
        // Not bound: versions that share one `load` must keep one function identity, so that an
        // update loads once for all of them.
        load: load as ResolvedVersion['load'],
        invalidate: invalidate as ResolvedVersion['invalidate'],
        listFields: listFields === null || listFields === 'all' ? listFields : [...listFields],
        pkOf,
        codec: createRecordCodec(codecs, `${name}@${version}`),
        fingerprint,
      });
    }
    const unknown = Object.keys(perVersion);
    if (unknown.length > 0) {
      throw new UnknownVersionError(
        `defineStrategy: model "${name}" declares version ${JSON.stringify(unknown[0])}, which is not one of ${JSON.stringify(versions)}`,
        { context: { model: name, version: unknown[0]! } },
      );
    }
    if (resolved.size === 0) invalid(`model "${name}" exists in no version`, { model: name });
    drafts.set(name, resolved);
  }

  // Keys carry the version but not the definition: every deploy and build of the application
  // shares them, so an invalidation made by any process reaches all. The definition's hash goes
  // into each record instead (recordTag), so a record another definition wrote reads as a miss.
  const prefixes = new Map(versions.map((version) => [version, `${namespace}:${version}:`]));
  const models = new Map<string, ResolvedModel>();
  for (const [name, resolved] of drafts) {
    const out = new Map<string, ResolvedVersion>();
    for (const [version, { fingerprint, ...draft }] of resolved) {
      const hash = createHash('sha256')
        .update(`${options.revision ?? ''}\n${fingerprint}`)
        .digest('hex')
        .slice(0, 8);
      out.set(version, { ...draft, keyPrefix: `${prefixes.get(version)}${name}:`, recordTag: `#${hash}` });
    }
    models.set(name, { name, pkType: pkTypes.get(name)!, versions: out });
  }

  const checkVersion = (version: string): string => {
    if (!prefixes.has(version)) {
      throw new UnknownVersionError(
        `Unknown cache version ${JSON.stringify(version)}; the versions are ${JSON.stringify(versions)}`,
        { context: { version } },
      );
    }
    return version;
  };
  const model = (name: string): ResolvedModel => {
    const found = models.get(name);
    if (!found) {
      throw new UnknownModelError(
        `Unknown model ${JSON.stringify(name)}; the models are ${JSON.stringify([...models.keys()])}`,
        { context: { model: name } },
      );
    }
    return found;
  };
  return Object.freeze({
    versions: Object.freeze(versions),
    defaultVersion,
    namespace,
    modelNames: Object.freeze([...models.keys()]) as readonly (keyof RecordMap<Models> & string)[],
    model,
    checkVersion,
    resolve(name: string, version: string): ResolvedVersion {
      const found = model(name);
      checkVersion(version);
      const resolved = found.versions.get(version);
      if (!resolved) {
        throw new UnknownModelError(`Model "${name}" does not exist in version "${version}"`, {
          context: { model: name, version },
        });
      }
      return resolved;
    },
    versionPrefix(version: string): string {
      return prefixes.get(checkVersion(version))!;
    },
  });
}
