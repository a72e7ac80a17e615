import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Facts about where a run happened, so results from different machines are never compared blindly. */
export interface MachineFacts {
  readonly node: string;
  /** NODE_ENV (graphql-js is markedly slower outside `production`; bench/run.ts defaults it). */
  readonly nodeEnv: string;
  readonly v8: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly totalMemoryGiB: number;
  /** 1-, 5- and 15-minute load averages when the run started (a busy machine makes every number slower). */
  readonly loadAverageAtStart: readonly number[];
  readonly git: { readonly commit: string | null; readonly dirty: boolean | null };
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** The 1-, 5- and 15-minute load averages, rounded. */
export function loadAverage(): number[] {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

/** Node, CPU, memory and the git commit of the working tree. */
export function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  const status = git(['status', '--porcelain']);
  return {
    node: process.version,
    nodeEnv: process.env.NODE_ENV ?? '(unset)',
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: loadAverage(),
    git: { commit: git(['rev-parse', '--short=12', 'HEAD']), dirty: status === null ? null : status !== '' },
  };
}

const root = new URL('../../', import.meta.url);

/** Installed versions of the packages the variants use (read from node_modules). */
export function packageVersions(): Record<string, string> {
  const names = [
    'graphql',
    '@apollo/server',
    '@apollo/server-plugin-response-cache',
    'dataloader',
    'keyv',
    '@keyv/redis',
    '@mikro-orm/core',
    '@mikro-orm/better-sqlite',
    '@mikro-orm/postgresql',
    'layered-loader',
    'ioredis',
    'knex',
    'pg',
    'better-sqlite3',
    'tsx',
  ];
  const out: Record<string, string> = {};
  for (const name of names) {
    try {
      const json = JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, root), 'utf8')) as {
        version: string;
      };
      out[name] = json.version;
    } catch {
      out[name] = 'not installed';
    }
  }
  return out;
}
