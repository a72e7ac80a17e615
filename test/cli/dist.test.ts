/**
 * The CLI as the package ships it: built by tsc with the project's build config (into a folder
 * of this file's own, removed afterwards) and run as an executable — its shebang, `--version`
 * and `--help`; the example's TypeScript config loaded through tsx by the compiled CLI (on a
 * SQLite file and the memory store, so no service is needed); and a plain JavaScript config on
 * Redis, the way an installed app without TypeScript would write it.
 */
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/redis.js';
import { REDIS_URL, redisAvailable } from '../support/redis.js';
import { ROOT, runCliProcess } from './run-cli.js';

// Laid out as the package is (package.json beside dist/), inside the repository so that the
// build resolves the installed dependencies; `dist` folders are ignored by git and Biome.
const packageRoot = join(ROOT, `.cli-test-${process.pid}`);
const out = join(packageRoot, 'dist');
const main = join(out, 'cli', 'main.js');
/** The built CLI, run as an executable (its shebang picks node). */
const built = { command: main, args: [] };
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gci-cli-'));
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = await runCliProcess(
    [
      '-p',
      'tsconfig.build.json',
      '--outDir',
      out,
      '--declaration',
      'false',
      '--declarationMap',
      'false',
      '--sourceMap',
      'false',
    ],
    {},
    { command: process.execPath, args: [tsc] },
  );
  expect(build.stdout + build.stderr).toBe('');
  expect(build.code).toBe(0);
  copyFileSync(join(ROOT, 'package.json'), join(packageRoot, 'package.json'));
  // npm makes a package's bin executable when it installs it.
  chmodSync(main, 0o755);
}, 120_000);
afterAll(() => {
  rmSync(packageRoot, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the built CLI', () => {
  it('is an executable with a node shebang; --version and --help', async () => {
    expect(readFileSync(main, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const version = await runCliProcess(['--version'], {}, built);
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(
      `${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`,
    );
    const help = await runCliProcess(['--help'], {}, built);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: graphql-cached-instances [options] [command]');
    expect(help.stdout).toContain('Exit codes:');
  });

  it("loads the example's TypeScript config through tsx; on the memory store it says warm is process-local", async () => {
    const run = await runCliProcess(
      ['--config', 'examples/poll/cache.config.ts', 'warm'],
      { DATABASE_URL: join(work, 'poll.sqlite'), REDIS_URL: undefined },
      built,
    );
    expect(run.code).toBe(0);
    // The SQLite file was created and seeded as `npm start` seeds: 50 questions, 200 choices, 200 users.
    expect(run.stdout).toMatch(/^warmed 900 records \(450 rows, 3 models, 2 versions\)/);
    expect(run.stdout).toContain('store: memory (process-local');
    expect(run.stderr).toContain(
      'note: the store is process-local (memory): what warm loads is gone when this command exits',
    );
  }, 60_000);

  describe.runIf(redisAvailable)('with a plain JavaScript config on Redis', () => {
    const namespace = `test-cli-dist-${process.pid}-${Date.now().toString(36)}`;
    const env = { GCI_CLI_DIST: out, REDIS_URL, REDIS_NAMESPACE: namespace };
    const cli = (...argv: string[]) =>
      runCliProcess(['--config', 'test/cli/fixtures/plain.config.mjs', ...argv], env, built);

    afterAll(async () => {
      const store = await createRedisStore({ url: REDIS_URL, namespace });
      await store.deleteByPrefix('');
      await store.close();
    });

    it('warms its rows and inspect shows one', async () => {
      const warm = await cli('warm', '--batch', '100');
      expect(warm.stderr).toMatch(/^warm: 300\/300 records \(100%\), [\d,]+ records\/s, Row@v1\n$/);
      expect(warm.code).toBe(0);
      expect(warm.stdout).toMatch(/^warmed 300 records \(300 rows, 1 model, 1 version\)/);
      expect(warm.stdout).toContain('Row  v1  300 rows: 300 loaded, 0 already cached');
      const inspect = await cli('inspect', 'Row', '7', '--json');
      expect(inspect.code).toBe(0);
      expect(JSON.parse(inspect.stdout)).toMatchObject({
        model: 'Row',
        pk: 7,
        versions: [{ version: 'v1', state: 'record', ttl: 'none', record: { id: 7, title: 'row 7' } }],
      });
    }, 60_000);
  });
});
