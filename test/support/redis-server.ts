/**
 * Redis servers a test starts for itself (never the shared one): a single server a test may kill
 * and restart, or a 3-master cluster. Readiness is read from the server's own log line, and the
 * cluster's from CLUSTER INFO, never from a fixed sleep.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@keyv/redis';

/** A redis-server child process of the test's own. */
export interface OwnRedis {
  readonly port: number;
  readonly url: string;
  readonly process: ChildProcess;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
}

/** A free loopback port (and, for cluster nodes, port + 10000 free too). */
export async function freePort(withBus = false): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await portFree(port)) && (!withBus || (await portFree(port + 10_000)))) return port;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Starts `redis-server` on `port` with `args`; resolves once it accepts connections. */
export async function startOwnRedis(
  port: number,
  args: readonly string[] = [],
  cwd?: string,
): Promise<OwnRedis> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd },
  );
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Ready to accept connections')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.resume();
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`redis-server on ${port} exited (${code}): ${log.slice(-500)}`)),
    );
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    process: child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A running 3-master Redis Cluster of the test run's own. */
export interface OwnCluster {
  readonly urls: readonly string[];
  stop(): Promise<void>;
}

/** Starts a cluster of `masters` nodes on loopback and waits until every node reports `cluster_state:ok`. */
export async function startRedisCluster(masters = 3): Promise<OwnCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'gci-cluster-'));
  const nodes: OwnRedis[] = [];
  try {
    for (let i = 0; i < masters; i += 1) {
      const port = await freePort(true);
      nodes.push(
        await startOwnRedis(
          port,
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            '5000',
          ],
          dir,
        ),
      );
    }
    const create = spawn(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { stdio: 'ignore' },
    );
    const code = await new Promise<number | null>((resolve) => create.once('exit', resolve));
    if (code !== 0) throw new Error(`redis-cli --cluster create exited with ${code}`);
    for (const node of nodes) await waitForClusterOk(node.url);
  } catch (error) {
    await Promise.all(nodes.map((node) => node.kill()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    urls: nodes.map((node) => node.url),
    async stop() {
      await Promise.all(nodes.map((node) => node.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForClusterOk(url: string): Promise<void> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  try {
    const deadline = Date.now() + 20_000;
    // Gossip takes a moment after `--cluster create` returns: ask again until the node agrees.
    while (!(await client.clusterInfo()).includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error(`cluster node ${url} never reported cluster_state:ok`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.destroy();
  }
}
