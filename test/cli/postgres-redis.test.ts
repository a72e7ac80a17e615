/**
 * The CLI as a child process (source through tsx) with the example's config
 * (examples/poll/cache.config.ts) on a Postgres database and a Redis namespace of this file's
 * own, over a few thousand rows: warm's progress lines and counts, then what the cache holds
 * (inspect, and a read in this process that runs no SQL), invalidate, drop-version, and the exit
 * codes of a bad model, a bad config and a Redis that does not answer.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PollData } from '../../bench/lib/data.js';
import { createPollStrategy } from '../../examples/poll/strategy.js';
import { createStats, InstanceCache } from '../../src/index.js';
import { createRedisStore, type RedisClient, type RedisStore } from '../../src/redis.js';
import { createTestOrm, type TestOrm } from '../support/mikro-orm.js';
import { REDIS_URL } from '../support/redis.js';
import { freePort } from '../support/redis-server.js';
import { describeServices } from '../support/services.js';
import { type CliRun, ROOT, runCliProcess } from './run-cli.js';
import { seedRows } from './seed.js';

/** 250 users, 500 questions, 2,000 choices (10,000 votes): 2,750 rows, 5,500 records in v1 + v2. */
const SCALE = 0.25;

await describeServices(['postgres', 'redis'], 'the CLI on Postgres and Redis (child processes)', () => {
  let db: TestOrm;
  let data: PollData;
  let namespace: string;
  let env: Record<string, string>;
  /** This process's view of the same Redis namespace (for cleanup and counts). */
  let store: RedisStore;

  const cli = (...argv: string[]) =>
    runCliProcess(['--config', 'examples/poll/cache.config.ts', ...argv], env);
  const json = <T>(run: CliRun): T => {
    expect(run.stderr.includes('error:') ? run.stderr : '').toBe('');
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as T;
  };
  type Inspected = {
    versions: { version: string; state: string; ttl: unknown; record?: Record<string, unknown> }[];
  };
  const inspect = async (model: string, pk: number) =>
    json<Inspected>(await cli('inspect', model, String(pk), '--json'));
  /** Record keys per model and version, as `stats` counts them (one SCAN pass). */
  const keyCounts = async () => {
    const stats = json<{ keys: { known: { version: string; model: string; instances: number }[] } }>(
      await cli('stats', '--json'),
    );
    return Object.fromEntries(stats.keys.known.map((c) => [`${c.model}@${c.version}`, c.instances]));
  };
  /** The same, counted by this process (a child run costs a second). */
  const recordKeys = async () => {
    const counts: Record<string, number> = {};
    for await (const batch of (store.client as RedisClient).scanIterator({
      MATCH: `${namespace}::poll:*`,
      COUNT: 1000,
    })) {
      for (const key of batch) {
        const [version, model, pk] = key.slice(`${namespace}::poll:`.length).split(':');
        if (!pk!.startsWith('~')) counts[`${model}@${version}`] = (counts[`${model}@${version}`] ?? 0) + 1;
      }
    }
    return counts;
  };

  beforeAll(async () => {
    db = await createTestOrm('postgres', { label: 'cli' });
    data = await seedRows(db.orm, SCALE);
    namespace = `test-cli-${process.pid}-${Date.now().toString(36)}`;
    env = { DATABASE_URL: db.orm.config.getClientUrl(), REDIS_URL, REDIS_NAMESPACE: namespace };
    store = await createRedisStore({ url: REDIS_URL, namespace });
  }, 60_000);
  afterAll(async () => {
    await store?.deleteByPrefix('');
    await store?.close();
    await db?.close();
  }, 60_000);

  it('warm loads every row in every version, with progress lines on stderr and the counts at the end', async () => {
    const run = await cli('warm', '--batch', '200', '--progress-every', '2');
    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    const rows = data.questions.length + data.choices.length + data.users.length;
    expect(rows).toBe(2750);
    // 3 + 10 + 2 batches of 200: a line every 2 batches, and the last one.
    const progress = run.stderr.trim().split('\n');
    expect(progress.length).toBeGreaterThanOrEqual(5);
    for (const line of progress) {
      expect(line).toMatch(
        /^warm: [\d,]+\/5,500 records \(\d+%\), [\d,]+ records\/s(, ETA [^,]+)?, \w+@v1,v2$/,
      );
    }
    expect(progress.at(-1)).toMatch(/^warm: 5,500\/5,500 records \(100%\)/);
    const summary = run.stdout.split('\n');
    expect(summary[0]).toMatch(
      /^warmed 5,500 records \(2,750 rows, 3 models, 2 versions\) in [\d.]+ (ms|s): [\d,]+ records\/s$/,
    );
    expect(summary).toContain('  Question  v1  500 rows: 500 loaded, 0 already cached');
    expect(summary).toContain('  Choice    v2  2,000 rows: 2,000 loaded, 0 already cached');
    // Every 10th user is inactive: hidden, cached as "not found".
    expect(summary).toContain(
      '  User      v2  250 rows: 250 loaded, 0 already cached, 25 not found or hidden',
    );
    expect(summary.at(-2)).toBe(`store: Redis (namespace "${namespace}", keys "${namespace}::…")`);
    console.log(`CLI warm on Postgres + Redis: ${summary[0]}`);

    expect(await keyCounts()).toEqual({
      'Question@v1': 500,
      'Choice@v1': 2000,
      'User@v1': 250,
      'Question@v2': 500,
      'Choice@v2': 2000,
      'User@v2': 250,
    });

    // A second warm finds everything cached: nothing is loaded again.
    const again = json<{ warmed: { loaded: number; cached: number }[] }>(await cli('warm', '--json'));
    expect(again.warmed.map((w) => w.loaded)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(again.warmed.map((w) => w.cached)).toEqual([500, 500, 2000, 2000, 250, 250]);
  }, 60_000);

  it('after warm, inspect shows the stored record, and a read in another process runs no SQL', async () => {
    const question = data.questions[41]!;
    const shown = await inspect('Question', question.id);
    expect(shown.versions.map((v) => [v.version, v.state, v.ttl])).toEqual([
      ['v1', 'record', 'none'],
      ['v2', 'record', 'none'],
    ]);
    expect(shown.versions[0]!.record).toMatchObject({ id: question.id, questionText: question.questionText });
    expect(shown.versions[1]!.record).toMatchObject({ id: question.id, text: question.questionText });
    // A hidden user is a cached "not found", whose entry expires (notFoundTtl: 5 minutes).
    const hidden = await inspect('User', data.users.find((u) => !u.active)!.id);
    expect(hidden.versions[0]!.state).toBe('not-found');
    expect(hidden.versions[0]!.ttl).toBeGreaterThan(0);
    expect(hidden.versions[0]!.ttl).toBeLessThanOrEqual(300_000);

    const cache = new InstanceCache(createPollStrategy(db.orm), { store: { ...store, close: undefined } });
    db.sql.reset();
    const stats = createStats();
    const questions = await cache.getInstances(
      'Question',
      data.questions.map((q) => q.id),
      { version: 'v2', stats },
    );
    const choices = await cache.getInstances(
      'Choice',
      data.choices.map((c) => c.id),
      { version: 'v1', stats },
    );
    expect(db.sql.queries).toEqual([]);
    expect(stats.hits).toBe(2500);
    expect(stats.misses).toBe(0);
    expect(questions.map((q) => (q as { text: string }).text)).toEqual(
      data.questions.map((q) => q.questionText),
    );
    expect(choices.every((c) => c !== null)).toBe(true);
    await cache.close();
  }, 60_000);

  it('invalidate refreshes a row changed outside the ORM; inspect shows the change', async () => {
    const question = data.questions[7]!;
    // A write no ORM hook sees: the cache still serves the old text.
    await db.orm.em
      .fork()
      .getConnection()
      .execute('update question set question_text = ? where id = ?', ['changed by hand', question.id]);
    expect((await inspect('Question', question.id)).versions[1]!.record!.text).toBe(question.questionText);
    const run = await cli('invalidate', 'Question', String(question.id));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^invalidated 1 Question instance in every version \(1 cascade level, \d+ ms\):$/m,
    );
    expect(run.stdout).toContain('2 records rewritten, 0 now not found, 0 unchanged, 0 not cached (skipped)');
    const after = await inspect('Question', question.id);
    expect(after.versions[0]!.record!.questionText).toBe('changed by hand');
    expect(after.versions[1]!.record!.text).toBe('changed by hand');
  }, 60_000);

  it('drop-version empties that version only (and refuses without --yes when it cannot ask)', async () => {
    const refused = await cli('drop-version', 'v1');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes');
    expect((await recordKeys())['Question@v1']).toBe(500);

    const run = await cli('drop-version', 'v1', '--yes');
    expect(run.code).toBe(0);
    // 2,750 records and the question lists' generation the invalidation above left.
    expect(run.stdout).toMatch(/^dropped cache version v1: 2,75[01] keys deleted/);
    expect(await recordKeys()).toEqual({ 'Question@v2': 500, 'Choice@v2': 2000, 'User@v2': 250 });
    const shown = await inspect('Choice', data.choices[0]!.id);
    expect(shown.versions.map((v) => v.state)).toEqual(['absent', 'record']);
  }, 60_000);

  it('a bad model or version: exit 2 listing the known ones; a bad config path: exit 2 naming it', async () => {
    const model = await cli('inspect', 'Questions', '1');
    expect(model.code).toBe(2);
    expect(model.stderr).toBe(
      'error: Unknown model "Questions"; the models are ["Question","Choice","User"]\n',
    );
    const version = await cli('warm', '--version', 'v3');
    expect(version.code).toBe(2);
    expect(version.stderr).toBe('error: Unknown cache version "v3"; the versions are ["v1","v2"]\n');
    const config = await runCliProcess(['--config', 'examples/poll/no-such.config.ts', 'stats'], env);
    expect(config.code).toBe(2);
    expect(config.stderr).toBe(`error: config module not found: ${ROOT}examples/poll/no-such.config.ts\n`);
  }, 60_000);

  it('Redis does not answer: exit 3 with the URL', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    const run = await runCliProcess(['--config', 'examples/poll/cache.config.ts', 'stats'], {
      ...env,
      REDIS_URL: closed,
    });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`error: createRedisStore: cannot connect to ${closed}`);
    expect(run.stderr).toContain('the cache store is unreachable');
  }, 60_000);
});
