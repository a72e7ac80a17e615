import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@keyv/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStats } from '../../src/index.js';
import { openThingCache } from '../support/processes/thing-world.js';
import { ownRedisAvailable } from '../support/redis.js';
import { freePort, type OwnRedis, startOwnRedis } from '../support/redis-server.js';

type Reply = {
  ready?: true;
  read?: number;
  record?: { id: number; value: string } | null;
  l1Hit?: boolean;
  heard?: string[];
  reset?: number;
  at?: number;
  live?: boolean;
};

const now = () => performance.timeOrigin + performance.now();

// L1 across two real OS processes sharing a Redis (one of this file's own, so that it can cut
// connections) and a database file: process A (this one) writes and refreshes; process B
// (test/support/processes/l1-reader.ts) serves reads from its L1 and must drop a record as soon as
// it hears A's announcement — and start empty after it lost the announcements.
describe.runIf(ownRedisAvailable)('L1 across two OS processes', () => {
  let server: OwnRedis;
  let dir: string;
  let path: string;
  let a: Awaited<ReturnType<typeof openThingCache>>;
  let reader: ChildProcess;
  const waiting: { match: (reply: Reply) => boolean; resolve: (reply: Reply) => void }[] = [];

  /** The next message from B that `match`es (register before causing it). */
  function next(match: (reply: Reply) => boolean): Promise<Reply> {
    return new Promise((resolve) => waiting.push({ match, resolve }));
  }
  async function readInB(pk: number): Promise<Reply> {
    const reply = next((m) => m.read === pk);
    reader.send({ read: pk });
    return reply;
  }

  beforeAll(async () => {
    server = await startOwnRedis(await freePort());
    dir = mkdtempSync(join(tmpdir(), 'gci-l1-'));
    path = join(dir, 'rows.json');
    a = await openThingCache(path, server.url, 'l1-processes', { l1: true });
    for (const id of [1, 2, 3]) a.rows.set(id, `initial ${id}`);
    await a.store.bus!.ready();
    reader = fork(
      new URL('../support/processes/l1-reader.ts', import.meta.url).pathname,
      [path, server.url, 'l1-processes'],
      {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    reader.on('message', (reply: Reply) => {
      const index = waiting.findIndex((w) => w.match(reply));
      if (index >= 0) waiting.splice(index, 1)[0]!.resolve(reply);
    });
    await next((m) => m.ready === true);
  });
  afterAll(async () => {
    if (reader?.connected) {
      const exited = new Promise((resolve) => reader.once('exit', resolve));
      reader.send({ stop: true });
      await exited;
    }
    await a?.cache.close();
    await server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("B serves from L1 until it hears A's write, then reads the new record; the delay is measured", async () => {
    expect((await readInB(1)).l1Hit).toBe(false);
    expect((await readInB(1)).l1Hit).toBe(true);
    const key = a.cache.keyOf('Thing', 1);
    const fence = a.cache.keyOf('Thing', 999);
    const heardAt: number[] = [];
    reader.on('message', (reply: Reply) => {
      if (reply.heard?.includes(key)) heardAt.push(reply.at!);
    });
    const delays: number[] = [];
    for (let i = 0; i < 40; i += 1) {
      heardAt.length = 0;
      a.rows.set(1, `write ${i}`); // the commit
      await a.cache.invalidate('Thing', [1]); // its refresh: announced when it begins and when it writes
      const done = now();
      // A fence: announcements of one publisher arrive in order, so once B heard this one it has
      // heard everything A announced before it.
      const fenced = next((m) => m.heard?.includes(fence) === true);
      await a.cache.deleteAllVersions('Thing', 999);
      await fenced;
      delays.push(heardAt.at(-1)! - done);
      const fresh = await readInB(1);
      expect(fresh.record).toEqual({ id: 1, value: `write ${i}` });
      expect(fresh.l1Hit).toBe(false);
      expect((await readInB(1)).l1Hit).toBe(true); // cached again
    }
    delays.sort((x, y) => x - y);
    const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))]!.toFixed(2);
    // When B heard A's last announcement of the write, relative to A's update() resolving
    // (negative: before A even had the reply). Until then B may serve the old record from L1.
    console.log(
      `L1: another process heard the write's last announcement at p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms after update() resolved (40 writes)`,
    );
  });

  it('A reads its own write at once (read-your-writes), without waiting for the bus', async () => {
    await a.cache.getInstances('Thing', [2]);
    a.rows.set(2, 'written by A');
    await a.cache.invalidate('Thing', [2]);
    const stats = createStats();
    expect(await a.cache.getInstances('Thing', [2], { stats })).toEqual([{ id: 2, value: 'written by A' }]);
    expect(stats.l1Hits).toBe(0);
  });

  it('B loses its announcement connection: it stops using L1 and starts empty, so a write it missed is not served', async () => {
    await readInB(3);
    expect((await readInB(3)).l1Hit).toBe(true);
    const reset = next((m) => m.reset !== undefined);
    const admin = createClient({ url: server.url });
    admin.on('error', () => {});
    await admin.connect();
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    admin.destroy();
    // Written while B's subscriber may be down: B may never hear this announcement.
    a.rows.set(3, 'written while B was deaf');
    await a.cache.invalidate('Thing', [3]);
    await reset; // B reconnected and emptied its L1
    const after = await readInB(3);
    expect(after.record).toEqual({ id: 3, value: 'written while B was deaf' });
    expect(after.l1Hit).toBe(false);
  });
});
