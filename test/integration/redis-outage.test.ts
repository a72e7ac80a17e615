import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CacheError, InstanceCache } from '../../src/index.js';
import { createRedisStore, type RedisClient, type RedisStore } from '../../src/redis.js';
import { createPollDb, seedPoll } from '../support/poll-fixture.js';
import { redisAvailable } from '../support/redis.js';

// Breaks a Redis of its own (never the shared one): a store failure must never fail a read, and
// an invalidation that could not be written must be retried and never leave a stale record.
const port = 26_379 + (process.pid % 1000);

async function startRedis(): Promise<ChildProcess> {
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 100; i += 1) {
    try {
      const probe = await createRedisStore({
        url: `redis://127.0.0.1:${port}`,
        namespace: 'probe',
        connectTimeout: 200,
      });
      await probe.close();
      return server;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`redis-server did not start on port ${port}`);
}

async function stopRedis(server: ChildProcess) {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGKILL');
  await exited;
}

describe.runIf(redisAvailable)('Redis outage', () => {
  let server: ChildProcess;
  let store: RedisStore;
  beforeAll(async () => {
    server = await startRedis();
    store = await createRedisStore({ url: `redis://127.0.0.1:${port}`, namespace: 'outage' });
  });
  afterAll(async () => {
    await store.close().catch(() => {});
    await stopRedis(server);
  });

  it('reads fall through to the database, invalidations are retried, nothing stale is served', async () => {
    const { db, strategy } = createPollDb();
    seedPoll(db);
    const cache = new InstanceCache(strategy, { store, retryDelay: 20 });
    const errors: CacheError[] = [];
    cache.on('error', (error) => errors.push(error));
    await cache.getInstances('Question', [1]);

    await stopRedis(server);
    const [during] = await cache.getInstances('Question', [1]);
    expect(during).toMatchObject({ id: 1, text: 'Best color?' });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ code: 'E_STORE' });

    db.questions.get(1)!.text = 'written during the outage';
    await cache.update([{ model: 'Question', pk: 1 }]);
    expect(cache.pendingInvalidations).toBe(2); // v1 and v2 generations
    // While the bump is pending this process reads the key from the database.
    expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({
      text: 'written during the outage',
    });

    server = await startRedis();
    for (let i = 0; i < 100 && cache.pendingInvalidations > 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(cache.pendingInvalidations).toBe(0);
    const loads = db.loadsOf('Question').length;
    expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({
      text: 'written during the outage',
    });
    expect((await cache.getInstances('Question', [1]))[0]).toMatchObject({
      text: 'written during the outage',
    });
    expect(db.loadsOf('Question')).toHaveLength(loads + 1); // one repair fill, then hits
    expect(await cache.close()).toBe(true);
  });

  it('close() writes pending invalidations once the store is back', async () => {
    const { db, strategy } = createPollDb();
    seedPoll(db);
    const local = await createRedisStore({ url: `redis://127.0.0.1:${port}`, namespace: 'outage-close' });
    const cache = new InstanceCache(strategy, { store: local, retryDelay: 60_000 }); // no timer retry
    cache.on('error', () => {});
    await cache.getInstances('Question', [1]);
    await stopRedis(server);
    await cache.update([{ model: 'Question', pk: 1 }], { updateOnly: true });
    expect(cache.pendingInvalidations).toBe(2);
    server = await startRedis();
    for (let i = 0; i < 100 && !(local.client as RedisClient).isReady; i += 1)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await cache.close()).toBe(true);
    expect(cache.pendingInvalidations).toBe(0);
  });

  it('close() says so when pending invalidations are lost', async () => {
    const { db, strategy } = createPollDb();
    seedPoll(db);
    const local = await createRedisStore({ url: `redis://127.0.0.1:${port}`, namespace: 'outage-lost' });
    const cache = new InstanceCache(strategy, { store: local, retryDelay: 60_000 });
    const errors: string[] = [];
    cache.on('error', (error, { operation }) => errors.push(`${operation}: ${error.message}`));
    await cache.getInstances('Question', [1]);
    await stopRedis(server);
    await cache.update([{ model: 'Question', pk: 1 }], { updateOnly: true });
    expect(await cache.close()).toBe(false);
    expect(errors.at(-1)).toBe(
      'close: InstanceCache.close: 2 invalidations could not be written to the store',
    );
    server = await startRedis();
  });

  it('createRedisStore rejects with E_STORE when Redis does not answer at startup', async () => {
    const started = Date.now();
    await expect(
      createRedisStore({ url: `redis://127.0.0.1:${port + 1}`, namespace: 'nobody', connectTimeout: 300 }),
    ).rejects.toMatchObject({
      code: 'E_STORE',
      message: expect.stringContaining('cannot connect to redis://127.0.0.1:'),
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
