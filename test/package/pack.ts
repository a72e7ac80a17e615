/**
 * The packed package and installed apps, shared by the suites that test the package as a user
 * gets it (test/package, test/docs), and cached between runs:
 *
 * - {@link packedPackage}: `npm pack` on a clean copy of the sources (no dist/, so only the
 *   `prepare` script can build it), once per content of the sources — a hash of package.json,
 *   the tsconfigs, LICENSE, src/ and the TypeScript version. README.md is packed too but left out
 *   of the hash: no test reads the packed copy, and an edit of the docs (which test/docs runs on
 *   every change) should not cost a pack and two installs. Test files running in parallel share
 *   one pack: the first takes a lock, the others wait for its result.
 * - {@link cachedDir}: the same build-once-per-key directory for anything else, such as an app
 *   with the tarball and its peers installed (key: the tarball's hash, the install command and the
 *   Node ABI).
 *
 * The cache lives in `$GCI_TEST_CACHE` (default `~/.cache/graphql-cached-instances-test`); each
 * kind keeps its few most recently used entries. Deleting it is always safe.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import {
  cp,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  watch,
  writeFile,
} from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository's root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where packs and installs are kept between runs. */
export const TEST_CACHE =
  process.env.GCI_TEST_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'graphql-cached-instances-test');

/** The files of the repository that `npm pack` reads (besides src/). */
const PACK_INPUTS = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'LICENSE', 'README.md'];

/** What the pack's cache key covers: {@link PACK_INPUTS} but the README (see the top of this file). */
const PACK_KEY_INPUTS = PACK_INPUTS.filter((name) => name !== 'README.md');

/** Runs a command, failing with its output (not just an exit code) when it fails. */
export async function sh(
  command: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(command, [...args], {
      cwd,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stderr ?? ''}\n${stdout ?? ''}`);
  }
}

/** Every file under `dir`, recursively (paths joined to `dir`). */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** A SHA-256 over labelled parts, hex. */
export function hashOf(parts: readonly (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(String(Buffer.byteLength(part)));
    hash.update('\0');
    hash.update(part);
  }
  return hash.digest('hex');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the lock file's holder is gone (a crashed run): then the lock may be taken over. */
async function lockIsStale(lock: string): Promise<boolean> {
  try {
    const pid = Number(await readFile(lock, 'utf8'));
    if (pid > 0) return !isAlive(pid);
    // Created but not written yet, unless its writer died right after creating it.
    return Date.now() - (await stat(lock)).mtimeMs > 10_000;
  } catch {
    return false; // released meanwhile: the caller tries again
  }
}

/**
 * Resolves when `done` exists or `lock` was released (or its holder died). Woken by changes in
 * the lock's directory; a liveness check every second covers a holder that died without a
 * trace (and a change missed while the watch started).
 */
async function waitForHolder(lock: string, done: string): Promise<void> {
  const finished = async () => existsSync(done) || !existsSync(lock) || (await lockIsStale(lock));
  if (await finished()) return;
  const abort = new AbortController();
  const liveness = setInterval(() => {
    void finished().then((yes) => {
      if (yes) abort.abort();
    });
  }, 1000);
  try {
    for await (const _change of watch(dirname(lock), { signal: abort.signal })) {
      if (await finished()) return;
    }
  } catch (error) {
    if ((error as Error).name !== 'AbortError') throw error;
  } finally {
    clearInterval(liveness);
    abort.abort();
  }
}

/** Deletes all but the `keep` most recently used entries of a kind (never a locked one). */
async function prune(kindDir: string, keep: number): Promise<void> {
  const names = (await readdir(kindDir)).filter((name) => /^[0-9a-f]{16,}$/.test(name));
  const used = await Promise.all(
    names.map(async (name) => ({ name, at: (await stat(join(kindDir, name))).mtimeMs })),
  );
  used.sort((a, b) => b.at - a.at);
  for (const { name } of used.slice(keep)) {
    if (existsSync(join(kindDir, `${name}.lock`))) continue;
    await rm(join(kindDir, name), { recursive: true, force: true });
  }
}

/**
 * A directory built once per `key` and kept in the test cache: `build` fills a private
 * directory, which then becomes `<cache>/<kind>/<key>` at once (a rename), so nobody ever sees a
 * half-built one. Concurrent callers (test files running in parallel) build it once: the first
 * takes a lock, the others wait for it. A build that throws leaves nothing behind.
 */
export async function cachedDir(
  kind: string,
  key: string,
  build: (dir: string) => Promise<void>,
  options: { keep?: number } = {},
): Promise<string> {
  const kindDir = join(TEST_CACHE, kind);
  const final = join(kindDir, key);
  const done = join(final, '.complete');
  const lock = `${final}.lock`;
  await mkdir(kindDir, { recursive: true });
  for (;;) {
    if (existsSync(done)) {
      const now = new Date();
      await utimes(final, now, now).catch(() => {});
      return final;
    }
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (await lockIsStale(lock)) await rm(lock, { force: true });
      else await waitForHolder(lock, done);
      continue;
    }
    try {
      if (existsSync(done)) continue;
      const building = `${final}.building-${process.pid}`;
      await rm(building, { recursive: true, force: true });
      await mkdir(building, { recursive: true });
      try {
        await build(building);
        await writeFile(join(building, '.complete'), new Date().toISOString());
        await rm(final, { recursive: true, force: true });
        await rename(building, final);
      } catch (error) {
        await rm(building, { recursive: true, force: true });
        throw error;
      }
      await prune(kindDir, options.keep ?? 3);
    } finally {
      await rm(lock, { force: true });
    }
  }
}

/** What `npm pack` made. */
export interface PackedPackage {
  /** The tarball's absolute path. */
  readonly tarball: string;
  /** The paths inside the tarball (without the `package/` prefix). */
  readonly files: readonly string[];
  /** The hash of the sources it was packed from (the cache key). */
  readonly key: string;
}

/** The hash of what `npm pack` reads (but the README), plus the TypeScript version that builds dist/. */
async function packKey(): Promise<string> {
  const sources = (await filesUnder(join(ROOT, 'src'))).sort();
  const parts: (string | Buffer)[] = [];
  for (const file of [...PACK_KEY_INPUTS.map((name) => join(ROOT, name)), ...sources]) {
    parts.push(relative(ROOT, file), await readFile(file));
  }
  const typescript = JSON.parse(readFileSync(join(ROOT, 'node_modules/typescript/package.json'), 'utf8')) as {
    version: string;
  };
  parts.push(`typescript ${typescript.version}`);
  return hashOf(parts);
}

let packing: Promise<PackedPackage> | undefined;

/**
 * The package as `npm pack` makes it from the current sources: packed once per content of the
 * sources (and cached), on a clean copy of them, so that `prepare` must build dist/.
 */
export function packedPackage(): Promise<PackedPackage> {
  packing ??= (async () => {
    const key = await packKey();
    const dir = await cachedDir('pack', key, async (out) => {
      const source = join(out, 'source');
      await mkdir(source);
      for (const file of PACK_INPUTS) await cp(join(ROOT, file), join(source, file));
      await cp(join(ROOT, 'src'), join(source, 'src'), { recursive: true });
      await symlink(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
      const { stdout } = await sh('npm', ['pack', '--json', '--pack-destination', out], source);
      // `npm pack` prints the prepare script's output before its JSON.
      const [packed] = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as {
        filename: string;
        files: { path: string }[];
      }[];
      await writeFile(
        join(out, 'pack.json'),
        JSON.stringify({ filename: packed!.filename, files: packed!.files.map((f) => f.path) }),
      );
      await rm(source, { recursive: true, force: true });
    });
    const { filename, files } = JSON.parse(await readFile(join(dir, 'pack.json'), 'utf8')) as {
      filename: string;
      files: string[];
    };
    return { tarball: join(dir, filename), files, key };
  })();
  return packing;
}

/** The flags every test install uses: the npm cache first, no audit, no install scripts. */
export const INSTALL_FLAGS = [
  '--prefer-offline',
  '--no-audit',
  '--no-fund',
  '--ignore-scripts',
  '--loglevel=error',
] as const;

/**
 * Native addons of an app installed with `--ignore-scripts`: better-sqlite3 gets the repository's
 * own build when the versions match (it was built for the Node that runs the tests), and is
 * rebuilt otherwise.
 */
export async function provideNativeAddons(app: string): Promise<void> {
  const installed = join(app, 'node_modules/better-sqlite3');
  if (!existsSync(installed)) return;
  const version = (dir: string) =>
    (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  const ours = join(ROOT, 'node_modules/better-sqlite3');
  const binary = 'build/Release/better_sqlite3.node';
  if (existsSync(join(ours, binary)) && version(ours) === version(installed)) {
    await mkdir(join(installed, 'build/Release'), { recursive: true });
    await cp(join(ours, binary), join(installed, binary));
  } else {
    await sh('npm', ['rebuild', 'better-sqlite3'], app);
  }
}
