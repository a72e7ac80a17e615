/**
 * What the operator CLI's `--config` module exports ({@link CliConfig}, through
 * {@link defineCliConfig}), and how the CLI finds and imports it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { InstanceCache, ReadOptions, UpdateOptions, UpdateSummary } from '../core/instance-cache.js';
import type { CacheStore } from '../core/store.js';
import { type CacheError, CliConfigError } from '../errors.js';
import type { ResolvedModel, ResolvedVersion } from '../strategy/define.js';
import type { Pk } from '../strategy/pk.js';

/** What the CLI reads of a cache's strategy (a `Strategy` of any record types is one). */
export interface CliStrategy {
  readonly versions: readonly string[];
  readonly defaultVersion: string;
  readonly namespace: string;
  readonly modelNames: readonly string[];
  model(name: string): ResolvedModel;
  resolve(model: string, version: string): ResolvedVersion;
  checkVersion(version: string): string;
  versionPrefix(version: string): string;
}

/**
 * What the CLI uses of an {@link InstanceCache}: every `InstanceCache`, whatever its record
 * types, is one. (It may come from another copy of the library: the CLI only calls these.)
 */
export interface CliCache {
  readonly strategy: CliStrategy;
  readonly store: CacheStore;
  readonly pendingInvalidations: number;
  getInstances(model: string, pks: readonly Pk[], options?: ReadOptions): Promise<(object | null)[]>;
  invalidate(model: string, pks: readonly Pk[], options?: UpdateOptions): Promise<UpdateSummary>;
  update(refs: readonly { model: string; pk: Pk }[], options?: UpdateOptions): Promise<UpdateSummary>;
  dropVersion(version: string): Promise<number>;
  keyOf(model: string, pk: Pk, version?: string): string;
  close(): Promise<boolean>;
  on(event: 'error', listener: (error: CacheError, context: { operation: string }) => void): unknown;
  off(event: 'error', listener: (error: CacheError, context: { operation: string }) => void): unknown;
}

/**
 * Lists the primary keys of a model's rows, for `warm`: keyset pagination over the pk, never
 * OFFSET, so a page costs the same at the end of a large table as at its start.
 * {@link createMikroOrmPkSource} builds one from MikroORM metadata; write your own for another
 * data layer.
 */
export interface PkSource {
  /** How many rows `model` has (for the progress total; an estimate is fine). */
  count(model: string): Promise<number>;
  /**
   * Up to `limit` pks of `model` greater than `after` (from the first when `after` is
   * `undefined`), ascending. Fewer than `limit` means the end.
   */
  pksAfter(model: string, after: Pk | undefined, limit: number): Promise<readonly Pk[]>;
}

/**
 * The queue `worker` takes jobs from: `bullmqRunner`'s `connection` (a Redis URL, or ioredis
 * options), `queueName` and `prefix`. Typed without BullMQ, which only `worker` loads.
 */
export interface CliQueueOptions {
  readonly connection: string | object;
  readonly queueName?: string;
  readonly prefix?: string;
}

/** What `worker` uses of a `CacheJournal`. */
export interface CliJournal {
  applied(id: string): void;
  flush(): Promise<void>;
  start?(): unknown;
  close?(): Promise<void>;
}

/**
 * What a config factory returns: the application's cache, built as the application builds it
 * (same strategy, same store and namespace), so that the CLI reads and writes the keys the
 * servers use.
 */
export interface CliConfig {
  /**
   * The cache the commands act on (an `InstanceCache`). The CLI closes it (`cache.close()`, which
   * closes a store it created) when the command ends.
   */
  readonly cache: CliCache;
  /** Where `warm` enumerates pks. Default: none, and `warm` exits with 2 saying so. */
  readonly pks?: PkSource;
  /**
   * For `worker`: the BullMQ queue the servers' `bullmqRunner` adds cascades to (the same
   * `connection`, `queueName` and `prefix`). Default: none, and `worker` exits with 2 saying so.
   */
  readonly queue?: CliQueueOptions;
  /**
   * For `worker`: the journal (a `CacheJournal` on the app's ORM) whose entries the worker marks
   * applied; the worker also runs its recovery (`start()`) and closes it on shutdown. Default:
   * none (entries are then applied again by the servers' recovery).
   */
  readonly journal?: CliJournal;
  /**
   * Releases what the factory opened besides the cache (the ORM, its pool); called after the
   * cache is closed, also when the command failed. Default: nothing.
   */
  close?(): void | Promise<void>;
}

/** What a config module exports as its default: a function that builds the {@link CliConfig}. */
export type CliConfigFactory = () => CliConfig | Promise<CliConfig>;

/**
 * Declares the default export of a CLI config module, typed. The factory runs once per command,
 * only for commands that need the cache (`--help` never runs it).
 *
 * A config module is an ES module. The installed CLI imports `.js`/`.mjs` configs natively, and a
 * TypeScript config (`.ts`/`.mts`) through `tsx` when the project has it installed (it is
 * resolved from the config's folder); without tsx, compile the config to JavaScript.
 *
 * @example
 * // cache.config.ts
 * import { createMikroOrmPkSource, defineCliConfig } from 'graphql-cached-instances/cli';
 * export default defineCliConfig(async () => {
 *   const orm = await MikroORM.init(ormOptions);
 *   const store = await createRedisStore({ url: process.env.REDIS_URL!, namespace: 'app' });
 *   return {
 *     cache: new InstanceCache(createStrategy(orm), { store }),
 *     pks: createMikroOrmPkSource(orm),
 *     close: () => orm.close(),
 *   };
 * });
 */
export function defineCliConfig(factory: CliConfigFactory): CliConfigFactory {
  return factory;
}

/** The names looked for in the working directory when `--config` is not given, in order. */
export const DEFAULT_CONFIG_NAMES = [
  'cache.config.js',
  'cache.config.mjs',
  'cache.config.ts',
  'cache.config.mts',
] as const;

/**
 * The config module's path: `given` resolved against `cwd`, or the first of
 * {@link DEFAULT_CONFIG_NAMES} that exists there. Throws a `CliConfigError` naming the path.
 */
export function findConfigPath(given: string | undefined, cwd: string): string {
  if (given !== undefined) {
    const path = resolve(cwd, given);
    if (!existsSync(path)) {
      throw new CliConfigError(`config module not found: ${path}`, { context: { option: 'config' } });
    }
    return path;
  }
  for (const name of DEFAULT_CONFIG_NAMES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  throw new CliConfigError(
    `no config: pass --config <module>, or put one of ${DEFAULT_CONFIG_NAMES.join(', ')} in ${cwd}`,
    { context: { option: 'config' } },
  );
}

const TYPESCRIPT = /\.[mc]?ts$/;

/**
 * The URL of tsx's ESM API as installed for the config's project: tsx's `./esm/api` export,
 * import condition (`require.resolve` would pick the CommonJS build).
 */
function tsxApiUrl(configPath: string): string {
  const manifestPath = createRequire(configPath).resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    exports?: { './esm/api'?: { import?: { default?: string } } };
  };
  const entry = manifest.exports?.['./esm/api']?.import?.default ?? './dist/esm/api/index.mjs';
  return pathToFileURL(resolve(dirname(manifestPath), entry)).href;
}

/** Imports a TypeScript module with tsx, resolved from the config's folder first, then from here. */
async function importWithTsx(path: string): Promise<unknown> {
  type TsxApi = { tsImport(specifier: string, parent: string): Promise<unknown> };
  let api: TsxApi | undefined;
  try {
    api = (await import(tsxApiUrl(path))) as TsxApi;
  } catch {
    try {
      api = (await import('tsx/esm/api' as string)) as TsxApi;
    } catch {
      api = undefined;
    }
  }
  if (!api) {
    throw new CliConfigError(
      `config module ${path} is TypeScript and tsx is not installed: install it (npm i -D tsx) or compile the config to JavaScript`,
      { context: { option: 'config' } },
    );
  }
  return api.tsImport(pathToFileURL(path).href, pathToFileURL(path).href);
}

/**
 * Imports the config module at `path` and checks its default export. Throws a `CliConfigError`
 * naming the path and the cause when it cannot be imported or exports no factory.
 */
export async function importConfigFactory(path: string): Promise<CliConfigFactory> {
  let module: { default?: unknown };
  try {
    module = (TYPESCRIPT.test(path) ? await importWithTsx(path) : await import(pathToFileURL(path).href)) as {
      default?: unknown;
    };
  } catch (error) {
    if ((error as { code?: unknown })?.code === 'E_CLI_CONFIG') throw error;
    throw new CliConfigError(
      `config module ${path} could not be imported: ${(error as Error)?.message ?? String(error)}`,
      { context: { option: 'config' }, cause: error },
    );
  }
  // tsx may hand a CommonJS-shaped namespace back: { default: { default: factory } }.
  let factory = module.default;
  if (factory !== null && typeof factory === 'object' && 'default' in factory) {
    factory = (factory as { default: unknown }).default;
  }
  if (typeof factory !== 'function') {
    throw new CliConfigError(
      `config module ${path} must export a default function returning { cache, pks?, close? } (use defineCliConfig); its default export is ${factory === undefined ? 'missing' : typeof factory}`,
      { context: { option: 'config' } },
    );
  }
  return factory as CliConfigFactory;
}

/** True for something shaped like an {@link InstanceCache} (possibly from another copy of the library). */
export function looksLikeCache(value: unknown): value is CliCache {
  const cache = value as Partial<CliCache> | null;
  return (
    typeof cache === 'object' &&
    cache !== null &&
    typeof cache.getInstances === 'function' &&
    typeof cache.invalidate === 'function' &&
    typeof cache.strategy === 'object' &&
    typeof cache.store === 'object'
  );
}
