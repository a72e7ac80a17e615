/**
 * The `queue` mode on real Redis and real MikroORM (better-sqlite, and Postgres when it answers):
 * `bullmqRunner` hands each commit's cascade to Redis, `createWorker` runs it. Proves that the
 * flush returns before the refresh, that the worker's refresh makes every record fresh and marks
 * the journal entry applied, that jobs held together are merged into one de-duplicated update,
 * that a failing update is retried with backoff, that a worker SIGKILLed in the middle of a job
 * (a child process) leaves the job to the next worker, which completes it, and that a Redis that
 * cannot take the job loses nothing: the journal keeps the entry.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/core';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Choice, Question } from '../../examples/poll/entities.js';
import { type SeededPoll, seedPoll } from '../../examples/poll/seed.js';
import { createPollStrategy } from '../../examples/poll/strategy.js';
import {
  InstanceCache,
  InvalidOptionError,
  QueueError,
  type Ref,
  type UpdateOptions,
  type UpdateSummary,
} from '../../src/index.js';
import { CacheJournal, CacheSubscriber } from '../../src/mikro-orm/index.js';
import {
  type BullmqRunner,
  type BullmqRunnerOptions,
  bullmqRunner,
  type CascadeJobData,
  type CascadeWorker,
  type CreateWorkerOptions,
  createWorker,
} from '../../src/queue/bullmq.js';
import { deferred } from '../support/deferred.js';
import { ForwardingSubscriber } from '../support/forward-subscriber.js';
import { compareWithDatabase, openQueueDatabase, type PollCache } from '../support/processes/queue-world.js';
import { formatRefs } from '../support/recording-target.js';
import { createTestRedisStore, ownRedisAvailable, REDIS_URL, redisAvailable } from '../support/redis.js';
import { freePort, startOwnRedis } from '../support/redis-server.js';
import { POSTGRES_URL, servicesAvailable } from '../support/services.js';

const postgres = redisAvailable && (await servicesAvailable('postgres'));
/** Every Redis key of this file's queues starts with this. */
const PREFIX = `gci-test-queue-${process.pid}-${Date.now().toString(36)}`;
let queues = 0;
/** A queue of the test's own. */
const ownQueue = () => {
  queues += 1;
  return { queueName: `cascade${queues}`, prefix: PREFIX };
};

type JournalRow = { id: string; refs: string; applied_at: number | string | null };

/** A test's handle on a held update: `paused` resolves once it waits; `release()` lets it go. */
interface Pause {
  readonly paused: Promise<void>;
  release(): void;
}

/**
 * The worker's view of the cache: records every `update` call (refs, when), can hold the next
 * one on a promise the test holds, and can make the next ones fail (throw, or report a key it
 * could not write, as a failing store does).
 */
function steerable(cache: PollCache) {
  const calls: { refs: string[]; at: number }[] = [];
  const failures: ('throw' | 'failed')[] = [];
  /** Calls whose refs include this one throw, `times` times. */
  const poison = { ref: '', times: 0 };
  let hold: { arrived: () => void; gate: Promise<void> } | undefined;
  return {
    calls,
    failures,
    poison,
    /** Awaited at the start of every call (to look at the database while the job runs). */
    before: async () => {},
    holdNext(): Pause {
      const gate = deferred();
      const arrived = deferred();
      hold = { arrived: arrived.resolve, gate: gate.promise };
      return { paused: arrived.promise, release: gate.resolve };
    },

    async update(refs: readonly Ref[], options?: UpdateOptions): Promise<UpdateSummary> {
      calls.push({ refs: formatRefs(refs), at: performance.now() });
      await this.before();
      const held = hold;
      hold = undefined;
      if (held) {
        held.arrived();
        await held.gate;
      }
      if (poison.times > 0 && formatRefs(refs).includes(poison.ref)) {
        poison.times -= 1;
        throw new Error(`cannot load ${poison.ref}`);
      }
      const failure = failures.shift();
      if (failure === 'throw') throw new Error('the database went away');
      const summary = await cache.update(refs, options);
      return failure === 'failed' ? { ...summary, failed: summary.failed + 1 } : summary;
    },
  };
}

/** Resolves with the next `count` jobs the worker emits `event` for. */
function nextJobs(
  worker: CascadeWorker,
  event: 'active' | 'completed' | 'failed',
  count = 1,
): Promise<Job<CascadeJobData>[]> {
  return new Promise((resolve) => {
    const seen: Job<CascadeJobData>[] = [];
    const on = (job: Job<CascadeJobData> | undefined) => {
      if (job) seen.push(job);
      if (seen.length < count) return;
      worker.worker.off(event, on);
      resolve(seen);
    };
    worker.worker.on(event, on);
  });
}

/** Deletes every key of this file's queues (on the shared Redis). */
async function deleteQueueKeys(): Promise<void> {
  const client = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

describe.runIf(redisAvailable)('queue mode: bullmqRunner and createWorker', () => {
  afterAll(deleteQueueKeys);

  it('refuses bad options before connecting anywhere, naming the option', () => {
    const bad: [() => unknown, RegExp][] = [
      [
        () => bullmqRunner({} as BullmqRunnerOptions),
        /bullmqRunner: options\.connection must be a Redis URL/,
      ],
      [() => bullmqRunner(undefined as never), /bullmqRunner: expected an options object/],
      [
        () => bullmqRunner({ connection: REDIS_URL, queueName: 'a:b' }),
        /options\.queueName must be a non-empty string without ':', got "a:b"/,
      ],
      [
        () => bullmqRunner({ connection: REDIS_URL, attempts: 0 }),
        /options\.attempts must be a positive integer/,
      ],
      [
        () => bullmqRunner({ connection: REDIS_URL, prefix: '' }),
        /options\.prefix must be a non-empty string/,
      ],
      [
        () => createWorker({ connection: REDIS_URL } as CreateWorkerOptions),
        /createWorker: options\.cache must be an InstanceCache/,
      ],
      [
        () =>
          createWorker({ connection: REDIS_URL, cache: { update: async () => ({}) as never }, maxBatch: -1 }),
        /createWorker: options\.maxBatch must be a positive integer, got -1/,
      ],
    ];
    for (const [call, message] of bad) {
      let thrown: unknown;
      try {
        call();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).code).toBe('E_INVALID_OPTION');
      expect((thrown as Error).message).toMatch(message);
    }
  });

  it('a job carries the refs as given: a string pk stays a string, a number a number', async () => {
    const runner = bullmqRunner({ connection: REDIS_URL, ...ownQueue() });
    try {
      const refs = [
        { model: 'Tag', pk: '7' },
        { model: 'Question', pk: 7 },
      ];
      await runner.submit({ refs, journalIds: ['a', 'b'], updateOnly: true });
      const [job] = await runner.queue.getJobs(['waiting']);
      expect(job!.data).toStrictEqual({ refs, journalIds: ['a', 'b'], updateOnly: true });
      expect(job!.opts).toMatchObject({ attempts: 8, backoff: { type: 'exponential', delay: 1_000 } });
    } finally {
      await runner.close();
    }
  });

  it('a Redis that never answers: submit rejects with a QueueError after `timeout`', async () => {
    const runner = bullmqRunner({
      connection: `redis://127.0.0.1:${await freePort()}`,
      ...ownQueue(),
      timeout: 200,
      onError: () => {},
    });
    try {
      const error = await runner.submit({ refs: [{ model: 'Question', pk: 1 }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueueError);
      expect(error).toMatchObject({ code: 'E_QUEUE', context: { operation: 'submit' } });
      expect((error as Error).message).toMatch(/did not take the job within 200 ms/);
    } finally {
      await runner.close();
    }
    await expect(runner.submit({ refs: [] })).rejects.toThrow(/closed; no more cascades/);
  });

  describe.each(['sqlite', ...(postgres ? ['postgres'] : [])])('on %s', (where) => {
    let orm: MikroORM;
    let store: Awaited<ReturnType<typeof createTestRedisStore>>;
    let seeded: SeededPoll;
    const forward = new ForwardingSubscriber();
    const database =
      where === 'postgres'
        ? POSTGRES_URL.replace(/\/[^/]*$/, `/gci_queue_${process.pid}_${Date.now().toString(36)}`)
        : ':memory:';
    /** What each test started, closed after it. */
    const started: { close(): Promise<unknown> }[] = [];

    beforeAll(async () => {
      orm = await openQueueDatabase(database, { subscribers: [forward], fresh: true });
      store = await createTestRedisStore('queue');
    });
    afterAll(async () => {
      await store?.cleanup();
      if (where === 'postgres') await orm?.schema.dropDatabase();
      await orm?.close(true);
    });
    beforeEach(async () => {
      forward.current = undefined;
      await orm.schema.clearDatabase();
      await store.deleteByPrefix('');
      seeded = await seedPoll(orm.em.fork(), {
        questions: 2,
        choicesPerQuestion: 2,
        users: 4,
        votesPerChoice: 2,
      });
    });
    afterEach(async () => {
      forward.current = undefined;
      for (const one of started.splice(0).reverse()) await one.close();
    });

    /**
     * An app process (cache, journal, subscriber whose runner is `bullmqRunner`) and a worker
     * beside it on the same store, both on a queue of the test's own.
     */
    function app(
      options: {
        runner?: Partial<BullmqRunnerOptions>;
        worker?: Partial<CreateWorkerOptions>;
        connection?: string;
      } = {},
    ) {
      const queue = ownQueue();
      const cache = new InstanceCache(createPollStrategy(orm), { store });
      const journal = new CacheJournal(orm, cache, { grace: 1 });
      const runner: BullmqRunner = bullmqRunner({
        connection: options.connection ?? REDIS_URL,
        ...queue,
        ...options.runner,
      });
      const errors: unknown[] = [];
      const subscriber = new CacheSubscriber(cache, {
        journal,
        runner,
        onError: (error) => errors.push(error),
      });
      forward.current = subscriber;
      const target = steerable(cache);
      const workerErrors: unknown[] = [];
      const worker = createWorker({
        cache: target,
        journal,
        connection: REDIS_URL,
        ...queue,
        onError: (error) => workerErrors.push(error),
        ...options.worker,
      });
      started.push(runner, worker, journal);
      return { cache, journal, runner, subscriber, target, worker, errors, workerErrors };
    }
    const journalRows = async () =>
      (await orm.em
        .getConnection()
        .execute('select id, refs, applied_at from gci_cache_journal order by created_at')) as JournalRow[];
    const stale = async (cache: PollCache) => {
      const { compared, stale } = await compareWithDatabase(cache, orm);
      expect(compared).toBeGreaterThanOrEqual(20); // 10 instances × 2 versions, at least
      return stale;
    };
    const setQuestionText = async (id: number, text: string) => {
      const em = orm.em.fork();
      (await em.findOneOrFail(Question, id)).questionText = text;
      await em.flush();
    };
    const createChoice = async (questionId: number, text: string) => {
      const em = orm.em.fork();
      const choice = em.create(Choice, { choiceText: text, question: questionId });
      await em.flush();
      return choice.id;
    };

    it('flush returns once the job is in Redis, before the refresh; the worker refreshes; the entry is marked applied', async () => {
      const { cache, runner, target, worker, errors } = app();
      expect(await stale(cache)).toEqual([]); // warms every record of every version
      const id = seeded.questionIds[0]!;
      const pause = target.holdNext();
      await setQuestionText(id, 'refreshed by the worker');
      // Committed, and the job is in Redis (waiting, or already taken by the worker).
      const counts = await runner.queue.getJobCounts('waiting', 'active', 'delayed', 'completed');
      expect(counts.waiting! + counts.active!).toBe(1);
      expect(counts.completed).toBe(0);
      await pause.paused;
      // The worker holds the job: the cache still serves the record as before the commit.
      expect(await stale(cache)).toEqual([`Question@v1:${id}`, `Question@v2:${id}`]);
      expect((await journalRows())[0]!.applied_at).toBeNull();
      const completed = nextJobs(worker, 'completed');
      pause.release();
      const [job] = await completed;
      // The refs kept their types through Redis (a number pk is still a number).
      expect(job!.data.refs).toEqual([{ model: 'Question', pk: id }]);
      expect(job!.data.journalIds).toEqual([(await journalRows())[0]!.id]);
      expect(target.calls).toHaveLength(1);
      expect(await stale(cache)).toEqual([]);
      // Marked applied before the job completed.
      expect((await journalRows())[0]!.applied_at).not.toBeNull();
      expect(errors).toEqual([]);
    });

    it('jobs held while an update runs go into the next one together, each ref once', async () => {
      const { cache, target, worker, journal } = app();
      expect(await stale(cache)).toEqual([]);
      const [q1, q2] = seeded.questionIds as [number, number];
      const pause = target.holdNext();
      const active = nextJobs(worker, 'active', 4);
      const completed = nextJobs(worker, 'completed', 4);
      const first = await createChoice(q1, 'first');
      await pause.paused;
      // Three more commits while the first update is held: each names its new choice and q1 or q2.
      const more = [
        await createChoice(q1, 'second'),
        await createChoice(q1, 'third'),
        await createChoice(q2, 'fourth'),
      ];
      await active; // the worker holds all four jobs
      pause.release();
      await completed;
      expect(target.calls.map((call) => call.refs)).toEqual([
        [`Choice:${first}`, `Question:${q1}`],
        // Question q1 is named by two of the three jobs, refreshed once.
        formatRefs([
          ...more.map((pk) => ({ model: 'Choice', pk })),
          { model: 'Question', pk: q1 },
          { model: 'Question', pk: q2 },
        ]),
      ]);
      expect(await stale(cache)).toEqual([]);
      await journal.flush();
      const rows = await journalRows();
      expect(rows).toHaveLength(4);
      expect(rows.every((row) => row.applied_at !== null)).toBe(true);
    });

    it('a failing update is retried with exponential backoff, the entry applied only once it succeeded', async () => {
      const { cache, target, worker, workerErrors } = app({ runner: { attempts: 4, backoff: 150 } });
      expect(await stale(cache)).toEqual([]);
      const id = seeded.questionIds[1]!;
      // First the store fails one key, then the database throws, then it works.
      target.failures.push('failed', 'throw');
      const completed = nextJobs(worker, 'completed');
      const unappliedAtEachAttempt: boolean[] = [];
      target.before = async () => {
        unappliedAtEachAttempt.push((await journalRows())[0]!.applied_at === null);
      };
      await setQuestionText(id, 'after two failures');
      const [job] = await completed;
      expect(target.calls).toHaveLength(3);
      expect(job!.attemptsMade).toBe(3);
      const [a, b, c] = target.calls.map((call) => call.at) as [number, number, number];
      expect(b - a).toBeGreaterThanOrEqual(150); // 150 ms, then 300 ms
      expect(c - b).toBeGreaterThanOrEqual(300);
      expect(workerErrors).toHaveLength(2);
      expect(workerErrors[0]).toMatchObject({ code: 'E_QUEUE', context: { operation: 'update' } });
      expect((workerErrors[0] as Error).message).toMatch(/1 key\(s\) of the cascade could not be written/);
      expect((workerErrors[1] as Error).message).toBe('the database went away');
      expect(unappliedAtEachAttempt).toEqual([true, true, true]);
      expect(await stale(cache)).toEqual([]);
      expect((await journalRows())[0]!.applied_at).not.toBeNull();
    });

    it('a merged update that throws is run again job by job: only the job that fails by itself is retried', async () => {
      const { cache, target, worker } = app({ runner: { backoff: 50 } });
      expect(await stale(cache)).toEqual([]);
      const [q1, q2] = seeded.questionIds as [number, number];
      const pause = target.holdNext();
      const completed = nextJobs(worker, 'completed', 3);
      const active = nextJobs(worker, 'active', 3);
      await setQuestionText(q1, 'first');
      await pause.paused;
      await setQuestionText(q1, 'fine'); // job B
      await setQuestionText(q2, 'poisoned twice'); // job C
      await active;
      target.poison.ref = `Question:${q2}`;
      target.poison.times = 2; // the merged update, and C alone
      pause.release();
      const jobs = await completed;
      expect(target.calls.map((call) => call.refs)).toEqual([
        [`Question:${q1}`],
        [`Question:${q1}`, `Question:${q2}`], // B and C merged: throws
        [`Question:${q1}`], // B alone: completes
        [`Question:${q2}`], // C alone: throws, retried after its backoff
        [`Question:${q2}`], // C again: completes
      ]);
      expect(jobs.map((job) => job.attemptsMade)).toEqual([1, 1, 2]);
      expect(await stale(cache)).toEqual([]);
    });

    it('a job that failed every attempt leaves its entry to the journal: recovery applies it', async () => {
      const { cache, target, worker } = app({ runner: { attempts: 2, backoff: 10 } });
      expect(await stale(cache)).toEqual([]);
      const id = seeded.questionIds[0]!;
      target.failures.push('throw', 'throw');
      const failed = nextJobs(worker, 'failed', 2);
      await setQuestionText(id, 'applied by recovery');
      const [, last] = await failed;
      expect(await last!.getState()).toBe('failed');
      expect(await stale(cache)).toEqual([`Question@v1:${id}`, `Question@v2:${id}`]);
      expect((await journalRows())[0]!.applied_at).toBeNull();
      // Any process's recovery (another cache on the same store) applies it.
      const other = new InstanceCache(createPollStrategy(orm), { store });
      const recovery = new CacheJournal(orm, other, { grace: 1 });
      expect(await recovery.recover()).toMatchObject({ applied: 1, dropped: 0 });
      await recovery.close();
      expect(await stale(cache)).toEqual([]);
      expect((await journalRows())[0]!.applied_at).not.toBeNull();
    });

    it('close() finishes the job it holds before it returns', async () => {
      const { cache, target, worker, runner } = app();
      expect(await stale(cache)).toEqual([]);
      const id = seeded.questionIds[0]!;
      const pause = target.holdNext();
      await setQuestionText(id, 'finished while closing');
      await pause.paused;
      const [job] = await runner.queue.getJobs(['active']);
      const closing = worker.close();
      pause.release();
      await closing;
      expect(await runner.queue.getJobState(job!.id!)).toBe('completed');
      expect(await stale(cache)).toEqual([]);
      expect((await journalRows())[0]!.applied_at).not.toBeNull();
    });

    it('suspend(): N commits of M rows become one job with the refs de-duplicated and every entry', async () => {
      const { cache, subscriber, runner, worker, target } = app({ worker: { autorun: false } });
      expect(await stale(cache)).toEqual([]);
      const q1 = seeded.questionIds[0]!;
      const created: number[] = [];
      await subscriber.suspend(async () => {
        for (let flush = 0; flush < 3; flush += 1) {
          const em = orm.em.fork();
          const choices = [0, 1].map((row) =>
            em.create(Choice, { choiceText: `${flush}.${row}`, question: q1 }),
          );
          await em.flush();
          created.push(...choices.map((choice) => choice.id));
        }
      });
      const jobs = await runner.queue.getJobs(['waiting']);
      expect(jobs).toHaveLength(1);
      expect(formatRefs(jobs[0]!.data.refs)).toEqual(
        formatRefs([...created.map((pk) => ({ model: 'Choice', pk })), { model: 'Question', pk: q1 }]),
      );
      expect([...jobs[0]!.data.journalIds].sort()).toEqual((await journalRows()).map((row) => row.id).sort());
      expect(jobs[0]!.data.journalIds).toHaveLength(3);
      const completed = nextJobs(worker, 'completed');
      void worker.worker.run();
      await completed;
      expect(target.calls).toHaveLength(1);
      expect(await stale(cache)).toEqual([]);
      expect((await journalRows()).every((row) => row.applied_at !== null)).toBe(true);
    });

    it('a job that is not a cascade job is reported and completed without running', async () => {
      const { runner, worker, target, workerErrors } = app();
      const completed = nextJobs(worker, 'completed');
      await runner.queue.add('cascade', { refs: [{ model: 'Question' }] } as never);
      await completed;
      expect(target.calls).toEqual([]);
      expect(workerErrors).toHaveLength(1);
      expect(workerErrors[0]).toMatchObject({ code: 'E_QUEUE', context: { operation: 'take' } });
      expect((workerErrors[0] as Error).message).toMatch(/is not a cascade job/);
    });

    it.runIf(ownRedisAvailable)(
      'Redis gone at submit: the flush resolves, the subscriber reports a QueueError, the journal keeps the entry',
      async () => {
        const server = await startOwnRedis(await freePort());
        try {
          const { cache, runner, errors } = app({
            connection: server.url,
            runner: { timeout: 1_000, onError: () => {} },
          });
          await runner.queue.waitUntilReady();
          expect(await stale(cache)).toEqual([]);
          await server.kill();
          const id = seeded.questionIds[0]!;
          await setQuestionText(id, 'committed while the queue was down');
          // The commit stands (the flush resolved); the cascade did not reach Redis.
          expect((await orm.em.fork().findOneOrFail(Question, id)).questionText).toBe(
            'committed while the queue was down',
          );
          expect(errors).toHaveLength(1);
          expect(errors[0]).toBeInstanceOf(QueueError);
          expect(errors[0]).toMatchObject({ code: 'E_QUEUE', context: { operation: 'submit' } });
          expect((errors[0] as Error).message).toMatch(/its journal entry stays for recovery/);
          const rows = await journalRows();
          expect(rows).toHaveLength(1);
          expect(rows[0]!.applied_at).toBeNull();
          expect(JSON.parse(rows[0]!.refs)).toEqual([{ model: 'Question', pk: id }]);
          // Nothing lost: recovery in any process applies it.
          const other = new InstanceCache(createPollStrategy(orm), { store });
          const recovery = new CacheJournal(orm, other, { grace: 1 });
          expect(await recovery.recover()).toMatchObject({ applied: 1 });
          await recovery.close();
          expect(await stale(cache)).toEqual([]);
        } finally {
          await server.kill();
        }
      },
    );
  });
});

type WorkerMessage = {
  ready?: true;
  active?: string;
  updating?: string[];
  completed?: string;
  journalIds?: string[];
  failed?: string;
  reason?: string;
};

// A worker in an OS process of its own (test/support/processes/queue-worker.ts), on a database
// file (or Postgres database) and the Redis this process uses too: killed with SIGKILL while it is
// inside a job's update, before any of its writes landed; a second worker takes the job over once
// the lock of the dead one expired and completes it.
describe.runIf(redisAvailable).each(['sqlite', ...(postgres ? ['postgres'] : [])])(
  'queue mode: a worker process killed in the middle of a job, on %s',
  (kind) => {
    let dir: string;
    let database: string;
    let orm: MikroORM;
    let store: Awaited<ReturnType<typeof createTestRedisStore>>;
    const forward = new ForwardingSubscriber();
    const children: ChildProcess[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gci-queue-'));
      database =
        kind === 'postgres'
          ? POSTGRES_URL.replace(/\/[^/]*$/, `/gci_queue_proc_${process.pid}_${Date.now().toString(36)}`)
          : join(dir, 'poll.sqlite');
      orm = await openQueueDatabase(database, { subscribers: [forward], fresh: true });
      store = await createTestRedisStore('queue-process');
    });
    afterAll(async () => {
      for (const child of children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      forward.current = undefined;
      await store?.cleanup();
      if (kind === 'postgres') await orm?.schema.dropDatabase();
      await orm?.close(true);
      rmSync(dir, { recursive: true, force: true });
      await deleteQueueKeys();
    });

    /** Starts a worker process; `next(match)` resolves with its next message that matches. */
    async function startWorker(mode: 'hang' | 'run', queue: { queueName: string; prefix: string }) {
      const child = fork(
        new URL('../support/processes/queue-worker.ts', import.meta.url).pathname,
        [database, REDIS_URL, store.namespace, queue.queueName, queue.prefix, mode],
        { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      );
      children.push(child);
      const waiting: { match: (m: WorkerMessage) => boolean; resolve: (m: WorkerMessage) => void }[] = [];
      const next = (match: (m: WorkerMessage) => boolean) =>
        new Promise<WorkerMessage>((resolve) => waiting.push({ match, resolve }));
      child.on('message', (message: WorkerMessage) => {
        const index = waiting.findIndex((w) => w.match(message));
        if (index >= 0) waiting.splice(index, 1)[0]!.resolve(message);
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await next((m) => m.ready === true);
      return { child, next, exited };
    }

    it('the restarted worker completes the job: 0 stale, the journal entry applied', {
      timeout: 60_000,
    }, async () => {
      await orm.schema.clearDatabase();
      const seeded = await seedPoll(orm.em.fork(), {
        questions: 2,
        choicesPerQuestion: 2,
        users: 4,
        votesPerChoice: 2,
      });
      const queue = ownQueue();
      const cache: PollCache = new InstanceCache(createPollStrategy(orm), { store });
      const journal = new CacheJournal(orm, cache);
      const runner = bullmqRunner({ connection: REDIS_URL, ...queue });
      forward.current = new CacheSubscriber(cache, { journal, runner });
      try {
        expect((await compareWithDatabase(cache, orm)).stale).toEqual([]); // every record cached
        const first = await startWorker('hang', queue);
        const active = first.next((m) => m.active !== undefined);
        const updating = first.next((m) => m.updating !== undefined);
        const id = seeded.questionIds[0]!;
        const em = orm.em.fork();
        (await em.findOneOrFail(Question, id)).questionText = 'committed; its worker was killed';
        await em.flush();
        const { active: jobId } = await active;
        expect((await updating).updating).toEqual([`Question:${id}`]);
        // Inside the update, before it wrote anything: kill the worker.
        first.child.kill('SIGKILL');
        await first.exited;
        expect(first.child.signalCode).toBe('SIGKILL');
        // The dead worker wrote nothing: the record is served as before the commit.
        expect((await compareWithDatabase(cache, orm)).stale).toEqual([
          `Question@v1:${id}`,
          `Question@v2:${id}`,
        ]);
        const [row] = (await orm.em
          .getConnection()
          .execute('select id, applied_at from gci_cache_journal')) as JournalRow[];
        expect(row!.applied_at).toBeNull();
        expect(await runner.queue.getJobState(jobId!)).toBe('active'); // still held by the dead worker's lock

        const second = await startWorker('run', queue);
        const done = await second.next((m) => m.completed !== undefined || m.failed !== undefined);
        expect(done).toEqual({ completed: jobId, journalIds: [row!.id] }); // the same job, completed
        const after = await compareWithDatabase(cache, orm);
        expect(after.stale).toEqual([]);
        expect(after.compared).toBe(20);
        const [applied] = (await orm.em
          .getConnection()
          .execute('select id, applied_at from gci_cache_journal')) as JournalRow[];
        expect(applied!.applied_at).not.toBeNull();
        second.child.send({ stop: true });
        await second.exited;
        expect(second.child.exitCode).toBe(0);
      } finally {
        forward.current = undefined;
        await runner.close();
        await journal.close();
      }
    });
  },
);
