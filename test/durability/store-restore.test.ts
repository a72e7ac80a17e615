import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@keyv/redis';
import type { MikroORM } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PollCacheRecords } from '../../examples/poll/context.js';
import { Choice, Question, User } from '../../examples/poll/entities.js';
import { createPollOrm } from '../../examples/poll/orm.js';
import { seedPoll } from '../../examples/poll/seed.js';
import { createPollStrategy } from '../../examples/poll/strategy.js';
import { InstanceCache, type Pk } from '../../src/index.js';
import { CacheJournal, CacheSubscriber, type RecoveryReport } from '../../src/mikro-orm/index.js';
import { createRedisStore, type RedisClient, type RedisStore } from '../../src/redis.js';
import { compareWithDatabase } from '../support/compare.js';
import { createPollDb, seedPoll as seedPollDb } from '../support/poll-fixture.js';
import { ownRedisAvailable } from '../support/redis.js';
import { freePort, type OwnRedis, startOwnRedis } from '../support/redis-server.js';

// Redis restored from a snapshot: the test's own redis-server, with a dump file, is snapshotted
// (SAVE), the app writes after it (every write refreshed and journaled), then the server is
// killed with SIGKILL and restarted from the dump — what a restart with RDB persistence, or a
// failover to a lagging replica, does. The restored records match the restored markers, so only
// the journal's acks (one per batch of marks, kept in the store) can tell that the store went
// back: recovery must notice and replay what was applied since, and then every record of every
// model in every version equals the database.

describe.runIf(ownRedisAvailable)('a store restored from a snapshot', () => {
  let dir: string;
  let port: number;
  let redis: OwnRedis;
  let orm: MikroORM;
  let store: RedisStore;
  let cache: InstanceCache<PollCacheRecords>;
  let journal: CacheJournal;
  const deleted: Record<string, Pk[]> = { Choice: [] };
  let round = 0;
  const recoveries: RecoveryReport[] = [];
  let onRecovered: (() => void) | undefined;

  const start = () => startOwnRedis(port, ['--dir', dir, '--dbfilename', 'dump.rdb']);
  const strategy = () => createPollStrategy(orm);

  async function snapshot(): Promise<void> {
    const client = createClient({ url: redis.url });
    await client.connect();
    expect(await client.sendCommand(['SAVE'])).toBe('OK');
    await client.quit();
  }

  /** Kills the server with SIGKILL and starts it again from its dump; resolves when it accepts connections. */
  async function restoreFromSnapshot(): Promise<void> {
    await redis.kill();
    redis = await start();
  }

  /** Resolves once the store's client is connected again. */
  async function reconnected(): Promise<void> {
    const client = store.client as RedisClient;
    if (!client.isReady) await once(client, 'ready');
  }

  /** Writes of every kind, each committed and refreshed (inline), journaled. */
  async function write(round: number): Promise<void> {
    const em = orm.em.fork();
    const questions = await em.find(Question, {}, { orderBy: { id: 'asc' }, populate: ['choices'] });
    const users = await em.find(User, {}, { orderBy: { id: 'asc' } });
    questions[0]!.questionText = `renamed after the snapshot, round ${round}`;
    await em.flush();
    const added = em.create(Choice, { choiceText: `added in round ${round}`, question: questions[1]! });
    await em.flush();
    added.voters.add(users[0]!);
    await em.flush();
    const gone = questions[2]!.choices.getItems()[0]!;
    deleted.Choice!.push(gone.id);
    em.remove(gone);
    await em.flush();
    const voted = questions[3]!.choices.getItems()[0]!;
    await voted.voters.init();
    voted.voters.add(users[1 + round]!);
    users[2]!.active = !users[2]!.active;
    await em.flush();
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gci-restore-'));
    port = await freePort();
    redis = await start();
    orm = await createPollOrm();
    await seedPoll(orm.em.fork(), { questions: 6, choicesPerQuestion: 8, users: 12, votesPerChoice: 2 });
    store = await createRedisStore({ url: redis.url, namespace: 'restore' });
    cache = new InstanceCache(strategy(), { store });
    journal = new CacheJournal(orm, cache, {
      logger: {
        info: (_message, context) => {
          recoveries.push(context as unknown as RecoveryReport);
          onRecovered?.();
        },
      },
    });
    orm.em.getEventManager().registerSubscriber(new CacheSubscriber(cache, { journal }));
  });
  afterAll(async () => {
    await journal?.close();
    await cache?.close();
    await orm?.close(true);
    await redis?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Fills every record of every version (what serving traffic does). */
  async function warmEverything(): Promise<void> {
    const result = await compareWithDatabase(orm, strategy(), store, deleted);
    expect(result.mismatches).toEqual([]);
  }

  /**
   * Warms, applies a write, snapshots the store, applies another: the snapshot holds the acks of
   * the first write's batch of marks and not the second's.
   */
  async function writeAroundSnapshot(): Promise<void> {
    await warmEverything();
    await write(round++);
    await journal.flush();
    await snapshot();
    await write(round++);
    await journal.flush();
  }

  it('is noticed by recovery, which replays what was applied since the snapshot: 0 stale', async () => {
    // Each batch of marks leaves an ack in the store: the snapshot has some.
    await writeAroundSnapshot();
    await warmEverything();

    await restoreFromSnapshot();
    await reconnected();
    // The failure is real: without recovery, the restored store serves what it held at the
    // snapshot (its markers match its records, so nothing else notices).
    const before = await compareWithDatabase(orm, strategy(), store, deleted);
    expect(before.mismatches.length).toBeGreaterThan(0);
    // Writes after the restore, before recovery looks, must not hide the loss (a single "store
    // position" advanced by them did: found by the stress run).
    await write(round++);
    await journal.flush();

    const started = performance.now();
    const report = await journal.recover();
    const took = performance.now() - started;
    expect(report.storeWentBack).toBe(true);
    expect(report.droppedAll).toBe(false);
    expect(report.replayed).toBeGreaterThanOrEqual(5);
    expect(report.applied).toBe(report.replayed);
    const after = await compareWithDatabase(orm, strategy(), store, deleted);
    expect(after.mismatches).toEqual([]);
    console.info(
      `store restore: ${before.mismatches.length} of ${before.compared} records stale after the restore; one recovery pass replayed ${report.replayed} entries in ${took.toFixed(0)} ms; 0 stale after`,
    );
    // A second pass finds the store where the journal is.
    expect(await journal.recover()).toMatchObject({ storeWentBack: false, replayed: 0, applied: 0 });
  });

  it('is noticed without being asked: a started journal recovers when the store reconnects', async () => {
    // Each batch of marks leaves an ack in the store: the snapshot has some.
    await writeAroundSnapshot();
    journal.start();
    // Listening to the store's announcements (a reconnect triggers a pass) …
    await store.bus!.ready();
    // … and past the start pass, which finds nothing to do: the next report is the restore's.
    await journal.recover();
    recoveries.length = 0;
    const recovered = new Promise<void>((resolve) => {
      onRecovered = resolve;
    });
    const restarted = performance.now();
    await restoreFromSnapshot();
    await recovered;
    const took = performance.now() - restarted;
    expect(recoveries[0]).toMatchObject({ storeWentBack: true, droppedAll: false });
    const after = await compareWithDatabase(orm, strategy(), store, deleted);
    expect(after.mismatches).toEqual([]);
    console.info(
      `store restore: recovered ${took.toFixed(0)} ms after redis-server was restarted (kill, restart and reconnect included)`,
    );
    // Stops the periodic recovery, so that the next test's restore is left to its own journal.
    await journal.close();
  });

  it('acks that no entry holds any more cannot make up for lost ones: after a reconnect the window is checked ack by ack', async () => {
    // Another process's journal: none of the acks are its own, so only the window check can see
    // the loss. Its first pass (exact) finds the store complete.
    const otherStore = await createRedisStore({ url: redis.url, namespace: 'restore' });
    const other = new CacheJournal(orm, new InstanceCache(strategy(), { store: otherStore }));
    try {
      await writeAroundSnapshot();
      expect(await other.recover()).toMatchObject({ storeWentBack: false });
      await restoreFromSnapshot();
      await reconnected();
      const otherClient = otherStore.client as RedisClient;
      if (!otherClient.isReady) await once(otherClient, 'ready');
      // Age everything past the window's settling time (5 s), journal and acks alike, as if the
      // restore had happened a while after these writes …
      const client = store.client as RedisClient;
      const [acksKey] = await client.keys(`restore::*~journal-acks`);
      const shift = 10_000_000;
      await orm.em
        .getConnection()
        .execute(
          `update gci_cache_journal set applied_at = applied_at - ${shift} where applied_at is not null`,
        );
      const held = await client.zRangeWithScores(acksKey!, 0, -1);
      await client.del(acksKey!);
      await client.zAdd(
        acksKey!,
        held.map(({ value, score }) => ({ value, score: score - shift })),
      );
      // … and add as many acks of entries marked again since (applied twice, or replayed) as were
      // lost: counted, the window looks complete.
      const marked = (await orm.em
        .getConnection()
        .execute('select distinct applied_at as at from gci_cache_journal where applied_at is not null')) as {
        at: number | string;
      }[];
      const scores = new Set(held.map(({ score }) => score - shift));
      const lost = marked.filter(({ at }) => !scores.has(Number(at))).length;
      expect(lost).toBeGreaterThan(0);
      const newest = Math.max(...held.map(({ score }) => score - shift));
      await client.zAdd(
        acksKey!,
        Array.from({ length: lost }, (_, i) => ({ value: `remarked:${i}`, score: newest - 1 - i })),
      );
      const report = await other.recover();
      expect(report).toMatchObject({ storeWentBack: true, droppedAll: false });
      expect(report.replayed).toBeGreaterThan(0);
      const after = await compareWithDatabase(orm, strategy(), store, deleted);
      expect(after.mismatches).toEqual([]);
    } finally {
      await other.close();
      await otherStore.close();
    }
  });

  it('drops every cached version when nothing in the store shows its snapshot is recent enough to replay', async () => {
    // A snapshot of a store that holds nothing of the journal's (taken before anything the journal
    // still keeps): no ack or beat older than the first lost one survives the restore.
    await store.deleteByPrefix('');
    await snapshot();
    await warmEverything();
    await write(round++);
    await journal.flush();
    await restoreFromSnapshot();
    await reconnected();
    const report = await journal.recover();
    expect(report).toMatchObject({ storeWentBack: true, droppedAll: true });
    const after = await compareWithDatabase(orm, strategy(), store, deleted);
    expect(after.mismatches).toEqual([]);
    // The store agrees with the journal again: the next pass finds nothing.
    expect(await journal.recover()).toMatchObject({ storeWentBack: false });
  });

  it('a refresh that began before the restore and writes after it counts as failed and invalidates its keys', async () => {
    const { db, strategy: pollStrategy } = createPollDb();
    seedPollDb(db);
    const local = await createRedisStore({ url: redis.url, namespace: 'straddle' });
    const cache = new InstanceCache(pollStrategy, { store: local });
    cache.on('error', () => {});
    await cache.getInstances('Question', [1]);
    await snapshot(); // holds question 1 as it is now
    db.questions.get(1)!.text = 'written before the restore';
    const pause = db.pauseNextLoad('Question');
    const refreshing = cache.update([{ model: 'Question', pk: 1 }]);
    await pause.paused; // begun on the server that is about to be replaced
    await restoreFromSnapshot();
    await once(local.client as RedisClient, 'ready');
    pause.release();
    const summary = await refreshing;
    // Its check-and-set finds no token of its own (the restored record never had one): without
    // the connection check this looked like "a newer refresh owns the key", and the restored,
    // stale record stayed.
    expect(summary.failed).toBeGreaterThan(0);
    expect(await cache.flushPending()).toBe(true);
    const other = new InstanceCache(pollStrategy, { store: local });
    expect((await other.getInstances('Question', [1]))[0]).toMatchObject({
      text: 'written before the restore',
    });
    await cache.close();
  });
});
