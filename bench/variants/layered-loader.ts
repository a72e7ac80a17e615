/**
 * layered-loader, the closest shared-cache peer: one shared `Loader` per model (created once, used
 * by every request) with either its in-memory layer or its Redis layer (`RedisCache` over ioredis,
 * `json: true`), the DB as data source. Requests reach it through per-request DataLoaders (one
 * `getMany` per model per tick), the same shape as the library, so the comparison isolates the
 * shared cache. layered-loader's `getMany` returns values in no particular order; the batch
 * function aligns them by id. The root list is the same pk query as the library's.
 *
 * What it caches is the same plain record as the library (related pks as lists); its memory layer
 * hands out the cached objects themselves (no copy, no decoding), and it has no generation stamps.
 */
import type { EntityManager, MikroORM } from '@mikro-orm/core';
import DataLoader from 'dataloader';
import { Redis } from 'ioredis';
import { Loader, RedisCache } from 'layered-loader';
import { Choice, Question, User } from '../../examples/poll/entities.js';
import { questionPage } from '../../examples/poll/queries.js';
import { DateTime } from '../../examples/poll/scalars.js';
import { connectionOf, startApollo } from '../lib/graphql.js';
import { type BenchDatabase, REDIS_URL } from '../lib/services.js';
import { type BenchVariables, executeBenchQuery, type Variant } from '../lib/variant.js';

interface QuestionRecord {
  readonly id: number;
  readonly questionText: string;
  /** A `Date` in the memory layer, an ISO string once it went through Redis (the DateTime scalar takes both). */
  readonly pubDate: Date | string;
  readonly choiceIds: readonly number[];
}
interface ChoiceRecord {
  readonly id: number;
  readonly choiceText: string;
  readonly questionId: number;
  readonly voterIds: readonly number[];
}
interface UserRecord {
  readonly id: number;
  readonly username: string;
  readonly dateJoined: Date | string;
  readonly active: boolean;
}

interface SharedLoaders {
  readonly question: Loader<QuestionRecord>;
  readonly choice: Loader<ChoiceRecord>;
  readonly user: Loader<UserRecord>;
}

const byId = (a: { id: number }, b: { id: number }) => a.id - b.id;
const toIds = (keys: readonly string[]) => keys.map(Number);

/** The data sources: one query per model per batch, plus the related pks, as plain records. */
function dataSources(orm: MikroORM) {
  return {
    async questions(keys: string[]): Promise<QuestionRecord[]> {
      const em = orm.em.fork();
      const rows = await em.find(Question, { id: { $in: toIds(keys) } }, { populate: ['choices'] });
      return rows.map((q) => ({
        id: q.id,
        questionText: q.questionText,
        pubDate: q.pubDate,
        choiceIds: q.choices
          .getItems()
          .map((c) => c.id)
          .sort((a, b) => a - b),
      }));
    },
    async choices(keys: string[]): Promise<ChoiceRecord[]> {
      const em = orm.em.fork();
      const rows = await em.find(Choice, { id: { $in: toIds(keys) } }, { populate: ['voters'] });
      return rows.map((c) => ({
        id: c.id,
        choiceText: c.choiceText,
        questionId: c.question.id,
        voterIds: c.voters
          .getItems()
          .map((u) => u.id)
          .sort((a, b) => a - b),
      }));
    },
    async users(keys: string[]): Promise<UserRecord[]> {
      const em = orm.em.fork();
      const rows = await em.find(User, { id: { $in: toIds(keys) } });
      return rows.map((u) => ({
        id: u.id,
        username: u.username,
        dateJoined: u.dateJoined,
        active: u.active,
      }));
    },
  };
}

function createSharedLoaders(orm: MikroORM, redis: Redis | undefined, prefix: string): SharedLoaders {
  const sources = dataSources(orm);
  const key = (record: { id: number }) => String(record.id);
  // Memory layer: big enough for every record, no expiry during the run.
  const memory = { cacheType: 'lru-map' as const, maxItems: 100_000, ttlInMsecs: 3_600_000 };
  const layers = <T>(model: string) =>
    redis
      ? {
          asyncCache: new RedisCache<T>(redis, {
            prefix: `${prefix}:${model}`,
            json: true,
            ttlInMsecs: 3_600_000,
          }),
        }
      : { inMemoryCache: memory };
  return {
    question: new Loader<QuestionRecord>({
      ...layers<QuestionRecord>('question'),
      dataSourceGetManyFn: sources.questions,
      cacheKeyFromValueResolver: key,
    }),
    choice: new Loader<ChoiceRecord>({
      ...layers<ChoiceRecord>('choice'),
      dataSourceGetManyFn: sources.choices,
      cacheKeyFromValueResolver: key,
    }),
    user: new Loader<UserRecord>({
      ...layers<UserRecord>('user'),
      dataSourceGetManyFn: sources.users,
      cacheKeyFromValueResolver: key,
    }),
  };
}

/** A per-request DataLoader over one shared layered-loader `Loader`, aligned with the asked ids. */
function perRequest<T extends { id: number }>(shared: Loader<T>): DataLoader<number, T | null> {
  return new DataLoader(async (ids) => {
    const values = await shared.getMany(ids.map(String));
    const found = new Map<number, T>();
    for (const value of values) if (value) found.set(value.id, value);
    return ids.map((id) => found.get(id) ?? null);
  });
}

interface LayeredContext {
  readonly em: EntityManager;
  readonly now: Date;
  readonly question: DataLoader<number, QuestionRecord | null>;
  readonly choice: DataLoader<number, ChoiceRecord | null>;
  readonly user: DataLoader<number, UserRecord | null>;
}

async function loadPresent<T>(loader: DataLoader<number, T | null>, ids: readonly number[]): Promise<T[]> {
  const values = await loader.loadMany(ids);
  const out: T[] = [];
  for (const value of values) {
    if (value instanceof Error) throw value;
    if (value !== null) out.push(value);
  }
  return out;
}

/** layered-loader with its memory layer or its Redis layer, on `db` (see the file comment). */
export async function createLayeredLoaderVariant(
  db: BenchDatabase,
  layer: 'memory' | 'redis',
  variables: BenchVariables,
): Promise<Variant> {
  const prefix = `gci-bench-ll-${process.pid}-${db.kind}`;
  let redis: Redis | undefined;
  let storeCalls = 0;
  if (layer === 'redis') {
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    redis.on('error', () => {});
    await redis.connect();
    // Counts MGETs (the only command of a warm request), for the store round trips column.
    const mget = redis.mget.bind(redis) as (...args: unknown[]) => Promise<unknown>;
    (redis as unknown as { mget: (...args: unknown[]) => Promise<unknown> }).mget = (...args: unknown[]) => {
      storeCalls += 1;
      return mget(...args);
    };
  }
  const shared = createSharedLoaders(db.orm, redis, prefix);
  const server = await startApollo<LayeredContext>({
    DateTime,
    Query: {
      async questions(_parent: unknown, args: { first?: number | null }, context: LayeredContext) {
        const first = args.first ?? 20;
        const rows = await questionPage(context.em, {
          limit: first + 1,
          after: null,
          publishedBy: context.now,
        });
        const page = rows.slice(0, first);
        const records = await context.question.loadMany(page.map((row) => row.pk as number));
        const nodes: QuestionRecord[] = [];
        const cursors: [string, number][] = [];
        records.forEach((record, i) => {
          if (record instanceof Error) throw record;
          if (record === null) return;
          nodes.push(record);
          cursors.push(page[i]!.cursor);
        });
        // The end cursor is the last row fetched, readable or not (as the library does).
        return connectionOf(nodes, cursors, rows.length > first, page[page.length - 1]?.cursor);
      },
    },
    Question: {
      choices: (question: QuestionRecord, _args: unknown, context: LayeredContext) =>
        loadPresent(context.choice, question.choiceIds),
    },
    Choice: {
      question: (choice: ChoiceRecord, _args: unknown, context: LayeredContext) =>
        context.question.load(choice.questionId),
      voters: async (choice: ChoiceRecord, _args: unknown, context: LayeredContext) =>
        // The API's read rule: inactive users are hidden.
        (await loadPresent(context.user, choice.voterIds)).filter((user) => user.active).sort(byId),
    },
  });
  const { orm } = db;
  return {
    id: `layered-loader-${layer}-${db.kind}`,
    label: `layered-loader ${layer === 'redis' ? 'Redis layer' : 'memory layer'} (${db.kind}), warm`,
    transport: 'executeOperation',
    database: db.kind,
    store:
      layer === 'redis' ? 'Redis (RedisCache over ioredis, json)' : 'memory (lru-map, objects by reference)',
    baseline: `dataloader-${db.kind}`,
    phase: 1,
    notes:
      layer === 'redis'
        ? 'one MGET + JSON.parse per value; no generation check'
        : 'hands out the cached objects themselves (no decode, no copy; a mutation would leak)',
    async request() {
      const before = storeCalls;
      const outcome = await executeBenchQuery(server, variables, {
        em: orm.em.fork(),
        now: new Date(),
        question: perRequest(shared.question),
        choice: perRequest(shared.choice),
        user: perRequest(shared.user),
      });
      return layer === 'redis' ? { ...outcome, counters: { storeRoundTrips: storeCalls - before } } : outcome;
    },
    async close() {
      await server.stop();
      if (redis) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
          cursor = next;
          if (keys.length > 0) await redis.unlink(...keys);
        } while (cursor !== '0');
        redis.disconnect();
      }
    },
  };
}
