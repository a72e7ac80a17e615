import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CacheError, InstanceCache } from '../../src/index.js';
import { createRedisStore, type RedisClient, type RedisStore } from '../../src/redis.js';
import { createPollDb, seedPoll } from '../support/poll-fixture.js';
import { ownRedisAvailable } from '../support/redis.js';
import { freePort, type OwnRedis, startOwnRedis } from '../support/redis-server.js';

// Breaks a Redis of its own (never the shared one): a store failure must never fail a read, and
// an invalidation that could not be written must be retried and never leave a stale record.

/** Resolves once the store's client is connected (again). */
async function reconnected(store: RedisStore): Promise<void> {
  const client = store.client as RedisClient;
  if (!client.isReady) await once(client, 'ready');
}

describe.runIf(ownRedisAvailable)('Redis outage', () => {
  let port: number;
  let server: OwnRedis;
  let store: RedisStore;
  beforeAll(async () => {
    port = await freePort();
    server = await startOwnRedis(port);
    store = await createRedisStore({ url: `redis://127.0.0.1:${port}`, namespace: 'outage' });
  });
  afterAll(async () => {
    await store.close().catch(() => {});
    await server.kill();
  });

  it('reads fall through to the database, invalidations are retried, nothing stale is served', async () => {
    const { db, strategy } = createPollDb();
    seedPoll(db);
    const cache = new InstanceCache(strategy, { store, retryDelay: 20 });
    const errors: CacheError[] = [];
    cache.on('error', (error) => errors.push(error));
    await cache.getInstances('Question', [1]);

    await server.kill();
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

    // The retry timer writes the pending markers once the store answers: their 'invalidate'.
    // (Not events.once: it would reject on the 'error' of each failed retry.)
    const retried = new Promise((resolve) => cache.once('invalidate', resolve));
    server = await startOwnRedis(port);
    await retried;
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
    await server.kill();
    await cache.update([{ model: 'Question', pk: 1 }], { updateOnly: true });
    expect(cache.pendingInvalidations).toBe(2);
    server = await startOwnRedis(port);
    await reconnected(local);
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
    await server.kill();
    await cache.update([{ model: 'Question', pk: 1 }], { updateOnly: true });
    expect(await cache.close()).toBe(false);
    expect(errors.at(-1)).toBe(
      'close: InstanceCache.close: 2 invalidations could not be written to the store',
    );
    server = await startOwnRedis(port);
  });

  it('beyond maxPending failed invalidations it forgets them, bypasses the store, and drops every version once Redis is back', async () => {
    const { db, strategy } = createPollDb();
    seedPoll(db);
    const local = await createRedisStore({ url: `redis://127.0.0.1:${port}`, namespace: 'outage-overflow' });
    const cache = new InstanceCache(strategy, { store: local, retryDelay: 60_000, maxPending: 3 });
    const errors: string[] = [];
    cache.on('error', (error) => errors.push(error.message));
    await cache.getInstances('Question', [1, 2]);
    await server.kill();
    await cache.update([{ model: 'Question', pk: 1 }], { updateOnly: true });
    expect(cache.pendingInvalidations).toBe(2);
    expect(cache.bypassingStore).toBe(false);
    db.questions.get(2)!.text = 'written during the outage';
    await cache.update([{ model: 'Question', pk: 2 }], { updateOnly: true });
    // Four keys (two questions × two versions) > 3: all forgotten, the store bypassed.
    expect(cache.pendingInvalidations).toBe(0);
    expect(cache.bypassingStore).toBe(true);
    expect(errors).toContainEqual(
      expect.stringContaining('more than 3 invalidations could not reach the store'),
    );

    server = await startOwnRedis(port);
    await reconnected(local);
    // Redis is back (with question 2 stale in it, had it kept its data): not read until dropped.
    const roundTrips = cache.stats.storeRoundTrips;
    expect((await cache.getInstances('Question', [2]))[0]).toMatchObject({
      text: 'written during the outage',
    });
    expect(cache.stats.storeRoundTrips).toBe(roundTrips);
    expect(await cache.flushPending()).toBe(true);
    expect(cache.bypassingStore).toBe(false);
    expect((await cache.getInstances('Question', [2]))[0]).toMatchObject({
      text: 'written during the outage',
    });
    expect(cache.stats.storeRoundTrips).toBeGreaterThan(roundTrips);
    expect(await cache.close()).toBe(true);
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
