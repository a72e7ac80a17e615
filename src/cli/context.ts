/**
 * What every command gets: the process's streams, the global options, and the config's cache,
 * loaded once per command and always closed afterwards.
 */
import type { Command } from 'commander';
import { type CacheError, CliConfigError, StoreError } from '../errors.js';
import {
  type CliCache,
  type CliConfig,
  findConfigPath,
  importConfigFactory,
  looksLikeCache,
  type PkSource,
} from './config.js';
import type { ProgressStream } from './progress.js';
import { describeStore, type StoreDescription } from './store-info.js';

/** The streams and directory the CLI works with (the process's own by default). */
export interface CliIo {
  readonly stdout: ProgressStream;
  readonly stderr: ProgressStream;
  /** Read for confirmations (on a terminal only). */
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  /** Where a relative `--config` is resolved. */
  readonly cwd: string;
}

/** The global options, as every command sees them. */
export interface GlobalOptions {
  readonly config?: string;
  readonly json: boolean;
}

/** A config, loaded: the cache and what the commands need beside it. */
export interface LoadedConfig {
  /** The config module's absolute path. */
  readonly path: string;
  readonly cache: CliCache;
  readonly pks: PkSource | undefined;
  /** The config's `queue` and `journal`, for `worker`. */
  readonly queue: CliConfig['queue'];
  readonly journal: CliConfig['journal'];
  readonly store: StoreDescription;
  /** The first store failure the cache reported during this command (an `error` event), if any. */
  storeFailure(): CacheError | undefined;
}

/** The context every command's action runs with. */
export interface CliContext {
  readonly io: CliIo;
  /** The global options (`--config`, `--json`), wherever they were given on the command line. */
  globals(command: Command): GlobalOptions;
  /**
   * Imports the config, runs its factory, runs `fn` with the result, then closes the cache and
   * calls the config's `close` — also when `fn` throws. A cache that could not write its pending
   * invalidations when closed fails the command with a `StoreError` (exit 3).
   */
  withConfig<T>(command: Command, fn: (config: LoadedConfig) => Promise<T>): Promise<T>;
  /** Writes a command's result: `json` as one JSON document with `--json`, `text` otherwise. */
  print(command: Command, text: string, json: unknown): void;
  /** A note for the operator on stderr (never mixed into `--json` output). */
  note(text: string): void;
  /** The exit code a command chose without failing (a declined confirmation). */
  exitCode: number;
}

/** A {@link CliContext} over `io`. */
export function createCliContext(io: CliIo): CliContext {
  const context: CliContext = {
    io,
    exitCode: 0,
    globals(command) {
      const options = command.optsWithGlobals() as { config?: string; json?: boolean };
      return { config: options.config, json: options.json === true };
    },
    async withConfig<T>(command: Command, fn: (config: LoadedConfig) => Promise<T>): Promise<T> {
      const path = findConfigPath(context.globals(command).config, io.cwd);
      const factory = await importConfigFactory(path);
      let made: unknown;
      try {
        made = await factory();
      } catch (error) {
        // A store that cannot be reached keeps its own code (exit 3); anything else the factory
        // threw is a failure of the config, reported with its path.
        if ((error as { code?: unknown })?.code === 'E_STORE') throw error;
        throw new CliConfigError(
          `config module ${path}: its factory failed: ${(error as Error)?.message ?? String(error)}`,
          { context: { option: 'config' }, cause: error },
        );
      }
      const config = made as {
        cache?: unknown;
        pks?: PkSource;
        queue?: CliConfig['queue'];
        journal?: CliConfig['journal'];
        close?: () => unknown;
      } | null;
      if (!config || !looksLikeCache(config.cache)) {
        await (config?.close as (() => unknown) | undefined)?.();
        throw new CliConfigError(
          `config module ${path}: its factory must return { cache: InstanceCache, pks?, close? }; got ${config === null || typeof config !== 'object' ? String(config) : `an object with ${JSON.stringify(Object.keys(config))}`}`,
          { context: { option: 'config' } },
        );
      }
      const cache = config.cache;
      let failure: CacheError | undefined;
      const onError = (error: CacheError) => {
        if (error?.code === 'E_STORE') failure ??= error;
      };
      cache.on('error', onError);
      let result: T;
      let closed = false;
      try {
        result = await fn({
          path,
          cache,
          pks: config.pks,
          queue: config.queue,
          journal: config.journal,
          store: describeStore(cache.store),
          storeFailure: () => failure,
        });
      } finally {
        closed = await cache.close().catch(() => false);
        cache.off('error', onError);
        // A failure to release what the config opened must not hide how the command ended.
        await Promise.resolve()
          .then(() => config.close?.())
          .catch((error: unknown) =>
            context.note(
              `warning: the config's close() failed: ${(error as Error)?.message ?? String(error)}`,
            ),
          );
      }
      // After the result was printed: the command did its part, but the store failed meanwhile
      // (a read fell through to the database, an invalidation could not be written).
      if (!closed) {
        failure ??= new StoreError(
          `${cache.pendingInvalidations} invalidation(s) could not be written to the store`,
        );
      }
      if (failure) throw failure;
      return result;
    },
    print(command, text, json) {
      io.stdout.write(context.globals(command).json ? `${JSON.stringify(json, null, 2)}\n` : `${text}\n`);
    },
    note(text) {
      io.stderr.write(`${text}\n`);
    },
  };
  return context;
}
