/**
 * `npm run stress`: the proof that no invalidation is ever lost. Several OS processes serve the
 * poll API (test/stress/server.ts) on one Postgres database and one Redis of the run's own, their
 * cascades inline, in the background and (from 3 processes on) on the BullMQ queue with a worker
 * process of its own (test/stress/worker.ts), which is killed like the servers; a
 * seeded random mix of reads and every mutation, over both versions, runs with `--in-flight`
 * requests at once, while server processes are killed with SIGKILL under load (and restarted),
 * and, in a separate phase, Redis is restarted from a snapshot taken before some of the writes.
 * After quiescence every record of every model in every version that the store serves is
 * compared with a fresh serialization from the database, and every server's answers (L1, cached
 * lists and resolvers included) with those of a server that does not cache. One line says it:
 *
 *   stress: ops N, processes P, kills K, records compared R, mismatches M
 *
 * Options: --ops (20000) --processes (3) --kills (6) --in-flight (12) --seed (random; printed, a
 * failing seed reproduces the run's choices) --snapshot-ops (ops of the snapshot phase, default
 * 10% of --ops, 0 to skip) --no-journal (servers without the journal: shows what it prevents;
 * seed 2 at 2,000 ops and 3 kills gave 196 mismatches without it, 0 with it). Needs POSTGRES_URL's server and a `redis-server` binary; creates its
 * own database (dropped at the end) and its own Redis (killed at the end). Exits 1 on any
 * mismatch, 2 when it could not run.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '@keyv/redis';
import type { MikroORM } from '@mikro-orm/core';
import { Choice, Question, User } from '../../examples/poll/entities.js';
import { createPollOrm } from '../../examples/poll/orm.js';
import { createRandom, seedPoll } from '../../examples/poll/seed.js';
import { type PollServer, startPollServer } from '../../examples/poll/server.js';
import { createPollStrategy } from '../../examples/poll/strategy.js';
import { InstanceCache, type Pk } from '../../src/index.js';
import { CacheJournal, CacheJournalEntry } from '../../src/mikro-orm/index.js';
import { createRedisStore } from '../../src/redis.js';
import { compareWithDatabase } from '../support/compare.js';
import { freePort, type OwnRedis, startOwnRedis } from '../support/redis-server.js';

const { values: args } = parseArgs({
  options: {
    ops: { type: 'string', default: '20000' },
    processes: { type: 'string', default: '3' },
    kills: { type: 'string', default: '6' },
    'in-flight': { type: 'string', default: '12' },
    seed: { type: 'string' },
    'snapshot-ops': { type: 'string' },
    'no-journal': { type: 'boolean', default: false },
  },
});

function count(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(`stress: --${name} must be an integer >= ${min}, got ${value}\n`);
    process.exit(2);
  }
  return n;
}

const OPS = count('ops', args.ops, 1);
const PROCESSES = count('processes', args.processes, 2);
const KILLS = count('kills', args.kills, 0);
const IN_FLIGHT = count('in-flight', args['in-flight'], 1);
const SEED = args.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : count('seed', args.seed, 0);
const SNAPSHOT_OPS =
  args['snapshot-ops'] === undefined ? Math.floor(OPS / 10) : count('snapshot-ops', args['snapshot-ops'], 0);
const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const VERSIONS = ['v1', 'v2'] as const;
type Version = (typeof VERSIONS)[number];

const random = createRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const log = (line: string) => process.stderr.write(`stress: ${line}\n`);

/** One server process of the run. */
interface Server {
  readonly index: number;
  readonly child: ChildProcess;
  readonly url: string;
  alive: boolean;
}

const dir = mkdtempSync(join(tmpdir(), 'gci-stress-'));
const database = POSTGRES_URL.replace(/\/[^/]*$/, `/gci_stress_${process.pid}_${Date.now().toString(36)}`);
let redis: OwnRedis | undefined;
let redisPort = 0;
let orm: MikroORM | undefined;
let reference: PollServer | undefined;
const servers: Server[] = [];
const startRedis = () => startOwnRedis(redisPort, ['--dir', dir, '--dbfilename', 'dump.rdb']);

const MODES = ['inline', 'background', 'queue'] as const;

/**
 * Starts server process `index`: its cascade runs inline, in the background or (index 2, with L1
 * off) on the queue, whose worker is process `index` -1.
 */
async function startServer(index: number): Promise<Server> {
  const child =
    index === -1
      ? fork(new URL('./worker.ts', import.meta.url).pathname, [database, redis!.url], {
          execArgv: ['--import', 'tsx'],
          stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
        })
      : fork(
          new URL('./server.ts', import.meta.url).pathname,
          [
            database,
            redis!.url,
            MODES[index % 3]!,
            index % 3 === 2 ? '0' : '1',
            args['no-journal'] ? '0' : '1',
          ],
          { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] },
        );
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: { url?: string }) => resolve(message.url!));
    child.once('exit', (code) => reject(new Error(`process ${index} exited (${code}) before it was ready`)));
  });
  const server: Server = { index, child, url, alive: true };
  child.once('exit', () => {
    server.alive = false;
  });
  return server;
}

async function kill(server: Server): Promise<void> {
  if (!server.alive) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGKILL');
  await exited;
}

/** What the run knows of the data, to aim its operations (ids may be stale: that is fine). */
const known = { questions: [] as number[], choices: [] as number[], users: [] as number[] };
const deleted: Record<string, Pk[]> = { Choice: [] };

const stats = { ops: 0, reads: 0, writes: 0, failed: 0, kills: 0, graphqlErrors: 0 };

async function post(
  server: Server,
  version: Version,
  query: string,
  variables: Record<string, unknown>,
  staff: boolean,
): Promise<{ data?: Record<string, unknown>; errors?: unknown[] } | undefined> {
  try {
    const response = await fetch(`${server.url}/graphql/${version}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(staff ? { 'x-viewer-role': 'staff' } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
    if (body.errors) stats.graphqlErrors += 1;
    return body;
  } catch {
    // The server was killed under this request.
    stats.failed += 1;
    return undefined;
  }
}

const text = (version: Version, kind: 'question' | 'choice') =>
  kind === 'choice' ? 'choiceText' : version === 'v1' ? 'questionText' : 'text';

/** The queries both the run and the final comparison send, per version. */
function questionQuery(version: Version): string {
  const extra = version === 'v2' ? 'voteCount' : '';
  return `query Q($id: ID!) { question(id: $id) { id ${text(version, 'question')} pubDate choices { id choiceText ${extra} voters(first: 100) { id username } } } }`;
}
function listQuery(version: Version): string {
  return `query L($first: Int, $after: String, $order: QuestionOrder) { questions(first: $first, after: $after, order: $order) { totalCount pageInfo { hasNextPage endCursor } nodes { id ${text(version, 'question')} choices { id } } } }`;
}
function userQuery(version: Version): string {
  return version === 'v2'
    ? 'query U($id: ID!) { user(id: $id) { id username dateJoined votes { id } } }'
    : 'query U($id: ID!) { user(id: $id) { id username dateJoined } }';
}
const choiceQuery =
  'query C($id: ID!) { choice(id: $id) { id choiceText question { id } voters(first: 100) { id } } }';

/** One random operation against one random live server. */
async function operation(): Promise<void> {
  const live = servers.filter((s) => s.alive && s.index >= 0);
  const server = pick(live);
  const version = pick(VERSIONS);
  const staff = random() < 0.5;
  const roll = random();
  const q = () => pick(known.questions);
  const c = () => pick(known.choices);
  const u = () => pick(known.users);
  if (roll < 0.7) {
    stats.reads += 1;
    const which = random();
    if (which < 0.35) await post(server, version, questionQuery(version), { id: q() }, staff);
    else if (which < 0.6) {
      await post(
        server,
        version,
        listQuery(version),
        { first: pick([5, 10, 20]), order: pick(['NEWEST', 'OLDEST']) },
        staff,
      );
    } else if (which < 0.8) await post(server, version, choiceQuery, { id: c() }, staff);
    else await post(server, version, userQuery(version), { id: u() }, staff);
    return;
  }
  stats.writes += 1;
  const write = random();
  const field = text(version, 'question');
  if (write < 0.1) {
    const body = await post(
      server,
      version,
      `mutation M($t: String!, $c: [String!]) { createQuestion(${field}: $t, choices: $c) { id choices { id } } }`,
      { t: `created ${stats.ops}`, c: ['yes', 'no'] },
      true,
    );
    const created = body?.data?.createQuestion as { id: string; choices: { id: string }[] } | undefined;
    if (created) {
      known.questions.push(Number(created.id));
      for (const choice of created.choices) known.choices.push(Number(choice.id));
    }
  } else if (write < 0.3) {
    // Staff may move a question into the far future (unpublished) and back.
    const pubDate =
      random() < 0.2
        ? '2099-01-01T00:00:00.000Z'
        : new Date(Date.UTC(2024, 0, 1 + Math.floor(random() * 300))).toISOString();
    await post(
      server,
      version,
      `mutation M($id: ID!, $t: String, $d: DateTime) { updateQuestion(id: $id, ${field}: $t, pubDate: $d) { id } }`,
      { id: q(), t: `renamed ${stats.ops}`, d: random() < 0.3 ? pubDate : null },
      true,
    );
  } else if (write < 0.45) {
    const body = await post(
      server,
      version,
      'mutation M($q: ID!, $t: String!) { addChoice(questionId: $q, choiceText: $t) { id } }',
      { q: q(), t: `added ${stats.ops}` },
      true,
    );
    const added = body?.data?.addChoice as { id: string } | undefined;
    if (added) known.choices.push(Number(added.id));
  } else if (write < 0.55) {
    const id = c();
    const body = await post(server, version, 'mutation M($id: ID!) { deleteChoice(id: $id) }', { id }, true);
    if (body?.data?.deleteChoice === true) deleted.Choice!.push(id);
  } else if (write < 0.8) {
    await post(
      server,
      version,
      'mutation M($c: ID!, $u: ID!) { vote(choiceId: $c, userId: $u) { id } }',
      { c: c(), u: u() },
      true,
    );
  } else {
    await post(
      server,
      version,
      'mutation M($c: ID!, $u: ID!) { unvote(choiceId: $c, userId: $u) { id } }',
      { c: c(), u: u() },
      true,
    );
  }
}

/** Runs `ops` operations, `IN_FLIGHT` at a time; `onOp(n)` after each. */
async function load(ops: number, onOp?: (n: number) => Promise<void> | void): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < ops) {
        const n = next++;
        await operation();
        stats.ops += 1;
        await onOp?.(n);
      }
    }),
  );
}

async function settle(): Promise<void> {
  let round = 0;
  await Promise.all(
    servers
      .filter((s) => s.alive)
      .map(
        (server) =>
          new Promise<void>((resolve) => {
            round += 1;
            const id = round;
            const on = (message: { settled?: number }) => {
              if (message.settled !== id) return;
              server.child.off('message', on);
              resolve();
            };
            server.child.on('message', on);
            server.child.send({ settle: id });
          }),
      ),
  );
}

async function main(): Promise<number> {
  const started = performance.now();
  log(
    `seed ${SEED}: ${OPS} ops, ${PROCESSES} processes, ${KILLS} kills, ${IN_FLIGHT} in flight, snapshot phase ${SNAPSHOT_OPS} ops`,
  );
  orm = await createPollOrm({ database });
  await seedPoll(orm.em.fork(), {
    questions: 30,
    choicesPerQuestion: 4,
    users: 60,
    votesPerChoice: 4,
    seed: SEED,
  });
  const em = orm.em.fork();
  known.questions = (await em.find(Question, {}, { fields: ['id'] })).map((row) => row.id);
  known.choices = (await em.find(Choice, {}, { fields: ['id'] })).map((row) => row.id);
  known.users = (await em.find(User, {}, { fields: ['id'] })).map((row) => row.id);
  redisPort = await freePort();
  redis = await startRedis();
  for (let i = 0; i < PROCESSES; i += 1) servers.push(await startServer(i));
  // A queue server needs its worker (a process of its own, killed like the others).
  if (PROCESSES >= 3) servers.push(await startServer(-1));

  // Phase 1: the mix, with kills spread over it.
  const killAt = new Set(Array.from({ length: KILLS }, (_, k) => Math.floor(((k + 1) * OPS) / (KILLS + 1))));
  await load(OPS, async (n) => {
    if (!killAt.has(n)) return;
    killAt.delete(n);
    const victim = pick(servers.filter((s) => s.alive));
    await kill(victim);
    stats.kills += 1;
    servers[servers.indexOf(victim)] = await startServer(victim.index);
  });
  log(`phase 1 done: ${stats.ops} ops, ${stats.kills} kills, ${stats.failed} requests cut by kills`);

  // Phase 2: Redis restarted from a snapshot taken before some of the writes.
  if (SNAPSHOT_OPS > 0) {
    await settle();
    await load(Math.floor(SNAPSHOT_OPS / 2));
    const client = createClient({ url: redis.url });
    await client.connect();
    await client.sendCommand(['SAVE']);
    await client.quit();
    await load(SNAPSHOT_OPS - Math.floor(SNAPSHOT_OPS / 2));
    await redis.kill();
    redis = await startRedis();
    log('phase 2: redis restarted from its snapshot');
    await load(Math.floor(SNAPSHOT_OPS / 2));
  }

  // Quiescence: every server drains and recovers; then whatever a killed process left behind is
  // applied here (grace 1 ms: nothing is in flight any more).
  await settle();
  const store = await createRedisStore({ url: redis.url, namespace: 'poll' });
  const strategy = createPollStrategy(orm);
  const cache = new InstanceCache(strategy, { store });
  const journal = new CacheJournal(orm, cache, { grace: 1 });
  for (let pass = 0; ; pass += 1) {
    await journal.recover();
    await journal.flush();
    const left = await orm.em.fork().count(CacheJournalEntry, { appliedAt: null });
    if (left === 0) break;
    if (pass === 20) throw new Error(`${left} journal entries could not be applied`);
  }
  await journal.close();
  await settle();

  // Verdict 1: every record of every model in every version the store serves.
  const records = await compareWithDatabase(orm, strategy, store, deleted);
  for (const m of records.mismatches.slice(0, 10)) {
    log(
      `MISMATCH ${m.model}:${m.pk}@${m.version}: served ${JSON.stringify(m.served)}, database ${JSON.stringify(m.database)}`,
    );
  }
  // Verdict 2: what every server answers (L1, cached lists, resolvers) against a server that
  // does not cache, on the same database.
  reference = await startPollServer({
    port: 0,
    databaseUrl: database,
    resetDatabase: false,
    seed: false,
    cacheEnabled: false,
    journal: false,
    queryLimits: { maxDepth: 20, maxCost: 1_000_000 },
    logger: { error: () => {} },
  });
  const referenceServer: Server = { index: -1, child: undefined as never, url: reference.url, alive: true };
  const views: [Version, string, Record<string, unknown>, boolean][] = [];
  const allQuestions = (await orm.em.fork().find(Question, {}, { fields: ['id'] })).map((row) => row.id);
  for (const version of VERSIONS) {
    for (const staff of [true, false]) {
      for (const id of allQuestions) views.push([version, questionQuery(version), { id }, staff]);
      for (const order of ['NEWEST', 'OLDEST'])
        views.push([version, listQuery(version), { first: 100, order }, staff]);
    }
    for (const id of known.users) views.push([version, userQuery(version), { id }, false]);
  }
  let viewMismatches = 0;
  let viewsCompared = 0;
  for (const [version, query, variables, staff] of views) {
    const expected = JSON.stringify(await post(referenceServer, version, query, variables, staff));
    for (const server of servers) {
      if (server.index < 0) continue;
      viewsCompared += 1;
      const actual = JSON.stringify(await post(server, version, query, variables, staff));
      if (actual !== expected) {
        viewMismatches += 1;
        if (viewMismatches <= 10)
          log(
            `VIEW MISMATCH server ${server.index} ${version} ${JSON.stringify(variables)}: ${actual} != ${expected}`,
          );
      }
    }
  }
  const mismatches = records.mismatches.length + viewMismatches;
  log(
    `${records.compared} records and ${viewsCompared} views compared; ${stats.reads} reads, ${stats.writes} writes, ${stats.graphqlErrors} answers with errors, ${stats.failed} requests cut by kills; ${((performance.now() - started) / 1000).toFixed(1)} s; seed ${SEED}`,
  );
  process.stdout.write(
    `stress: ops ${stats.ops}, processes ${PROCESSES}, kills ${stats.kills}, records compared ${records.compared}, mismatches ${mismatches}\n`,
  );
  await cache.close();
  return mismatches === 0 ? 0 : 1;
}

let code = 2;
try {
  code = await main();
} catch (error) {
  log(`could not run: ${(error as Error).stack ?? String(error)}`);
} finally {
  await Promise.all(servers.map(kill));
  await reference?.close();
  await redis?.kill();
  if (orm) {
    await orm.schema.dropDatabase().catch(() => {});
    await orm.close(true);
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
