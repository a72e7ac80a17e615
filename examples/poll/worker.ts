/**
 * The poll API's cascade worker, for servers started with `cascade: 'queue'`: it takes the jobs
 * they enqueue after each commit (BullMQ on Redis) and runs the refresh with retries, marking
 * each journal entry applied once its refresh landed. It also runs the journal's recovery, so
 * entries whose job was lost are applied too. Run as many as you like.
 *
 * @example
 * const worker = await startPollWorker({ databaseUrl: process.env.DATABASE_URL!, redisUrl: process.env.REDIS_URL! });
 * process.on('SIGTERM', () => worker.close());
 */
import type { MikroORM } from '@mikro-orm/core';
import { InstanceCache } from '../../src/index.js';
import { CacheJournal, type CacheJournalOptions } from '../../src/mikro-orm/index.js';
import { type CascadeWorker, type CreateWorkerOptions, createWorker } from '../../src/queue/bullmq.js';
import { createRedisStore } from '../../src/redis.js';
import type { PollCacheRecords } from './context.js';
import { createPollOrm } from './orm.js';
import { createPollStrategy } from './strategy.js';

/** Options of {@link startPollWorker}. */
export interface StartPollWorkerOptions {
  /** The poll database: a `postgres://` URL, or a better-sqlite file path shared with the servers. */
  databaseUrl: string;
  /** The Redis of the servers: their cache (namespace `poll`) and their queue. */
  redisUrl: string;
  /** The journal's options (recovery runs in the worker too). Default: the library's. */
  journal?: CacheJournalOptions;
  /** BullMQ worker options (lock and stalled intervals, concurrency, hooks). Default: the library's. */
  worker?: Omit<CreateWorkerOptions, 'cache' | 'journal' | 'connection'>;
}

/** A running poll worker. */
export interface PollWorker {
  readonly orm: MikroORM;
  readonly cache: InstanceCache<PollCacheRecords>;
  readonly journal: CacheJournal;
  readonly worker: CascadeWorker;
  /** Finishes the jobs it holds, then closes the journal, the cache and the ORM. */
  close(): Promise<void>;
}

/** Starts a cascade worker for the poll API; resolves once it takes jobs. */
export async function startPollWorker(options: StartPollWorkerOptions): Promise<PollWorker> {
  const orm = await createPollOrm({ database: options.databaseUrl, fresh: false });
  const store = await createRedisStore({ url: options.redisUrl, namespace: 'poll' });
  const cache = new InstanceCache(createPollStrategy(orm), { store });
  const journal = new CacheJournal(orm, cache, options.journal).start();
  const worker = createWorker({ ...options.worker, connection: options.redisUrl, cache, journal });
  await worker.worker.waitUntilReady();
  return {
    orm,
    cache,
    journal,
    worker,
    async close() {
      await worker.close();
      await journal.close();
      await cache.close();
      await orm.close(true);
    },
  };
}
