/**
 * `graphql-cached-instances/cli`: the operator CLI's config API (what a `--config` module
 * exports) and the program itself, for running it from code. The executable is
 * `graphql-cached-instances` (package.json `bin`).
 *
 * @packageDocumentation
 */

export { CliConfigError } from '../errors.js';
export {
  type CliCache,
  type CliConfig,
  type CliConfigFactory,
  type CliStrategy,
  DEFAULT_CONFIG_NAMES,
  defineCliConfig,
  type PkSource,
} from './config.js';
export { EXIT_CODES, type ExitCode } from './exit.js';
export {
  createMikroOrmPkSource,
  type MikroOrmPkSourceOptions,
  type PkSourceEntityManager,
  type PkSourceOrm,
} from './mikro-orm-pk-source.js';
export { type RunCliOptions, runCli } from './program.js';
