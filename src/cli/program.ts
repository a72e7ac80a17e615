/**
 * The `graphql-cached-instances` program: global options, the subcommands, and how errors become
 * exit codes. A subcommand is one file under `commands/` exporting `(context) => Command`; adding
 * one is that file and one line in {@link COMMANDS}.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { dropVersionCommand } from './commands/drop-version.js';
import { inspectCommand } from './commands/inspect.js';
import { invalidateCommand } from './commands/invalidate.js';
import { statsCommand } from './commands/stats.js';
import { warmCommand } from './commands/warm.js';
import { workerCommand } from './commands/worker.js';
import { DEFAULT_CONFIG_NAMES } from './config.js';
import { type CliContext, type CliIo, createCliContext } from './context.js';
import { EXIT_CODES, EXIT_CODES_HELP, exitCodeOf } from './exit.js';

/** The subcommands, in the order `--help` lists them. */
const COMMANDS: readonly ((context: CliContext) => Command)[] = [
  warmCommand,
  inspectCommand,
  invalidateCommand,
  dropVersionCommand,
  statsCommand,
  workerCommand,
];

const CONFIG_HELP = `the config module (an ES module whose default export builds { cache, pks?, close? }; .ts through tsx). Default: the first of ${DEFAULT_CONFIG_NAMES.join(', ')} in the working directory`;

/** Adds the global options to a command, so they can be given before or after the subcommand. */
function withGlobalOptions(command: Command): Command {
  return command
    .addOption(new Option('-c, --config <module>', CONFIG_HELP))
    .addOption(new Option('--json', 'print the result as JSON on stdout'));
}

function packageVersion(): string {
  try {
    const url = new URL('../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Builds the program over a context (its streams and the exit code a command chose). */
export function createProgram(context: CliContext): Command {
  const { io } = context;
  const output = {
    writeOut: (text: string) => void io.stdout.write(text),
    writeErr: (text: string) => void io.stderr.write(text),
  };
  const program = withGlobalOptions(new Command('graphql-cached-instances'))
    .description(
      'Operate a graphql-cached-instances cache: warm it, inspect and invalidate records, drop a version.',
    )
    .version(packageVersion(), '-V, --version', 'print the CLI version')
    // Program options only before the subcommand: after it, `--version <v>` is the cache version.
    .enablePositionalOptions()
    .addHelpText('after', `\n${EXIT_CODES_HELP}`);
  const setup = (command: Command) => command.exitOverride().configureOutput(output).showHelpAfterError();
  setup(program);
  for (const make of COMMANDS) {
    program.addCommand(setup(withGlobalOptions(make(context))).addHelpText('after', `\n${EXIT_CODES_HELP}`));
  }
  return program;
}

/** Options of {@link runCli}: the process's own streams and directory by default. */
export type RunCliOptions = Partial<CliIo>;

/**
 * Runs the CLI on `argv` (the arguments after the program name) and resolves the exit code (see
 * `EXIT_CODES`); never calls `process.exit`. Errors are written to stderr as `error: …`.
 *
 * @example
 * process.exitCode = await runCli(process.argv.slice(2));
 */
export async function runCli(argv: readonly string[], options: RunCliOptions = {}): Promise<number> {
  const context = createCliContext({
    stdout: options.stdout ?? process.stdout,
    stderr: options.stderr ?? process.stderr,
    stdin: options.stdin ?? process.stdin,
    cwd: options.cwd ?? process.cwd(),
  });
  const program = createProgram(context);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return context.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with exit code 0; a usage error has been printed with the usage.
      return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    }
    const message = (error as Error)?.message ?? String(error);
    const cause = (error as { cause?: unknown })?.cause;
    const why =
      cause instanceof Error && !message.includes(cause.message) ? `\n  cause: ${cause.message}` : '';
    const code = exitCodeOf(error);
    const hint =
      code === EXIT_CODES.storeUnreachable
        ? '\n  (exit 3: the cache store is unreachable; check the store your config connects to)'
        : '';
    context.io.stderr.write(`error: ${message}${why}${hint}\n`);
    return code;
  }
}
