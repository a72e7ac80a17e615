/**
 * The poll app over a real database with a derived two-version strategy, an InstanceCache on the
 * memory store and the CacheSubscriber — the fixture of the MikroORM integration suites. Every
 * `reset()` starts from freshly seeded data and an empty cache.
 */
import { Choice, Question, User } from '../../examples/poll/entities.js';
import { type SeededPoll, type SeedPollOptions, seedPoll } from '../../examples/poll/seed.js';
import { defineStrategy, InstanceCache, type Pk, type Strategy } from '../../src/index.js';
import {
  CacheSubscriber,
  type CacheSubscriberOptions,
  fromMikroOrm,
  type MikroOrmLike,
} from '../../src/mikro-orm/index.js';
import { createTestOrm, type TestDatabase, type TestOrm } from './mikro-orm.js';
import { createRecordingTarget, type RecordingTarget } from './recording-target.js';

/**
 * The poll models in two versions, for the integration suites: v2 renames the text fields and
 * shows inactive users, which v1 hides. (The example app's own strategy is examples/poll/strategy.ts.)
 */
export function createTestPollStrategy(orm: MikroOrmLike) {
  return defineStrategy({
    versions: ['v1', 'v2'],
    models: [
      fromMikroOrm(orm, Question, { versions: { v1: {}, v2: { rename: { questionText: 'text' } } } }),
      fromMikroOrm(orm, Choice, { versions: { v1: {}, v2: { rename: { choiceText: 'text' } } } }),
      fromMikroOrm(orm, User, {
        versions: { v1: { exclude: ['active'], visible: (user) => user.active }, v2: {} },
      }),
    ],
  });
}

/** The models of {@link createTestPollStrategy}. */
export const POLL_MODELS = ['Question', 'Choice', 'User'] as const;
/** The versions of {@link createTestPollStrategy}. */
export const POLL_VERSIONS = ['v1', 'v2'] as const;
type PollModel = (typeof POLL_MODELS)[number];
type PollRecords = ReturnType<typeof createTestPollStrategy> extends Strategy<infer R> ? R : never;
type Snapshot = Record<string, (object | null)[]>;

/** The data each test starts from: 3 questions × 3 choices, 8 users, 3 voters per choice. */
export const SMALL_POLL: SeedPollOptions = {
  questions: 3,
  choicesPerQuestion: 3,
  users: 8,
  votesPerChoice: 3,
};

/** Creates the fixture; call `reset()` before each test and `close()` after all. */
export async function createPollCacheFixture(
  database: TestDatabase,
  label: string,
  subscriberOptions: CacheSubscriberOptions = {},
) {
  let cache: InstanceCache<PollRecords> | undefined;
  let target: RecordingTarget = createRecordingTarget();
  let db: TestOrm | undefined;
  const subscriber = new CacheSubscriber(() => target, subscriberOptions);
  db = await createTestOrm(database, { label, subscribers: [subscriber] });
  const orm = db.orm;
  const strategy = createTestPollStrategy(orm);
  let seeded: SeededPoll | undefined;

  /** Every pk now in the database, plus `extra` (deleted ones, to read their "not found"). */
  const allPks = async (extra: Partial<Record<PollModel, Pk[]>> = {}) => {
    const em = orm.em.fork();
    const ids = async (entity: typeof Question | typeof Choice | typeof User, model: PollModel) => {
      const rows = (await em.find(entity as typeof Question, {}, { fields: ['id'] })) as { id: number }[];
      return [...new Set([...rows.map((row) => row.id), ...(extra[model] ?? [])])].sort(
        (a, b) => Number(a) - Number(b),
      );
    };
    return {
      Question: await ids(Question, 'Question'),
      Choice: await ids(Choice, 'Choice'),
      User: await ids(User, 'User'),
    };
  };

  const fixture = {
    orm,
    strategy,
    get sql() {
      return db!.sql;
    },
    get cache(): InstanceCache<PollRecords> {
      if (!cache) throw new Error('call reset() first');
      return cache;
    },
    /** The recording target between the subscriber and the cache. */
    get target(): RecordingTarget {
      return target;
    },
    get seeded(): SeededPoll {
      if (!seeded) throw new Error('call reset() first');
      return seeded;
    },
    allPks,
    /** Fresh data, an empty cache, a new recording target; seeding itself is not sent to any cache. */
    async reset(options: SeedPollOptions = SMALL_POLL) {
      target = createRecordingTarget();
      await orm.schema.clearDatabase();
      seeded = await seedPoll(orm.em.fork(), options);
      cache = new InstanceCache(strategy);
      target = createRecordingTarget({ next: cache, lastStatement: () => db!.sql.statements.at(-1) });
      db!.sql.reset();
    },
    /** Reads the given pks (default: everything in the database) of every model in every version. */
    async readAll(pks?: Record<PollModel, Pk[]>): Promise<Snapshot> {
      const all = pks ?? (await allPks());
      const out: Snapshot = {};
      for (const model of POLL_MODELS) {
        for (const version of POLL_VERSIONS) {
          out[`${model}@${version}`] = await fixture.cache.getInstances(model, all[model], { version });
        }
      }
      return out;
    },
    /**
     * What the cache should serve for these pks: each model's load + serialize on a fresh fork,
     * passed through the record codec (as a cached record is), `null` for missing or hidden.
     */
    async freshAll(pks: Record<PollModel, Pk[]>): Promise<Snapshot> {
      const out: Snapshot = {};
      for (const model of POLL_MODELS) {
        for (const version of POLL_VERSIONS) {
          const resolved = strategy.resolve(model, version);
          const loaded = new Map<Pk, unknown>();
          for (const entity of await resolved.load(pks[model], { model, version }))
            loaded.set(resolved.pkOf(entity), entity);
          out[`${model}@${version}`] = pks[model].map((pk) => {
            const record = loaded.has(pk) ? resolved.serialize!(loaded.get(pk)) : null;
            return record === null ? null : resolved.codec.decode(resolved.codec.encode(record));
          });
        }
      }
      return out;
    },
    async close() {
      await db?.close();
      db = undefined;
    },
  };
  return fixture;
}

/** The fixture type. */
export type PollCacheFixture = Awaited<ReturnType<typeof createPollCacheFixture>>;
