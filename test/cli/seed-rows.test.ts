/**
 * `npm run seed` (examples/poll/seed-rows.ts): the rows the README's CLI walk-through warms, in a
 * Postgres database of this file's own; a database that already holds questions is left alone.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Choice, Question, User } from '../../examples/poll/entities.js';
import { createTestOrm, type TestOrm } from '../support/mikro-orm.js';
import { describeServices } from '../support/services.js';
import { runCliProcess } from './run-cli.js';

const SEED = { command: process.execPath, args: ['--import', 'tsx', 'examples/poll/seed-rows.ts'] };

await describeServices(['postgres'], 'npm run seed on Postgres', () => {
  let db: TestOrm;
  let url: string;
  const seed = (...argv: string[]) => runCliProcess(argv, { DATABASE_URL: url }, SEED);

  beforeAll(async () => {
    db = await createTestOrm('postgres', { label: 'seed' });
    url = db.orm.config.getClientUrl();
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  }, 60_000);

  it('writes the generator at the given scale into an empty database, then refuses to write twice', async () => {
    const run = await seed('--scale', '0.1');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^seeded 100 users, 200 questions, 800 choices, 4,000 votes in \d+ ms\n$/);
    const em = db.orm.em.fork();
    expect([await em.count(User), await em.count(Question), await em.count(Choice)]).toEqual([100, 200, 800]);

    const again = await seed();
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      'seed: the database already holds 200 questions; seed an empty one (a new database name in DATABASE_URL)\n',
    );
    expect(await db.orm.em.fork().count(Question)).toBe(200);
  });

  it('refuses a bad scale or a database that is not Postgres, before connecting', async () => {
    const bad = await seed('--scale', 'lots');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('seed: --scale must be 0.05 to 10, got lots\n');
    const sqlite = await runCliProcess([], { DATABASE_URL: 'poll.sqlite' }, SEED);
    expect(sqlite.code).toBe(1);
    expect(sqlite.stderr).toMatch(/^seed: DATABASE_URL must be a postgres:\/\/ URL\nusage: /);
  });
});
