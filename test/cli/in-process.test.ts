/**
 * The CLI run in this process (`runCli` with captured streams) on a memory store the test holds,
 * through a config module whose factory the test provides (fixtures/global.config.mjs): usage
 * and config errors and their exit codes, warm's batches and keyset pages, every state `inspect`
 * tells apart, and drop-version's confirmation. The services-backed runs, as child processes,
 * are in postgres-redis.test.ts.
 */
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT_CODES, type PkSource } from '../../src/cli/index.js';
import {
  type CacheStore,
  createMemoryStore,
  defineModel,
  defineStrategy,
  InstanceCache,
  StoreError,
} from '../../src/index.js';
import { FIXTURES, runCliInProcess } from './run-cli.js';

interface Row {
  id: number;
  title: string;
  hidden?: boolean;
}

/** stdin as a pipe (no one to ask), or as a terminal on which the operator types `answer`. */
function stdinOf(answer?: string): PassThrough & { isTTY?: boolean } {
  const stream: PassThrough & { isTTY?: boolean } = new PassThrough();
  if (answer !== undefined) {
    stream.isTTY = true;
    stream.end(answer);
  }
  return stream;
}

const run = (argv: string[], stdin = stdinOf()) => runCliInProcess(argv, stdin);

/** Runs with the test's config (fixtures/global.config.mjs). */
const cli = (...argv: string[]) => run(['--config', 'global.config.mjs', ...argv]);

describe('usage and config errors', () => {
  it('--help lists the commands and the exit codes, and exits 0', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(EXIT_CODES.ok);
    for (const command of ['warm', 'inspect', 'invalidate', 'drop-version', 'stats']) {
      expect(stdout).toContain(`  ${command} `);
    }
    expect(stdout).toContain('Exit codes:');
    expect(stdout).toMatch(/3 {2}the cache store is unreachable/);
    expect((await run(['warm', '--help'])).stdout).toContain('--batch <n>');
  });

  it('an unknown command, an unknown option or a bad value: the usage, exit 2', async () => {
    const unknown = await run(['wram']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'wram'");
    const option = await run(['warm', '--bogus']);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option '--bogus'");
    const batch = await run(['warm', '--batch', '0']);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toContain('expected a positive integer, got "0"');
    expect(batch.stderr).toContain('Usage: graphql-cached-instances warm');
    expect((await run([])).code).toBe(2);
  });

  it('a config that is missing, fails to import, or exports no factory: exit 2 with its path and the cause', async () => {
    const missing = await run(['--config', 'missing.config.mjs', 'stats']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`error: config module not found: ${FIXTURES}missing.config.mjs\n`);

    const none = await run(['stats']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`no config: pass --config <module>, or put one of cache.config.js`);

    const throws = await run(['stats', '--config', 'throws.config.mjs']);
    expect(throws.code).toBe(2);
    expect(throws.stderr).toContain(`config module ${FIXTURES}throws.config.mjs could not be imported`);
    expect(throws.stderr).toContain('this config cannot be imported: boom');

    const noDefault = await run(['-c', 'no-default.config.mjs', 'stats']);
    expect(noDefault.code).toBe(2);
    expect(noDefault.stderr).toContain('must export a default function returning { cache, pks?, close? }');
    expect(noDefault.stderr).toContain('its default export is missing');

    const notCache = await run(['-c', 'not-a-cache.config.mjs', 'stats']);
    expect(notCache.code).toBe(2);
    expect(notCache.stderr).toContain('its factory must return { cache: InstanceCache, pks?, close? }');
  });

  it('a factory that throws: exit 2 with the cause; a store it cannot reach: exit 3', async () => {
    globalThis.__gciCliConfig = () => {
      throw new Error('DATABASE_URL is not set');
    };
    const failed = await cli('stats');
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain('its factory failed: DATABASE_URL is not set');
    globalThis.__gciCliConfig = () => {
      throw new StoreError('createRedisStore: cannot connect to redis://127.0.0.1:1: refused');
    };
    const unreachable = await cli('stats');
    expect(unreachable.code).toBe(EXIT_CODES.storeUnreachable);
    expect(unreachable.stderr).toContain('cannot connect to redis://127.0.0.1:1');
    expect(unreachable.stderr).toContain('the cache store is unreachable');
  });
});

describe('commands on a memory store the test holds', () => {
  const rows = new Map<number, Row>();
  const loads: { model: string; version: string; pks: number[] }[] = [];
  const pages: { model: string; after: unknown; limit: number }[] = [];
  let store: CacheStore;
  let closed: number;

  const load = (model: string) => (pks: readonly (number | string)[], context: { version: string }) => {
    loads.push({ model, version: context.version, pks: pks as number[] });
    return pks.flatMap((pk) => rows.get(pk as number) ?? []);
  };
  const strategy = defineStrategy({
    versions: ['v1', 'v2'],
    namespace: 'clitest',
    models: [
      defineModel('Thing', {
        load: load('Thing'),
        serialize: (row: Row) => (row.hidden ? null : { id: row.id, title: row.title }),
        invalidate: () => [],
      }),
      defineModel('Note', {
        load: load('Note'),
        serialize: (row: Row) => ({ id: row.id, text: row.title }),
        invalidate: () => [],
        versions: ['v2'],
      }),
    ],
  });
  const source: PkSource = {
    async count() {
      return rows.size;
    },
    async pksAfter(model, after, limit) {
      pages.push({ model, after, limit });
      return [...rows.keys()]
        .sort((a, b) => a - b)
        .filter((pk) => after === undefined || pk > (after as number))
        .slice(0, limit);
    },
  };
  /** A cache on the shared memory store, as the config gives it to the CLI (which closes it). */
  const cacheOf = () => new InstanceCache(strategy, { store: { ...store, close: undefined } });
  const keysOf = (version: string) =>
    [...rows.keys()].map((pk) => `${strategy.versionPrefix(version)}Thing:${pk}`);

  beforeEach(() => {
    rows.clear();
    for (let id = 1; id <= 25; id += 1) rows.set(id, { id, title: `thing ${id}`, hidden: id === 13 });
    loads.length = 0;
    pages.length = 0;
    store = createMemoryStore();
    closed = 0;
    globalThis.__gciCliConfig = () => ({
      cache: cacheOf(),
      pks: source,
      close: () => {
        closed += 1;
      },
    });
  });
  afterEach(() => {
    globalThis.__gciCliConfig = undefined;
  });

  it('warm reads every pk in keyset pages of --batch, one load per page and version, and says the store is process-local', async () => {
    const { code, stdout, stderr } = await cli('warm', '--batch', '10', '--progress-every', '1');
    expect(code).toBe(0);
    // Pages start after the last pk of the one before: never an offset.
    expect(pages.filter((p) => p.model === 'Thing')).toEqual([
      { model: 'Thing', after: undefined, limit: 10 },
      { model: 'Thing', after: 10, limit: 10 },
      { model: 'Thing', after: 20, limit: 10 },
    ]);
    expect(loads.filter((l) => l.model === 'Thing').map((l) => [l.version, l.pks.length])).toEqual([
      ['v1', 10],
      ['v2', 10],
      ['v1', 10],
      ['v2', 10],
      ['v1', 5],
      ['v2', 5],
    ]);
    // Note exists in v2 only.
    expect(loads.filter((l) => l.model === 'Note').map((l) => l.version)).toEqual(['v2', 'v2', 'v2']);
    expect(stdout).toContain('warmed 75 records (50 rows, 2 models, 2 versions)');
    expect(stdout).toContain('Thing  v1  25 rows: 25 loaded, 0 already cached, 1 not found or hidden');
    expect(stdout).toContain('Note   v2  25 rows: 25 loaded, 0 already cached');
    expect(stderr).toContain('note: the store is process-local (memory)');
    expect(stderr).toContain('warm: 20/75 records (26%)');
    expect(stderr.trim().split('\n').at(-1)).toMatch(
      /^warm: 75\/75 records \(100%\), [\d,]+ records\/s, Note@v2$/,
    );
    // Filled through the normal path: every key holds a record (or "not found") of its definition.
    const values = await store.getMany([...keysOf('v1'), ...keysOf('v2')]);
    expect(values.every((value) => value?.startsWith('#'))).toBe(true);
    expect(closed).toBe(1);

    loads.length = 0;
    const again = await cli('warm', '--model', 'Thing', '--version', 'v2', '--json');
    expect(again.code).toBe(0);
    expect(loads).toEqual([]);
    const summary = JSON.parse(again.stdout) as {
      records: number;
      warmed: { loaded: number; cached: number }[];
    };
    expect(summary.records).toBe(25);
    expect(summary.warmed).toEqual([
      expect.objectContaining({ model: 'Thing', version: 'v2', loaded: 0, cached: 25 }),
    ]);
  });

  it('unknown models, versions and pks: exit 2, listing what exists; nothing is touched', async () => {
    const model = await cli('inspect', 'Thnig', '1');
    expect(model.code).toBe(2);
    expect(model.stderr).toBe('error: Unknown model "Thnig"; the models are ["Thing","Note"]\n');
    const version = await cli('warm', '--version', 'v9');
    expect(version.code).toBe(2);
    expect(version.stderr).toContain('Unknown cache version "v9"; the versions are ["v1","v2"]');
    const absent = await cli('warm', '--model', 'Note', '--version', 'v1');
    expect(absent.code).toBe(2);
    expect(absent.stderr).toContain('model "Note" is stored in versions ["v2"], none of ["v1"]');
    const pk = await cli('invalidate', 'Thing', '1', 'x');
    expect(pk.code).toBe(2);
    expect(pk.stderr).toContain('Invalid id for Thing: expected an integer, got "x"');
    const drop = await cli('drop-version', 'v3', '--yes');
    expect(drop.code).toBe(2);
    expect(drop.stderr).toContain('the versions are ["v1","v2"]');
    expect(loads).toEqual([]);
    expect(pages).toEqual([]);
  });

  it('warm without a pks source: exit 2 saying what the config must return', async () => {
    globalThis.__gciCliConfig = () => ({ cache: cacheOf() });
    const { code, stderr } = await cli('warm');
    expect(code).toBe(2);
    expect(stderr).toContain('has no pks source, which warm needs');
  });

  it('inspect tells every state apart: record, not found, absent, marker, refresh token, another definition, junk', async () => {
    const cache = cacheOf();
    await cache.getInstances('Thing', [1, 2, 3, 4, 5, 13]);
    await cache.deleteAllVersions('Thing', 2); // markers
    rows.set(3, { id: 3, title: 'thing 3' });
    await cache.invalidate('Thing', [3], { versions: ['v1'] }); // unchanged: the record keeps the token
    const v1 = strategy.versionPrefix('v1');
    await store.setMany([
      { key: `${v1}Thing:4`, value: '#deadbeef{"id":4,"title":"from another deploy"}' },
      { key: `${v1}Thing:5`, value: 'not ours' },
    ]);
    const state = async (pk: number) => {
      const { code, stdout } = await cli('inspect', 'Thing', String(pk), '--version', 'v1', '--json');
      expect(code).toBe(0);
      return (JSON.parse(stdout) as { versions: Record<string, unknown>[] }).versions[0]!;
    };
    const tag = strategy.resolve('Thing', 'v1').recordTag;
    expect(await state(1)).toEqual({
      version: 'v1',
      key: `${v1}Thing:1`,
      storedKey: `${v1}Thing:1`,
      state: 'record',
      ttl: 'unknown',
      tag,
      currentTag: tag,
      record: { id: 1, title: 'thing 1' },
    });
    expect(await state(13)).toMatchObject({ state: 'not-found', tag });
    expect(await state(7)).toMatchObject({ state: 'absent' });
    expect(await state(2)).toMatchObject({ state: 'marker', generation: expect.any(String) });
    expect(await state(3)).toMatchObject({
      state: 'record',
      token: expect.any(String),
      record: { title: 'thing 3' },
    });
    expect(await state(4)).toMatchObject({ state: 'other-definition', tag: '#deadbeef', currentTag: tag });
    expect(await state(5)).toMatchObject({ state: 'corrupt' });

    const text = await cli('inspect', 'Thing', '1');
    expect(text.stdout).toBe(
      [
        'Thing 1',
        '  v1: record',
        `    key ${v1}Thing:1, TTL unknown`,
        `    tag ${tag} (this definition)`,
        '    {',
        '      "id": 1,',
        '      "title": "thing 1"',
        '    }',
        '  v2: absent: never read, expired or dropped; the next read loads and fills it',
        `    key ${strategy.versionPrefix('v2')}Thing:1`,
        'note: the store is process-local: a new process starts with it empty',
        '',
      ].join('\n'),
    );
  });

  it('invalidate refreshes through cache.invalidate and reports what changed', async () => {
    await cacheOf().getInstances('Thing', [1, 2], { version: 'v1' });
    rows.set(1, { id: 1, title: 'renamed' });
    const { code, stdout } = await cli('invalidate', 'Thing', '1', '2', '--version', 'v1');
    expect(code).toBe(0);
    expect(stdout).toContain('invalidated 2 Thing instances in v1 (1 cascade level, ');
    expect(stdout).toContain('1 record rewritten, 0 now not found, 1 unchanged, 0 not cached (skipped)');
    const after = JSON.parse((await cli('inspect', 'Thing', '1', '--version', 'v1', '--json')).stdout) as {
      versions: { record: unknown }[];
    };
    expect(after.versions[0]!.record).toEqual({ id: 1, title: 'renamed' });
  });

  it('drop-version asks on a terminal (no: exit 1, nothing dropped), refuses without --yes elsewhere, and drops one version only', async () => {
    await cacheOf().getInstances('Thing', [1, 2, 3], { version: 'v1' });
    await cacheOf().getInstances('Thing', [1, 2, 3], { version: 'v2' });
    const held = async (version: string) =>
      (await store.getMany(keysOf(version).slice(0, 3))).filter((value) => value !== undefined).length;

    const piped = await cli('drop-version', 'v1');
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain('stdin is not a terminal, so there is no one to confirm: pass --yes');
    expect(await held('v1')).toBe(3);

    const declined = await run(['-c', 'global.config.mjs', 'drop-version', 'v1'], stdinOf('n\n'));
    expect(declined.code).toBe(EXIT_CODES.failed);
    expect(declined.stderr).toContain('Delete every key matching clitest:v1:* in memory');
    expect(declined.stderr).toContain('v2 keep their keys');
    expect(declined.stderr).toContain('not dropped');
    expect(await held('v1')).toBe(3);

    const confirmed = await run(['-c', 'global.config.mjs', 'drop-version', 'v1'], stdinOf('y\n'));
    expect(confirmed.code).toBe(0);
    expect(confirmed.stdout).toContain('dropped cache version v1: 3 keys deleted');
    expect(await held('v1')).toBe(0);
    expect(await held('v2')).toBe(3);
  });

  it('stats: the strategy, and for a process-local store that there is nothing to count', async () => {
    const { code, stdout } = await cli('stats');
    expect(code).toBe(0);
    expect(stdout).toContain(
      'store: memory (process-local: this process has its own, empty store), fills checked at write',
    );
    expect(stdout).toContain('strategy: namespace "clitest", versions v1, v2 (default v1)');
    expect(stdout).toContain(`  Note (number pk): v2 ${strategy.resolve('Note', 'v2').recordTag}`);
    expect(stdout).toContain('keys: none here: the store is process-local, and this process just started');
    const json = JSON.parse((await cli('stats', '--json')).stdout) as {
      keys: unknown;
      store: { kind: string };
    };
    expect(json.keys).toBeNull();
    expect(json.store.kind).toBe('memory');
  });
});
