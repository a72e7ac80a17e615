/**
 * The poll example's config for the operator CLI (`graphql-cached-instances`): the cache exactly
 * as the example server builds it (same strategy, same Redis namespace), and MikroORM to list
 * pks for `warm`.
 *
 *   DATABASE_URL=postgresql://… REDIS_URL=redis://127.0.0.1:6379 \
 *     npx tsx src/cli/main.ts --config examples/poll/cache.config.ts warm
 *
 * - `DATABASE_URL`: the `postgres://` database `npm start` serves (its schema must exist: start
 *   the server once), or a SQLite file path; a SQLite file gets the poll schema and sample data
 *   when empty. Default: `poll.sqlite` in the working directory.
 * - `REDIS_URL`: the Redis the servers share. Without it the cache is in this process's memory,
 *   which the CLI says: `warm` then only exercises the loads, and `inspect` finds nothing.
 * - `REDIS_NAMESPACE`: the key namespace. Default `poll`, as the example server.
 *
 * With `REDIS_URL`, `worker` runs the cascades of servers started with `cascade: 'queue'`
 * (BullMQ key prefix `QUEUE_PREFIX`, default `bull`).
 */
import type { MikroORM } from '@mikro-orm/core';
import { createMikroOrmPkSource, defineCliConfig } from '../../src/cli/index.js';
import { InstanceCache } from '../../src/index.js';
import { CacheJournal } from '../../src/mikro-orm/index.js';
import { createRedisStore } from '../../src/redis.js';
import { Question } from './entities.js';
import { createPollOrm } from './orm.js';
import { seedPoll } from './seed.js';
import { createPollStrategy } from './strategy.js';

async function openDatabase(url: string): Promise<MikroORM> {
  if (/^postgres(ql)?:\/\//.test(url)) return createPollOrm({ database: url, fresh: false });
  // A SQLite file of the CLI's own (the example server serves SQLite in memory only): created
  // and seeded as `npm start` seeds, so that the commands have rows to work on.
  const orm = await createPollOrm({ database: url, fresh: false });
  await orm.schema.updateSchema();
  if ((await orm.em.fork().count(Question)) === 0) {
    await seedPoll(orm.em.fork(), { questions: 50, choicesPerQuestion: 4, users: 200, votesPerChoice: 5 });
  }
  return orm;
}

export default defineCliConfig(async () => {
  const orm = await openDatabase(process.env.DATABASE_URL ?? 'poll.sqlite');
  try {
    const store = process.env.REDIS_URL
      ? await createRedisStore({
          url: process.env.REDIS_URL,
          namespace: process.env.REDIS_NAMESPACE ?? 'poll',
        })
      : undefined;
    const cache = new InstanceCache(createPollStrategy(orm), store ? { store } : {});
    return {
      cache,
      pks: createMikroOrmPkSource(orm),
      // For `worker`: the queue servers started with cascade: 'queue' add jobs to, and the journal.
      ...(process.env.REDIS_URL
        ? { queue: { connection: process.env.REDIS_URL, prefix: process.env.QUEUE_PREFIX ?? 'bull' } }
        : {}),
      journal: new CacheJournal(orm, cache),
      close: () => orm.close(true),
    };
  } catch (error) {
    await orm.close(true);
    throw error;
  }
});
