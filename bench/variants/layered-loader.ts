/**
 * layered-loader 14.5.3, the closest shared-cache peer, configured as its README recommends: one
 * shared `Loader` per model with a `dataSourceGetManyFn` and a `RedisCache` (`json: true`) on its
 * own ioredis client; for "memory + Redis", an `inMemoryCache` (lru-map) in front and a Redis
 * pub/sub notification pair per loader (`createNotificationPair`, separate publisher and consumer
 * connections), so `invalidateCacheFor*` on one node clears every node's memory layer. Each request
 * gets DataLoaders over those shared loaders, and the same root pk query as the library.
 *
 * It caches the same plain records as the library (related pks as sorted lists). Its memory layer
 * hands out the cached objects themselves (no copy, no decoding); neither layer checks generations.
 * Write path: the example's `setVote`, then `invalidateCacheForMany` on the choice loader, as its
 * README documents for cache-aside writes (v1 question and user records do not change on a vote).
 */
import type { EntityManager, MikroORM } from '@mikro-orm/core';
import DataLoader from 'dataloader';
import { Redis } from 'ioredis';
import { createNotificationPair, Loader, RedisCache } from 'layered-loader';
import { Choice, Question, User } from '../../examples/poll/entities.js';
import { questionPage } from '../../examples/poll/queries.js';
import { DateTime } from '../../examples/poll/scalars.js';
import { connectionOf, execute, Q1, Q2, startApolloPair } from '../lib/apollo.js';
import type { Contestant } from '../lib/contestant.js';
import { type BenchDatabase, REDIS_URL } from '../lib/databases.js';
import { sendVote, voteMutations } from './writes.js';

interface QuestionRecord {
  readonly id: number;
  readonly questionText: string;
  /** A `Date` when loaded, an ISO string once it went through Redis (the DateTime scalar takes both). */
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

const toIds = (keys: readonly string[]) => keys.map(Number);
const sortedIds = (items: readonly { id: number }[]) => items.map((item) => item.id).sort((a, b) => a - b);

/** The data sources: one query per model per batch (plus its to-many relation), as plain records. */
function dataSources(orm: MikroORM) {
  return {
    async questions(keys: string[]): Promise<QuestionRecord[]> {
      const rows = await orm.em
        .fork()
        .find(Question, { id: { $in: toIds(keys) } }, { populate: ['choices'] });
      return rows.map((q) => ({
        id: q.id,
        questionText: q.questionText,
        pubDate: q.pubDate,
        choiceIds: sortedIds(q.choices.getItems()),
      }));
    },
    async choices(keys: string[]): Promise<ChoiceRecord[]> {
      const rows = await orm.em.fork().find(Choice, { id: { $in: toIds(keys) } }, { populate: ['voters'] });
      return rows.map((c) => ({
        id: c.id,
        choiceText: c.choiceText,
        questionId: c.question.id,
        voterIds: sortedIds(c.voters.getItems()),
      }));
    },
    async users(keys: string[]): Promise<UserRecord[]> {
      const rows = await orm.em.fork().find(User, { id: { $in: toIds(keys) } });
      return rows.map((u) => ({
        id: u.id,
        username: u.username,
        dateJoined: u.dateJoined,
        active: u.active,
      }));
    },
  };
}

type Layers = 'redis' | 'memory-redis';

/** A per-request DataLoader over one shared `Loader`, aligned with the asked ids. */
function perRequest<T extends { id: number }>(shared: Loader<T>): DataLoader<number, T | null> {
  return new DataLoader(async (ids) => {
    const values = await shared.getMany(ids.map(String));
    const found = new Map<number, T>();
    for (const value of values) if (value) found.set(value.id, value);
    return ids.map((id) => found.get(id) ?? null);
  });
}

async function loadPresent<T>(loader: DataLoader<number, T | null>, ids: readonly number[]): Promise<T[]> {
  const out: T[] = [];
  for (const value of await loader.loadMany(ids)) {
    if (value instanceof Error) throw value;
    if (value !== null) out.push(value);
  }
  return out;
}

/** layered-loader with the Redis layer only, or memory + Redis with notifications (see the file comment). */
export async function createLayeredLoader(
  db: BenchDatabase,
  layers: Layers,
  prefix: string,
): Promise<Contestant> {
  const clients: Redis[] = [];
  const connect = async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    await client.connect();
    clients.push(client);
    return client;
  };
  const cacheClient = await connect();
  const sources = dataSources(db.orm);
  const make = async <T extends { id: number }>(model: string, getMany: (keys: string[]) => Promise<T[]>) => {
    const asyncCache = new RedisCache<T>(cacheClient, {
      prefix: `${prefix}:${model}`,
      json: true,
      ttlInMsecs: 3_600_000,
    });
    if (layers === 'redis') {
      return new Loader<T>({
        asyncCache,
        dataSourceGetManyFn: getMany,
        cacheKeyFromValueResolver: (v) => String(v.id),
      });
    }
    const { publisher, consumer } = createNotificationPair<T>({
      channel: `${prefix}:${model}:notifications`,
      publisherRedis: await connect(),
      consumerRedis: await connect(),
    });
    const loader = new Loader<T>({
      // Big enough for every record; no expiry during a run.
      inMemoryCache: { cacheType: 'lru-map', maxItems: 1_000_000, ttlInMsecs: 3_600_000 },
      asyncCache,
      notificationPublisher: publisher,
      notificationConsumer: consumer,
      dataSourceGetManyFn: getMany,
      cacheKeyFromValueResolver: (v) => String(v.id),
    });
    await loader.init();
    return loader;
  };
  const shared = {
    question: await make('question', sources.questions),
    choice: await make('choice', sources.choices),
    user: await make('user', sources.users),
  };

  interface LayeredContext {
    readonly em: EntityManager;
    readonly now: Date;
    readonly question: DataLoader<number, QuestionRecord | null>;
    readonly choice: DataLoader<number, ChoiceRecord | null>;
    readonly user: DataLoader<number, UserRecord | null>;
  }
  // The entity manager is forked on first use, as in every contestant's context (a getter on the
  // prototype: Apollo copies a context's own properties, which would call an own getter).
  class Request implements LayeredContext {
    private forked: EntityManager | undefined = undefined;
    readonly now = new Date();
    readonly question = perRequest(shared.question);
    readonly choice = perRequest(shared.choice);
    readonly user = perRequest(shared.user);
    get em(): EntityManager {
      this.forked ??= db.orm.em.fork();
      return this.forked;
    }
  }
  const context = (): LayeredContext => new Request();
  const published = (q: QuestionRecord, c: LayeredContext) =>
    new Date(q.pubDate).getTime() <= c.now.getTime();

  const servers = await startApolloPair<LayeredContext>({
    DateTime,
    Query: {
      async questions(_parent: unknown, args: { first?: number | null }, c: LayeredContext) {
        const first = args.first ?? 20;
        const rows = await questionPage(c.em, { limit: first + 1, after: null, publishedBy: c.now });
        const page = rows.slice(0, first);
        const records = await c.question.loadMany(page.map((row) => row.pk as number));
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
      async question(_parent: unknown, args: { id: string }, c: LayeredContext) {
        const record = await c.question.load(Number(args.id));
        return record && published(record, c) ? record : null;
      },
    },
    Mutation: voteMutations<LayeredContext>(async (choiceId) => {
      await shared.choice.invalidateCacheForMany([String(choiceId)]);
    }),
    Question: {
      choices: (q: QuestionRecord, _args: unknown, c: LayeredContext) => loadPresent(c.choice, q.choiceIds),
    },
    Choice: {
      question: (choice: ChoiceRecord, _args: unknown, c: LayeredContext) =>
        c.question.load(choice.questionId),
      voters: async (choice: ChoiceRecord, args: { first?: number | null }, c: LayeredContext) => {
        // The API's read rule: inactive users are hidden.
        const voters = (await loadPresent(c.user, choice.voterIds)).filter((user) => user.active);
        return typeof args.first === 'number' ? voters.slice(0, args.first) : voters;
      },
    },
  });
  const memory = layers === 'memory-redis';
  return {
    id: `layered-loader-${layers}`,
    label: `layered-loader 14.5.3, ${memory ? 'memory + Redis (pub/sub invalidation)' : 'Redis only'}`,
    database: db.kind,
    store: memory
      ? 'lru-map in memory (objects by reference) + RedisCache (ioredis, json), notification pair per loader'
      : 'RedisCache (ioredis, json)',
    notes: memory
      ? 'hands out cached objects by reference (no decode, no copy); no generation check; writes: invalidateCacheForMany + pub/sub'
      : 'one MGET + JSON.parse per record; no generation check; writes: invalidateCacheForMany',
    sql: db.sql,
    db,
    redisPrefix: prefix,
    caches: true,
    request: (query, variables, cacheControl) =>
      execute(servers[cacheControl ? 'on' : 'off'], query === 'q1' ? Q1 : Q2, variables, context()),
    vote: (choiceId, userId, voted) => sendVote(servers.off, context(), choiceId, userId, voted),
    async close() {
      await servers.on.stop();
      await servers.off.stop();
      // Loader.close() quits the notification connections; the cache client is ours.
      for (const loader of Object.values(shared)) await loader.close().catch(() => {});
      for (const client of clients) if (client.status !== 'end') client.disconnect();
      await db.close();
    },
  };
}
