/**
 * What the queue mode's producer (`bullmqRunner`) and worker (`createWorker`) share: where Redis
 * is, which queue, the job's data, and the ioredis clients built for each side.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { InvalidOptionError } from '../errors.js';
import type { Ref } from '../strategy/define.js';

/**
 * Where BullMQ's Redis is: a URL (`redis://user:pass@host:6379/0`, `rediss://` for TLS), or
 * ioredis options (`host`, `port`, `password`, `db`, `tls`, …, and optionally `url`). The
 * library builds its own ioredis clients from it, with the settings each side needs (see
 * `bullmqRunner` and `createWorker`), and closes them on `close()`.
 */
export type BullmqConnection = string | (RedisOptions & { url?: string });

/** Options both sides of the queue take; they must agree. */
export interface BullmqQueueOptions {
  /** Where BullMQ's Redis is. Required. */
  connection: BullmqConnection;
  /** The BullMQ queue name (no `:`). Default `'gci-cascade'`. */
  queueName?: string;
  /**
   * The prefix of every Redis key of the queue (`<prefix>:<queueName>:…`). Default `'bull'`,
   * BullMQ's own. Give each app (and each test run) its own when they share a Redis.
   */
  prefix?: string;
}

/**
 * The data of one cascade job, as stored in Redis (JSON): what to refresh, the journal entries it
 * applies, and `updateOnly`. A pk keeps its type (a number stays a number, a string a string).
 */
export interface CascadeJobData {
  readonly refs: readonly Ref[];
  readonly journalIds: readonly string[];
  readonly updateOnly: boolean;
}

/** The name every cascade job carries (BullMQ job names are informative only). */
export const CASCADE_JOB = 'cascade';

/** The queue name and prefix after defaults and checks. */
export function resolveQueue(api: string, options: BullmqQueueOptions | undefined) {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(
      `${api}: expected an options object with a connection, got ${String(options)}`,
    );
  }
  const { connection } = options;
  const connectionOk =
    (typeof connection === 'string' && connection.length > 0) ||
    (connection !== null && typeof connection === 'object' && !Array.isArray(connection));
  if (!connectionOk) {
    throw new InvalidOptionError(
      `${api}: options.connection must be a Redis URL or ioredis options ({ host, port, … }), got ${connection === '' ? 'an empty string' : String(connection)}`,
      { context: { option: 'connection' } },
    );
  }
  const queueName = options.queueName ?? 'gci-cascade';
  if (typeof queueName !== 'string' || queueName.length === 0 || queueName.includes(':')) {
    throw new InvalidOptionError(
      `${api}: options.queueName must be a non-empty string without ':', got ${JSON.stringify(queueName)}`,
      { context: { option: 'queueName' } },
    );
  }
  const prefix = options.prefix ?? 'bull';
  if (typeof prefix !== 'string' || prefix.length === 0) {
    throw new InvalidOptionError(
      `${api}: options.prefix must be a non-empty string, got ${JSON.stringify(prefix)}`,
      {
        context: { option: 'prefix' },
      },
    );
  }
  return { connection, queueName, prefix };
}

/** Checks that an option is a positive integer (or absent); returns it or the default. */
export function positiveInteger(
  api: string,
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidOptionError(`${api}: options.${name} must be a positive integer, got ${String(value)}`, {
      context: { option: name },
    });
  }
  return value;
}

/**
 * An ioredis client for one side of the queue. The settings that side needs win over the user's:
 * - `worker`: `maxRetriesPerRequest: null`, as BullMQ requires for workers (a blocking command
 *   must wait for a reconnect, not fail after some retries);
 * - `producer`: `enableOfflineQueue: false` and `maxRetriesPerRequest: 1` unless given: a job
 *   submitted while Redis is unreachable fails at once (the commit's caller is waiting), instead
 *   of queueing in memory.
 */
export function createRedisClient(
  connection: BullmqConnection,
  side: 'producer' | 'worker',
  onError: (error: unknown) => void,
): Redis {
  const { url, ...rest } = typeof connection === 'string' ? { url: connection } : connection;
  const options: RedisOptions =
    side === 'worker'
      ? { ...rest, maxRetriesPerRequest: null }
      : { enableOfflineQueue: false, maxRetriesPerRequest: 1, ...rest };
  const client = url === undefined ? new Redis(options) : new Redis(url, options);
  // ioredis prints unhandled client errors to the console; they are reported instead.
  client.on('error', onError);
  return client;
}

/** Closes a client the library built: QUIT when connected, a plain disconnect otherwise. */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // Lost meanwhile: disconnect below.
    }
  }
  client.disconnect();
}

/**
 * The data of a job, checked: what a worker refreshes. `null` when the job was not written by
 * `bullmqRunner` (or by a version of it that wrote another shape).
 */
export function readJobData(data: unknown): CascadeJobData | null {
  if (data === null || typeof data !== 'object') return null;
  const { refs, journalIds, updateOnly } = data as Record<string, unknown>;
  if (!Array.isArray(refs) || !Array.isArray(journalIds) || typeof updateOnly !== 'boolean') return null;
  for (const ref of refs as unknown[]) {
    const { model, pk } = (ref ?? {}) as Record<string, unknown>;
    if (typeof model !== 'string' || (typeof pk !== 'number' && typeof pk !== 'string')) return null;
  }
  if (!(journalIds as unknown[]).every((id) => typeof id === 'string')) return null;
  return { refs: refs as Ref[], journalIds: journalIds as string[], updateOnly };
}
