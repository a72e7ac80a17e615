/**
 * A poll "server" process that dies between COMMIT and its refresh: the child half of
 * test/durability/crash-after-commit.test.ts.
 *
 * argv: <database: sqlite file or postgres URL> <redis URL> <namespace> <stop point>
 *   - `before-refresh`: the cascade is handed over after COMMIT and never starts;
 *   - `after-mark`: the refresh began (its marks landed in Redis) and never loads nor fills.
 * At the stop point the process tells its parent `{ stopped: <point> }` and waits forever, to be
 * killed with SIGKILL. Messages: `{ rename: { id, text } }` renames a question through the ORM.
 */

import { Question } from '../../../examples/poll/entities.js';
import { createPollOrm } from '../../../examples/poll/orm.js';
import { createPollStrategy } from '../../../examples/poll/strategy.js';
import { type CacheStore, InstanceCache } from '../../../src/index.js';
import { CacheJournal, CacheSubscriber } from '../../../src/mikro-orm/index.js';
import { createRedisStore } from '../../../src/redis.js';

const [database, redisUrl, namespace, stopAt] = process.argv.slice(2) as [
  string,
  string,
  string,
  'before-refresh' | 'after-mark',
];

const forever = new Promise<never>(() => {});
function stop(): Promise<never> {
  process.send!({ stopped: stopAt });
  return forever;
}

const redis = await createRedisStore({ url: redisUrl, namespace });
// The real Redis store; at `after-mark` it stops right after the refresh's marks landed.
const store: CacheStore =
  stopAt === 'after-mark'
    ? {
        bus: redis.bus,
        getMany: (keys) => redis.getMany(keys),
        setMany: (entries) => redis.setMany(entries),
        deleteMany: (keys) => redis.deleteMany(keys),
        async apply(ops) {
          const results = await redis.apply!(ops);
          if (ops.some((op) => op.type === 'mark')) await stop();
          return results;
        },
      }
    : redis;

const orm = await createPollOrm({ database, fresh: false });
const cache = new InstanceCache(createPollStrategy(orm), { store });
const journal = new CacheJournal(orm, cache);
const subscriber = new CacheSubscriber(stopAt === 'before-refresh' ? { update: () => stop() } : cache, {
  journal,
});
orm.em.getEventManager().registerSubscriber(subscriber);

process.on('message', async (message: { rename?: { id: number; text: string } }) => {
  if (!message.rename) return;
  const em = orm.em.fork();
  const question = await em.findOneOrFail(Question, message.rename.id);
  question.questionText = message.rename.text;
  await em.flush();
  // Not reached: the refresh stops (and the parent kills this process) before flush resolves.
  process.send!({ flushed: true });
});
process.send!({ ready: true });
