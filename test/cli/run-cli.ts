/**
 * Runs the CLI as an operator would: a child process (the TypeScript source through tsx, or a
 * build), stdin not a terminal, stdout and stderr captured, the exit code awaited.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (where the example config and src/ live). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What a CLI run printed and how it ended. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node [execArgv] entry argv…` in the repository root with `env` added to this process's
 * environment (a key set to `undefined` is removed from it). `entry` defaults to the source through tsx; pass a built `main.js` to run a build.
 */
export function runCliProcess(
  argv: readonly string[],
  env: Record<string, string | undefined> = {},
  entry: { command: string; args: readonly string[] } = {
    command: process.execPath,
    args: ['--import', 'tsx', 'src/cli/main.ts'],
  },
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const merged: NodeJS.ProcessEnv = { ...process.env };
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete merged[key];
      else merged[key] = value;
    }
    const child = spawn(entry.command, [...entry.args, ...argv], {
      cwd: ROOT,
      env: merged,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
