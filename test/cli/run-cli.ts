/**
 * Runs the CLI as an operator would: a child process (the TypeScript source through tsx, or a
 * build), stdin not a terminal, stdout and stderr captured, the exit code awaited. Or in this
 * process (`runCli` with captured streams), with a config the test provides.
 */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type CliConfig, runCli } from '../../src/cli/index.js';

declare global {
  // What fixtures/global.config.mjs hands the CLI: set it before runCliInProcess (`declare global` needs `var`).
  var __gciCliConfig: (() => CliConfig | Promise<CliConfig>) | undefined;
}

/** The CLI fixtures (fixtures/global.config.mjs reads `globalThis.__gciCliConfig`). */
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

function capture() {
  return {
    text: '',
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

/** Runs the CLI in this process in the fixtures directory, with its output captured. */
export async function runCliInProcess(
  argv: readonly string[],
  stdin: NodeJS.ReadableStream = new PassThrough(),
): Promise<CliRun> {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli([...argv], { stdout, stderr, stdin, cwd: FIXTURES });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

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
