/**
 * `graphql-cached-instances worker` as a child process with the example's config: it takes the
 * cascade this process enqueues after a commit (queue mode), refreshes the cache, marks the
 * journal entry applied, and stops cleanly on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Question } from '../../examples/poll/entities.js';
import { seedPoll } from '../../examples/poll/seed.js';
import { createPollStrategy } from '../../examples/poll/strategy.js';
import { InstanceCache } from '../../src/index.js';
import { CacheJournal, CacheJournalEntry, CacheSubscriber } from '../../src/mikro-orm/index.js';
import { type BullmqRunner, bullmqRunner } from '../../src/queue/bullmq.js';
import { createRedisStore, type RedisStore } from '../../src/redis.js';
import { createTestOrm, type TestOrm } from '../support/mikro-orm.js';
import { REDIS_URL } from '../support/redis.js';
import { describeServices } from '../support/services.js';
import { ROOT } from './run-cli.js';

await describeServices(['postgres', 'redis'], 'the worker command (child process)', () => {
  let db: TestOrm;
  let store: RedisStore;
  let runner: BullmqRunner;
  const namespace = `test-cli-worker-${process.pid}-${Date.now().toString(36)}`;
  const prefix = `test-cli-worker-queue-${process.pid}`;

  beforeAll(async () => {
    db = await createTestOrm('postgres', { label: 'cli-worker' });
    await seedPoll(db.orm.em.fork(), { questions: 2, choicesPerQuestion: 2, users: 2, votesPerChoice: 1 });
    store = await createRedisStore({ url: REDIS_URL, namespace });
    runner = bullmqRunner({ connection: REDIS_URL, prefix });
  }, 60_000);
  afterAll(async () => {
    await runner?.queue.obliterate({ force: true });
    await runner?.close();
    await store?.deleteByPrefix('');
    await store?.close();
    await db?.close();
  }, 60_000);

  it('runs the cascade a commit enqueued, marks its journal entry, and stops on SIGTERM', async () => {
    // This process is a server in queue mode: its flush enqueues the cascade and returns.
    const cache = new InstanceCache(createPollStrategy(db.orm), {
      store: await createRedisStore({ url: REDIS_URL, namespace }),
    });
    const journal = new CacheJournal(db.orm, cache);
    db.orm.em.getEventManager().registerSubscriber(new CacheSubscriber(cache, { journal, runner }));
    const [question] = await db.orm.em.fork().find(Question, {}, { orderBy: { id: 'asc' }, limit: 1 });
    const id = question!.id;
    await cache.getInstances('Question', [id], { version: 'v2' });

    const worker = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', '--config', 'examples/poll/cache.config.ts', 'worker'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: db.orm.config.getClientUrl(),
          REDIS_URL,
          REDIS_NAMESPACE: namespace,
          QUEUE_PREFIX: prefix,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    let stdout = '';
    const waiting: { text: string; resolve: () => void }[] = [];
    worker.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    worker.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      for (const w of [...waiting])
        if (stderr.includes(w.text)) waiting.splice(waiting.indexOf(w), 1) && w.resolve();
    });
    const printed = (text: string) =>
      new Promise<void>((resolve, reject) => {
        if (stderr.includes(text)) resolve();
        else waiting.push({ text, resolve });
        worker.once('exit', (code) =>
          reject(new Error(`worker exited (${code}) before "${text}": ${stderr}`)),
        );
      });
    const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));

    await printed('taking jobs from queue');
    const em = db.orm.em.fork();
    const row = await em.findOneOrFail(Question, id);
    row.questionText = 'refreshed by the worker';
    await em.flush();
    await printed('worker: 1 job: ');
    const [v2] = (await cache.getInstances('Question', [id], { version: 'v2' })) as { text: string }[];
    expect(v2!.text).toBe('refreshed by the worker');
    expect(await db.orm.em.fork().count(CacheJournalEntry, { appliedAt: null })).toBe(0);

    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toContain('worker: stopped');
    await cache.close();
  });
});
