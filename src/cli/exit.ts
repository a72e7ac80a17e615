/** The CLI's exit codes, and which errors map to which. */

/**
 * Exit codes of `graphql-cached-instances`:
 *
 * - `0` done;
 * - `1` the command failed (a database or load error, a declined confirmation);
 * - `2` usage: a bad option or argument, an unknown model or version, a bad pk, a config module
 *   that is missing or cannot be used;
 * - `3` the cache store is unreachable (or failed during the command).
 */
export const EXIT_CODES = {
  ok: 0,
  failed: 1,
  usage: 2,
  storeUnreachable: 3,
} as const;

/** One of {@link EXIT_CODES}. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** Error codes that are the operator's to fix in the command line or the config. */
const USAGE_CODES = new Set([
  'E_UNKNOWN_MODEL',
  'E_UNKNOWN_VERSION',
  'E_INVALID_PK',
  'E_INVALID_OPTION',
  'E_CLI_CONFIG',
]);

/**
 * The exit code for an error a command ended with. Matched on the error's `code`, never on its
 * class: the config module may load its own copy of the library (tsx, another install).
 */
export function exitCodeOf(error: unknown): ExitCode {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return EXIT_CODES.failed;
  if (USAGE_CODES.has(code)) return EXIT_CODES.usage;
  if (code === 'E_STORE') return EXIT_CODES.storeUnreachable;
  return EXIT_CODES.failed;
}

/** The `--help` epilogue. */
export const EXIT_CODES_HELP = `Exit codes:
  0  done
  1  the command failed (database or load error, confirmation declined)
  2  usage: bad option or argument, unknown model or version (the known ones are listed),
     bad pk, config module missing or unusable (its path and the cause are printed)
  3  the cache store is unreachable`;
