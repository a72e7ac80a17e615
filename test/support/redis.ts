import { createClient } from '@keyv/redis';
import { inject } from 'vitest';
import { createRedisStore, type RedisClient, type RedisStore } from '../../src/redis.js';
import { gate } from './gate.js';

/** The shared Redis of the machine (STACK.md). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether Redis suites run (see gate.ts). */
export const redisAvailable = await gate('Redis', REDIS_URL, async () => {
  const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 1000, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  await client.ping();
  await client.quit();
});

/** Whether this machine can start redis-server processes of a test's own (outage, restore, multi-process suites). */
export const ownRedisAvailable = await gate(
  'redis-server',
  "this machine (a server of the test's own)",
  async () => {
    const { execFileSync } = await import('node:child_process');
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  },
);

/** The test run's own Redis Cluster (see global-setup.ts), or `null`. */
const cluster = inject('redisCluster');

/** Whether the Redis Cluster suites run. */
export const redisClusterAvailable = await gate(
  'Redis Cluster',
  "a 3-master cluster of the test run's own",
  async () => {
    if (!cluster.urls) throw new Error(cluster.error ?? 'it did not start');
  },
);

let suiteCounter = 0;

/**
 * A Redis store (on the shared Redis, or on the run's own cluster) with a namespace of its own,
 * so parallel test files never see each other's keys; `cleanup` deletes the namespace and quits.
 */
export async function createTestRedisStore(
  label: string,
  where: { cluster?: boolean; namespace?: string } = {},
): Promise<RedisStore & { cleanup(): Promise<void> }> {
  suiteCounter += 1;
  const namespace =
    where.namespace ?? `test-${label}-${process.pid}-${suiteCounter}-${Date.now().toString(36)}`;
  const store = await createRedisStore(
    where.cluster ? { cluster: cluster.urls!, namespace } : { url: REDIS_URL, namespace },
  );
  return Object.assign(store, {
    async cleanup() {
      await store.deleteByPrefix('');
      await store.close();
    },
  });
}

/** How many times Redis has run `command` (from INFO commandstats): counts real round trips. */
export async function commandCalls(store: RedisStore, command: string): Promise<number> {
  const info = await (store.client as RedisClient).info('commandstats');
  const match = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
  return match ? Number(match[1]) : 0;
}

/** One command MONITOR saw for a namespace: its name and how many of the namespace's keys it named. */
export interface MonitoredCommand {
  readonly command: string;
  readonly keys: number;
}

/**
 * Records the commands Redis receives for one namespace (through MONITOR on a connection of its
 * own), so a test can count real round trips and keys even while other test files share the
 * server.
 */
export async function monitorNamespace(store: RedisStore) {
  const client = store.client as RedisClient;
  const monitor = client.duplicate();
  monitor.on('error', () => {});
  await monitor.connect();
  const seen: MonitoredCommand[] = [];
  const prefix = `"${store.namespace}::`;
  let waiting: { mark: string; resolve: () => void } | undefined;
  let marks = 0;
  // The promise MONITOR returns does not settle while monitoring; wait for the first line instead.
  let started!: () => void;
  const ready = new Promise<void>((resolve) => {
    started = resolve;
  });
  void monitor.monitor((line: string) => {
    started();
    if (waiting && line.includes(waiting.mark)) {
      waiting.resolve();
      return;
    }
    // Commands a script runs are listed too, as `[0 lua]`: only what clients sent counts.
    if (!line.includes(prefix) || line.includes(' lua]')) return;
    const command = /"([A-Za-z]+)"/.exec(line)?.[1]?.toUpperCase();
    // Keys are the namespace's quoted arguments; the announcement channel is not a key.
    const keys = line.split(prefix).length - 1 - line.split(`${prefix}invalidations"`).length + 1;
    if (command) seen.push({ command, keys });
  });
  await client.ping();
  await ready;
  seen.length = 0;
  return {
    /** Command names, in order. */
    get commands() {
      return seen.map((entry) => entry.command);
    },
    /** Commands with their key counts, in order. */
    seen,
    /** Waits until MONITOR has delivered everything sent so far: a marker command comes back. */
    async settle() {
      marks += 1;
      const mark = `gci-monitor-settle-${process.pid}-${marks}`;
      const back = new Promise<void>((resolve) => {
        waiting = { mark, resolve };
      });
      await client.get(mark);
      await back;
      waiting = undefined;
    },
    async stop() {
      monitor.destroy();
    },
  };
}
