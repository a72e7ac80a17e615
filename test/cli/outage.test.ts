/**
 * The store goes away during a command (a redis-server of this file's own, killed at a moment
 * the test chooses, never after a sleep): warm stops with exit 3 instead of loading on without
 * filling, and an invalidation that could not be written ends with exit 3 after its report.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/index.js';
import { defineModel, defineStrategy, InstanceCache } from '../../src/index.js';
import { createRedisStore } from '../../src/redis.js';
import { ownRedisAvailable } from '../support/redis.js';
import { freePort, type OwnRedis, startOwnRedis } from '../support/redis-server.js';
import { runCliInProcess } from './run-cli.js';

const cli = (...argv: string[]) => runCliInProcess(['--config', 'global.config.mjs', ...argv]);

const rows = Array.from({ length: 50 }, (_, i) => ({ id: i + 1, title: `row ${i + 1}` }));
const strategy = defineStrategy({
  versions: ['v1'],
  namespace: 'outage',
  models: [
    defineModel('Row', {
      load: (pks) => rows.filter((row) => pks.includes(row.id)),
      serialize: (row: { id: number; title: string }) => ({ ...row }),
      invalidate: () => [],
    }),
  ],
});

describe.runIf(ownRedisAvailable)('the store goes away during a command', () => {
  let server: OwnRedis;

  beforeEach(async () => {
    server = await startOwnRedis(await freePort());
  });
  afterEach(async () => {
    globalThis.__gciCliConfig = undefined;
    await server.kill();
  });
  afterAll(() => {
    globalThis.__gciCliConfig = undefined;
  });

  it('warm stops with exit 3 at the first batch the store failed, saying where', async () => {
    const pages: unknown[] = [];
    globalThis.__gciCliConfig = async () => ({
      cache: new InstanceCache(strategy, {
        store: await createRedisStore({ url: server.url, namespace: 'cli' }),
      }),
      pks: {
        count: async () => rows.length,
        async pksAfter(_model, after, limit) {
          pages.push(after);
          // The second page is asked for while the first loads: Redis dies then.
          if (after !== undefined) await server.kill();
          return rows
            .filter((row) => after === undefined || row.id > (after as number))
            .slice(0, limit)
            .map((row) => row.id);
        },
      },
    });
    const { code, stdout, stderr } = await cli('warm', '--batch', '10');
    expect(code).toBe(EXIT_CODES.storeUnreachable);
    expect(stdout).toBe('');
    // The first batch was read before the kill; the batch after it found the store gone.
    expect(stderr).toMatch(/^error: warm stopped at Row after (10|20) of 50 records: \w+ failed: /m);
    expect(stderr).toContain('the cache store is unreachable');
    expect(pages.length).toBeLessThanOrEqual(3);
  });

  it('invalidate that cannot write reports what it did, then exits 3', async () => {
    globalThis.__gciCliConfig = async () => {
      const store = await createRedisStore({ url: server.url, namespace: 'cli' });
      // Connected, then the store goes away before the command runs.
      await server.kill();
      return { cache: new InstanceCache(strategy, { store, retryDelay: 60_000 }) };
    };
    const { code, stdout, stderr } = await cli('invalidate', 'Row', '1', '2');
    expect(code).toBe(EXIT_CODES.storeUnreachable);
    expect(stdout).toContain('invalidated 2 Row instances in every version');
    // Nothing landed, so nothing counts as rewritten: the two keys are counted as failed only.
    expect(stdout).toContain('  0 records rewritten, 0 now not found, 0 unchanged');

    expect(stdout).toContain(
      '  2 keys could not be written (the store failed): run the command again once it answers',
    );
    expect(stderr).toMatch(/^error: /);
    expect(stderr).toContain('the cache store is unreachable');
  });
});
