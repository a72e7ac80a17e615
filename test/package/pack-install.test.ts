/**
 * The package as a user gets it. `npm pack` runs on a clean copy of the sources (no dist/, so only
 * the `prepare` script can build it); the tarball is installed with its peers (from the npm
 * registry, cache first) into a temporary app; then every entry point is imported by its public
 * name and a small program runs on it (./app/main.mjs), CommonJS `require()` is tried
 * (./app/require.cjs), and a TypeScript user program is compiled against the shipped
 * declarations (./app/types.ts). A missing dist/, a broken entry or an `exports` path that points
 * nowhere fails here. Entry points are read from package.json `exports`, so a new entry (`./cli`)
 * is covered as soon as it is added there.
 *
 * The pack and the install are cached between runs (./pack.ts): the pack per content of the
 * sources, shared with test/docs; the install per tarball, peers and Node ABI.
 *
 * It runs with the Node that runs vitest (CI runs the suite on Node 20, 22 and 24). Redis and
 * Postgres parts run when those answer (REQUIRE_SERVICES=1 makes a missing one a failure), each
 * on a namespace / database of its own that the program removes.
 */
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../support/redis.js';
import { POSTGRES_URL, servicesAvailable } from '../support/services.js';
import { cachedDir, filesUnder, hashOf, INSTALL_FLAGS, packedPackage, ROOT as root, sh } from './pack.js';

const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};
/** The peers the app installs: every optional peer an entry point uses, plus a MikroORM driver. */
const PEERS = [
  '@apollo/server',
  'graphql',
  '@mikro-orm/core',
  '@keyv/redis',
  '@mikro-orm/postgresql',
  'bullmq',
  'ioredis',
];

const [postgres, redis] = await Promise.all([servicesAvailable('postgres'), servicesAvailable('redis')]);

describe('the packed package, installed into a new app', () => {
  let work: string;
  let app: string;
  let installed: string;
  let tarballFiles: string[];

  beforeAll(async () => {
    const packed = await packedPackage();
    tarballFiles = [...packed.files];
    const peers = PEERS.map((name) => `${name}@${manifest.devDependencies[name]}`);
    const key = hashOf([packed.key, ...peers, process.versions.modules, process.platform]);
    const installedApp = await cachedDir('package-app', key, async (dir) => {
      await writeFile(
        join(dir, 'package.json'),
        JSON.stringify({ name: 'app', private: true, type: 'module' }),
      );
      await sh('npm', ['install', ...INSTALL_FLAGS, packed.tarball, ...peers], dir);
    });

    work = await mkdtemp(join(tmpdir(), 'gci-package-'));
    app = join(work, 'app');
    await mkdir(app);
    await cp(join(installedApp, 'package.json'), join(app, 'package.json'));
    await symlink(join(installedApp, 'node_modules'), join(app, 'node_modules'), 'dir');
    await cp(join(root, 'test/package/app'), app, { recursive: true });
    installed = join(app, 'node_modules', manifest.name);
  }, 240_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships dist/ (built by prepare), a declaration for every entry, LICENSE, and no tests', async () => {
    expect(tarballFiles).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    expect(tarballFiles.some((file) => /^(test|examples|bench)\//.test(file))).toBe(false);
    for (const [entry, target] of Object.entries(manifest.exports)) {
      const paths = typeof target === 'string' ? [target] : [target.types, target.default];
      for (const path of paths) {
        expect(tarballFiles, `${entry} → ${path}`).toContain(path.replace(/^\.\//, ''));
      }
    }
    const license = await readFile(join(installed, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License/);
  });

  it('source maps point only at files the package ships', async () => {
    const maps = (await filesUnder(join(installed, 'dist'))).filter((file) => file.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(20);
    const shipped = new Set((await filesUnder(installed)).map((file) => resolve(file)));
    const dangling: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(await readFile(map, 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const path = resolve(dirname(map), source);
        if (!shipped.has(path)) dangling.push(`${relative(installed, map)} → ${source}`);
      }
    }
    expect(dangling).toEqual([]);
  });

  it('the shipped declarations cite no file the package does not ship', async () => {
    const declarations = (await filesUnder(join(installed, 'dist'))).filter((file) => file.endsWith('.d.ts'));
    expect(declarations.length).toBeGreaterThan(20);
    const shipped = new Set(tarballFiles.map((file) => file.split('/').at(-1)));
    const cited: string[] = [];
    for (const file of declarations) {
      const text = await readFile(file, 'utf8');
      const where = relative(installed, file);
      // Design notes and repository folders that stay out of the package.
      for (const [match] of text.matchAll(
        /DESIGN|§|\b(?:STACK|STYLE)\.md\b|\b(?:examples|bench|test)\/[\w.-]+/g,
      )) {
        cited.push(`${where}: ${match}`);
      }
      // File names in backticks: must be files of the package (src/ ships with it).
      for (const [, name] of text.matchAll(/`([\w./-]+\.(?:ts|md|js|json|yml|graphql))`/g)) {
        if (!shipped.has(name!.split('/').at(-1))) cited.push(`${where}: ${name}`);
      }
    }
    expect(cited).toEqual([]);
  });

  it('the core and /redis entries import no optional peer but their own (static import graph)', async () => {
    const allowed = (entry: string) => [
      ...Object.keys(manifest.dependencies),
      ...(entry === './redis' ? ['@keyv/redis'] : []),
    ];
    for (const entry of ['.', './redis']) {
      const target = manifest.exports[entry] as { default: string };
      const seen = new Set<string>();
      const bare = new Set<string>();
      const visit = async (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        const code = await readFile(file, 'utf8');
        for (const [, specifier] of code.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
          if (specifier!.startsWith('.')) await visit(resolve(dirname(file), specifier!));
          else if (!specifier!.startsWith('node:'))
            bare.add(specifier!.replace(/^((?:@[^/]+\/)?[^/]+).*$/, '$1'));
        }
      };
      await visit(join(installed, target.default));
      expect(seen.size, `${entry} imports its own modules`).toBeGreaterThan(1);
      expect(
        [...bare].filter((name) => !allowed(entry).includes(name)),
        entry,
      ).toEqual([]);
    }
  });

  it(`runs a program on every entry point (memory store, Apollo${redis ? ', Redis' : ''}${postgres ? ', MikroORM on Postgres' : ''})`, async () => {
    const suffix = `${process.pid}_${Date.now().toString(36)}`;
    const env: NodeJS.ProcessEnv = { REDIS_URL: '', POSTGRES_URL: '' };
    if (redis) Object.assign(env, { REDIS_URL, GCI_TEST_NAMESPACE: `test-package-${suffix}` });
    if (postgres) env.POSTGRES_URL = POSTGRES_URL.replace(/\/[^/]*$/, `/gci_package_${suffix}`);
    const { stdout } = await sh(process.execPath, ['main.mjs'], app, env);
    const out = JSON.parse(stdout);
    expect(out.node).toBe(process.version);

    const q1 = { id: 1, text: 'first', tagIds: [2, 3] };
    const q2 = { id: 2, text: 'second', tagIds: [] };
    const core = {
      first: [q1, q2, null],
      again: [q2, q1],
      // One batched load for the misses, one reload for the update, none after it (refilled).
      loadCalls: [[1, 2, 3], [1]],
      summary: expect.objectContaining({ refreshed: 1, deleted: 0 }),
      after: { ...q1, text: 'changed' },
      hits: 2,
    };
    expect(out.core).toEqual(core);
    expect(out.errorCodes).toBeGreaterThan(5);
    expect(out.apollo.cold).toEqual({
      data: { question: { id: '2', text: 'second' } },
      extensions: { cache: expect.objectContaining({ misses: 1, hits: 0 }) },
    });
    expect(out.apollo.warm.extensions.cache).toMatchObject({ misses: 0, hits: 1 });
    if (redis) {
      expect(out.redis).toEqual({ ...core, dropped: expect.any(Number), left: 0 });
      expect(out.redis.dropped).toBeGreaterThan(0);
    }
    if (postgres) {
      expect(out.mikroOrm.before).toEqual({ id: 1, name: 'Ann', bookIds: [1], initial: 'A' });
      // The subscriber refreshed the author after the second book's commit.
      expect(out.mikroOrm.after).toEqual({ id: 1, name: 'Ann', bookIds: [1, 2], initial: 'A' });
    }
  }, 60_000);

  it('require() of every entry point works on this Node (require(esm); the package is ESM only)', async () => {
    const { stdout, stderr } = await sh(process.execPath, ['require.cjs'], app);
    const out = JSON.parse(stdout) as Record<string, number | string>;
    const requireEsm = (process.features as { require_module?: boolean }).require_module === true;
    for (const entry of Object.keys(manifest.exports)) {
      if (requireEsm) expect(out[entry], entry).toBeGreaterThan(0);
      else
        expect(out[entry], entry).toBe(entry === './package.json' ? expect.any(Number) : 'ERR_REQUIRE_ESM');
    }
    // Loading from node_modules prints no ExperimentalWarning on the supported lines.
    expect(stderr).toBe('');
  });

  it('the shipped declarations type-check a TypeScript user program (NodeNext resolution)', async () => {
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          typeRoots: [join(root, 'node_modules/@types')],
          types: ['node'],
        },
        files: ['types.ts'],
      }),
    );
    await sh(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
  }, 60_000);
});
