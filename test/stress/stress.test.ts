import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ownRedisAvailable } from '../support/redis.js';
import { servicesAvailable } from '../support/services.js';

// The stress run at CI size (test/stress/run.ts; `npm run stress` is the full size): 2,000
// operations over three server processes (cascades inline, in the background and on the
// BullMQ queue with its worker) with two SIGKILLs under load and a Redis restart from a
// snapshot, then every record of every model in every version and every server's answers are
// compared with the database. Any mismatch fails; the seed it prints reproduces the run.

const run = (await servicesAvailable('postgres')) && ownRedisAvailable;

describe.runIf(run)('npm run stress, CI size', () => {
  it('2,000 ops, 3 processes and a worker, 2 kills, a snapshot restore: 0 mismatches', {
    timeout: 240_000,
  }, async () => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        new URL('./run.ts', import.meta.url).pathname,
        '--ops',
        '2000',
        '--processes',
        '3',
        '--kills',
        '2',
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    ).catch((error: { stdout: string; stderr: string }) => error);
    const line =
      /stress: ops (\d+), processes (\d+), kills (\d+), records compared (\d+), mismatches (\d+)/.exec(
        stdout,
      );
    expect(line, stderr).not.toBeNull();
    const [, ops, processes, kills, compared, mismatches] = line!.map(Number);
    expect(ops).toBeGreaterThanOrEqual(2000);
    expect(processes).toBe(3);
    expect(kills).toBe(2);
    expect(compared).toBeGreaterThan(500);
    expect(mismatches, stderr).toBe(0);
  });
});
