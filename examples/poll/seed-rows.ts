/**
 * `npm run seed -- [--scale X]`: a few thousand poll rows in the Postgres database at
 * `DATABASE_URL`, to try the operator CLI (`warm`, `inspect`, `stats`) on more than the 50
 * questions `npm start` seeds. The data is the benchmark's generator at scale X (default 0.5:
 * 500 users, every 10th inactive, 1,000 questions, 4,000 choices, 20,000 votes), written with
 * multi-row inserts. The schema is created when missing; a database that already holds questions
 * is left alone (exit 1). `npm start` with the same `DATABASE_URL` then serves these rows.
 */
import { generatePoll } from '../../bench/lib/data.js';
import { writePollData } from '../../bench/lib/databases.js';
import { Question } from './entities.js';
import { createPollOrm } from './orm.js';

const USAGE = 'usage: DATABASE_URL=postgresql://… npm run seed -- [--scale X]   (X: 0.05 to 10, default 0.5)';

function fail(message: string): never {
  console.error(`seed: ${message}`);
  process.exit(1);
}

const args = process.argv.slice(2);
let scale = 0.5;
for (let i = 0; i < args.length; i += 1) {
  const arg = args[i]!;
  const value = arg === '--scale' ? args[++i] : arg.startsWith('--scale=') ? arg.slice(8) : undefined;
  if (value === undefined) fail(`unexpected argument ${JSON.stringify(arg)}\n${USAGE}`);
  scale = Number(value);
  if (!Number.isFinite(scale) || scale < 0.05 || scale > 10) fail(`--scale must be 0.05 to 10, got ${value}`);
}
const url = process.env.DATABASE_URL;
if (!url || !/^postgres(ql)?:\/\//.test(url)) fail(`DATABASE_URL must be a postgres:// URL\n${USAGE}`);

const n = (count: number) => count.toLocaleString('en-US');
const orm = await createPollOrm({ database: url, fresh: false });
try {
  await orm.schema.updateSchema();
  const existing = await orm.em.fork().count(Question);
  if (existing > 0) {
    fail(
      `the database already holds ${n(existing)} questions; seed an empty one (a new database name in DATABASE_URL)`,
    );
  }
  const data = generatePoll(scale);
  const started = performance.now();
  await writePollData(orm, 'postgres', data);
  console.log(
    `seeded ${n(data.users.length)} users, ${n(data.questions.length)} questions, ${n(data.choices.length)} choices, ${n(data.votes.length)} votes in ${Math.round(performance.now() - started)} ms`,
  );
} finally {
  await orm.close(true);
}
