/**
 * Starts ONE Redis Cluster of the test run's own (3 masters on free loopback ports) for the suites
 * that run the store protocol on a cluster, and stops it at the end. A machine without
 * redis-server gets `urls: null` and the reason; those suites then skip with one line (or fail
 * under REQUIRE_SERVICES=1, see redis.ts).
 */
import type { TestProject } from 'vitest/node';
import { type OwnCluster, startRedisCluster } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisCluster: { urls: string[] | null; error: string | null };
  }
}

export default async function setup(project: TestProject) {
  let cluster: OwnCluster | undefined;
  try {
    cluster = await startRedisCluster();
    project.provide('redisCluster', { urls: [...cluster.urls], error: null });
  } catch (error) {
    project.provide('redisCluster', { urls: null, error: (error as Error).message });
  }
  return async () => {
    await cluster?.stop();
  };
}
