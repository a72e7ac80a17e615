/**
 * The README's "Build an app", followed literally: its code blocks ARE the app, so a block that
 * changes without the app still working fails here, and so does an answer printed in the README
 * that the app no longer gives.
 *
 * Every fenced block of that section carries a tag after its language, and an untagged block
 * fails the test (nothing in the section can drift untested):
 *
 * - `sh setup` — the project: `mkdir NAME && cd NAME`, then commands run as written, except that
 *   `npm install` gets the packed tarball (test/package/pack.ts) in place of the package name and
 *   the offline-first flags. The installed app is cached per tarball, command and Node ABI.
 * - `<lang> file=PATH` — a file of the app, written as is.
 * - `sh check` — run in the app; must succeed and print nothing (`npx tsc`, strict).
 * - `sh run` (+ `text output`) — starts a server (as its own process group, on a free port:
 *   `PORT=0`); what it prints must be the output block, with the port it got in place of 4000.
 *   The next `run` stops the previous server as Ctrl-C does (SIGINT to the group), and waits
 *   until every process of the group has exited.
 * - `sh request` (+ `json response`) — a curl command, run as written against the running
 *   server; its answer must equal the response block (as JSON).
 * - `sh run redis` — the same server on Redis (the test's REDIS_URL, a namespace of its own that
 *   is deleted afterwards); every request of the previous server is sent again and must answer
 *   the same. Skipped with one line without Redis (a failure with REQUIRE_SERVICES=1).
 *
 * The README's Installation table is checked against package.json: every peer with its exact
 * range, every entry point it names, the `engines` range.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cachedDir,
  hashOf,
  INSTALL_FLAGS,
  packedPackage,
  provideNativeAddons,
  ROOT,
  sh,
} from '../package/pack.js';
import { createTestRedisStore, REDIS_URL } from '../support/redis.js';
import { servicesAvailable } from '../support/services.js';

const run = promisify(execFile);
const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  engines: { node: string };
  exports: Record<string, unknown>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

/** One fenced block of the README. */
interface Block {
  readonly lang: string;
  readonly tags: readonly string[];
  readonly file: string | undefined;
  readonly code: string;
  /** 1-based line of the opening fence, for messages. */
  readonly line: number;
}

/** A `## ` section of the README, by its title, with the line it starts on. */
function section(title: string): { text: string; line: number } {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${title}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return {
    text: readme.slice(start + 1, end < 0 ? undefined : end + 1),
    line: readme.slice(0, start + 1).split('\n').length,
  };
}

function blocksOf({ text, line: first }: { text: string; line: number }): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S+)(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`README.md line ${first + i}: unclosed code block`);
    const words = open[2]!.trim().split(/\s+/).filter(Boolean);
    blocks.push({
      lang: open[1]!,
      tags: words.filter((word) => !word.startsWith('file=')),
      file: words.find((word) => word.startsWith('file='))?.slice('file='.length),
      code: `${lines.slice(i + 1, end).join('\n')}\n`,
      line: first + i,
    });
    i = end;
  }
  return blocks;
}

const blocks = blocksOf(section('Build an app'));
const at = (block: Block) => `README.md line ${block.line}`;

/** A server the walk-through starts, and the requests sent to it with their printed answers. */
interface Server {
  readonly block: Block;
  readonly output: Block;
  readonly redis: boolean;
  readonly requests: { request: Block; response: Block }[];
}

/** The walk-through, in README order; throws on a block without a known tag. */
function walkThrough() {
  const files: Block[] = [];
  const checks: Block[] = [];
  const servers: Server[] = [];
  let setup: Block | undefined;
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[i]!;
    const next = blocks[i + 1];
    const tag = block.tags[0];
    if (block.file) files.push(block);
    else if (tag === 'setup') setup = block;
    else if (tag === 'check') checks.push(block);
    else if (tag === 'run' || tag === 'request') {
      const answer = tag === 'run' ? 'output' : 'response';
      if (next?.tags[0] !== answer)
        throw new Error(`${at(block)}: a "${tag}" block must be followed by a "${answer}" block`);
      i += 1;
      if (tag === 'run') {
        servers.push({ block, output: next, redis: block.tags.includes('redis'), requests: [] });
      } else {
        const server = servers.at(-1);
        if (!server) throw new Error(`${at(block)}: a request before any "run" block`);
        server.requests.push({ request: block, response: next });
      }
    } else {
      throw new Error(
        `${at(block)}: every block of "Build an app" needs a tag the docs test knows (file=…, setup, check, run, output, request, response); got \`\`\`${block.lang} ${block.tags.join(' ')}`,
      );
    }
  }
  if (!setup) throw new Error('README.md "Build an app" has no ```sh setup block');
  return { setup, files, checks, servers };
}

const steps = walkThrough();
const redis = await servicesAvailable('redis');

/** The environment of the app's processes: the user's, without what this test run adds. */
function appEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith('VITEST') || ['NODE_ENV', 'REDIS_URL', 'CACHE_NAMESPACE', 'PORT'].includes(name)) {
      delete env[name];
    }
  }
  return { ...env, ...extra };
}

/** A running `sh run` block: its own process group, and what it printed so far. */
interface Running {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves when every process holding its output pipes has exited. */
  readonly closed: Promise<void>;
}

function start(command: string, cwd: string, env: NodeJS.ProcessEnv): Running {
  const child = spawn('sh', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const running: Running = {
    child,
    stdout: '',
    stderr: '',
    closed: once(child, 'close').then(() => {}),
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    running.stdout += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    running.stderr += chunk;
  });
  return running;
}

/** Resolves with the first `count` lines the process printed; rejects if it ends first. */
async function linesOf(running: Running, count: number): Promise<string[]> {
  const enough = () => running.stdout.split('\n').length > count;
  const ended = running.closed.then(() => 'ended' as const);
  while (!enough()) {
    const event = await Promise.race([
      once(running.child.stdout!, 'data').then(() => 'data' as const),
      ended,
    ]);
    if (event === 'ended' && !enough()) {
      throw new Error(
        `the server ended before printing ${count} lines:\n${running.stdout}\n${running.stderr}`,
      );
    }
  }
  return running.stdout.split('\n').slice(0, count);
}

/** Ctrl-C: SIGINT to the process group; resolves when all of it has exited. */
async function interrupt(running: Running): Promise<void> {
  try {
    process.kill(-running.child.pid!, 'SIGINT');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
  await running.closed;
}

describe('README "Installation" matches package.json', () => {
  const installation = section('Installation').text;

  it('names every peer with its exact range, all optional', () => {
    for (const [name, range] of Object.entries(manifest.peerDependencies)) {
      expect(installation, `${name} ${range}`).toContain(`\`${name}\` \`${range}\``);
      expect(manifest.peerDependenciesMeta[name]?.optional, name).toBe(true);
    }
    // And names no other range for a peer.
    for (const [, name, range] of installation.matchAll(/`(@?[\w./-]+)` `([^`]+)`/g)) {
      if (name! in manifest.peerDependencies) expect(range, name).toBe(manifest.peerDependencies[name!]);
    }
  });

  it('names only entry points package.json exports (or says one is being added)', () => {
    const rows = installation.split('\n').filter((row) => row.startsWith('|'));
    const named = rows.flatMap((row) =>
      [...row.matchAll(/`graphql-cached-instances(\/[\w-]+)?`/g)].map((m) => ({
        entry: `.${m[1] ?? ''}`,
        row,
      })),
    );
    expect(named.length).toBeGreaterThan(3);
    for (const { entry, row } of named) {
      if (!(entry in manifest.exports)) expect(row, entry).toMatch(/being added/);
    }
  });

  it('states the engines range', () => {
    expect(installation).toContain(`\`${manifest.engines.node}\``);
  });
});

describe('README "Build an app", followed literally', () => {
  let app: string;
  let work: string;
  const running: Running[] = [];
  /** The Redis runs' key namespaces (this test's own), deleted at the end whatever happened. */
  const namespaces: string[] = [];

  beforeAll(async () => {
    const packed = await packedPackage();
    const [first, ...commands] = steps.setup.code.trim().split('\n');
    const mkdirCd = /^mkdir ([\w-]+) && cd \1$/.exec(first ?? '');
    if (!mkdirCd) throw new Error(`${at(steps.setup)}: the setup must start with "mkdir NAME && cd NAME"`);
    const name = mkdirCd[1]!;
    const { stdout: npmVersion } = await run('npm', ['--version']);
    const key = hashOf([
      packed.key,
      steps.setup.code,
      npmVersion,
      process.versions.modules,
      process.platform,
    ]);
    const installed = await cachedDir('docs-app', key, async (dir) => {
      const project = join(dir, name);
      await mkdir(project);
      for (const command of commands) {
        const words = command.trim().split(/\s+/);
        if (words[0] === 'npm' && words[1] === 'install') {
          const args = words.slice(2).map((word) => (word === manifest.name ? packed.tarball : word));
          await sh('npm', ['install', ...INSTALL_FLAGS, ...args], project);
        } else {
          await sh('sh', ['-c', command], project);
        }
      }
      await provideNativeAddons(project);
    });
    const installedProject = join(installed, name);
    expect(
      JSON.parse(await readFile(join(installedProject, 'package.json'), 'utf8')).dependencies,
      'the setup installs the package',
    ).toHaveProperty(manifest.name);

    work = await mkdtemp(join(tmpdir(), 'gci-docs-'));
    app = join(work, name);
    await mkdir(app);
    await cp(join(installedProject, 'package.json'), join(app, 'package.json'));
    await symlink(join(installedProject, 'node_modules'), join(app, 'node_modules'), 'dir');
    for (const block of steps.files) {
      await mkdir(dirname(join(app, block.file!)), { recursive: true });
      await writeFile(join(app, block.file!), block.code);
    }
  }, 240_000);

  afterAll(async () => {
    for (const server of running) {
      try {
        process.kill(-server.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const namespace of namespaces) await (await createTestRedisStore('docs', { namespace })).cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const check of steps.checks) {
    it(`${check.code.trim()} succeeds and prints nothing (${at(check)})`, async () => {
      const { stdout, stderr } = await sh('sh', ['-c', check.code], app, appEnv());
      expect(stdout + stderr).toBe('');
    }, 120_000);
  }

  let previous: Server | undefined;
  for (const server of steps.servers) {
    const requests = server.redis ? (previous?.requests ?? []) : server.requests;
    const where = server.redis ? ' on Redis' : '';
    describe.runIf(!server.redis || redis)(`${server.block.code.trim()} (${at(server.block)})`, () => {
      let current: Running;
      let port = '';

      it('starts and prints what the README shows', async () => {
        let env = appEnv({ PORT: '0' });
        let command = server.block.code;
        if (server.redis) {
          const namespace = `test-docs-${process.pid}-${Date.now().toString(36)}`;
          namespaces.push(namespace);
          env = appEnv({ PORT: '0', CACHE_NAMESPACE: namespace });
          command = command.replace(/redis:\/\/\S+/, REDIS_URL);
        }
        current = start(command, app, env);
        running.push(current);
        const expected = server.output.code.trimEnd().split('\n');
        const printed = await linesOf(current, expected.length);
        port = /:(\d+)\b/.exec(printed[0] ?? '')?.[1] ?? '';
        expect(port, printed[0]).not.toBe('');
        expect(printed).toEqual(expected.map((line) => line.replaceAll(':4000', `:${port}`)));
      }, 60_000);

      for (const { request, response } of requests) {
        it(`answers ${at(request)} as printed at ${at(response)}${where}`, async () => {
          const command = request.code.replaceAll(':4000', `:${port}`);
          const { stdout } = await sh('sh', ['-c', command], app, appEnv());
          expect(JSON.parse(stdout)).toEqual(JSON.parse(response.code));
        });
      }

      it('stops on Ctrl-C, every process of it, having printed nothing else', async () => {
        await interrupt(current);
        expect(current.stderr).toBe('');
      }, 30_000);
    });
    if (!server.redis) previous = server;
  }
});
