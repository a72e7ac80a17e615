/**
 * A small program on the INSTALLED package, run by ../pack-install.test.ts inside a temporary app
 * that installed the packed tarball and its peers: every entry point imported by its public name
 * and used as the README shows. It prints one JSON line with what it saw; the test asserts on it.
 *
 * Services: REDIS_URL and POSTGRES_URL, when set, point at a Redis namespace and a Postgres
 * database of this run's own (the test chooses the names); both are removed before exit.
 */
import { ApolloServer } from '@apollo/server';
import {
  createLoaders,
  createStats,
  defineModel,
  defineStrategy,
  errorCodes,
  InstanceCache,
} from 'graphql-cached-instances';
import {
  ApolloServerPluginCacheStats,
  cachedContext,
  createCachedResolvers,
} from 'graphql-cached-instances/apollo';
import { CacheSubscriber, fromMikroOrm } from 'graphql-cached-instances/mikro-orm';
import { createRedisStore } from 'graphql-cached-instances/redis';

const out = { node: process.version };

/** An in-memory "database" and a hand-written model over it: what the core needs, nothing else. */
function memoryModel() {
  const rows = new Map([
    [1, { id: 1, text: 'first', tagIds: [3, 2] }],
    [2, { id: 2, text: 'second', tagIds: [] }],
  ]);
  const calls = [];
  const Question = defineModel('Question', {
    load: (pks) => {
      calls.push([...pks]);
      return pks.map((pk) => rows.get(pk)).filter(Boolean);
    },
    serialize: (row) => ({ id: row.id, text: row.text, tagIds: [...row.tagIds].sort() }),
    invalidate: () => [],
  });
  return { rows, calls, strategy: defineStrategy({ versions: ['v1'], models: [Question] }) };
}

/** get, get again (hits), change the row, update, get: the README's core loop. */
async function coreProgram(store) {
  const { rows, calls, strategy } = memoryModel();
  const cache = new InstanceCache(strategy, store ? { store } : {});
  const stats = createStats();
  const first = await cache.getInstances('Question', [1, 2, 3], { stats });
  const again = await cache.getInstances('Question', [2, 1], { stats });
  rows.get(1).text = 'changed';
  const summary = await cache.update([{ model: 'Question', pk: 1 }]);
  const loaders = createLoaders(cache, { version: 'v1' });
  const after = await loaders.Question.load(1);
  return { cache, result: { first, again, loadCalls: calls, summary, after, hits: stats.hits } };
}

out.core = (await coreProgram()).result;
out.errorCodes = Object.keys(errorCodes).length;

// Apollo: a query resolved from the cache through cachedContext and the resolver builders.
{
  const { strategy } = memoryModel();
  const cache = new InstanceCache(strategy);
  const cached = createCachedResolvers();
  const server = new ApolloServer({
    typeDefs: 'type Query { question(id: ID!): Question } type Question { id: ID! text: String! }',
    resolvers: { Query: { question: cached.byId('Question') }, Question: cached.type('Question', {}) },
    plugins: [ApolloServerPluginCacheStats({ enabled: true })],
  });
  await server.start();
  const context = cachedContext(cache, { version: 'v1' });
  const ask = async () => {
    const response = await server.executeOperation(
      { query: '{ question(id: "2") { id text } }' },
      { contextValue: await context() },
    );
    return response.body.kind === 'single' ? response.body.singleResult : null;
  };
  out.apollo = { cold: await ask(), warm: await ask() };
  await server.stop();
}

// Redis: the same loop on a private namespace, then every key of it dropped.
if (process.env.REDIS_URL) {
  const namespace = process.env.GCI_TEST_NAMESPACE;
  const store = await createRedisStore({ url: process.env.REDIS_URL, namespace });
  const { cache, result } = await coreProgram(store);
  const dropped = await cache.dropVersion('v1');
  let left = 0;
  for await (const batch of store.client.scanIterator({ MATCH: `${namespace}::*`, COUNT: 500 })) {
    left += Array.isArray(batch) ? batch.length : 1;
  }
  await cache.close();
  await store.close();
  out.redis = { ...result, dropped, left };
}

// MikroORM on Postgres: derived models, the subscriber, a write seen after its commit.
if (process.env.POSTGRES_URL) {
  const { defineEntity, p } = await import('@mikro-orm/core');
  const { MikroORM } = await import('@mikro-orm/postgresql');
  const Author = defineEntity({
    name: 'Author',
    properties: {
      id: p.integer().primary().autoincrement(),
      name: p.string(),
      books: () => p.oneToMany(Book).mappedBy('author'),
    },
  });
  const Book = defineEntity({
    name: 'Book',
    properties: {
      id: p.integer().primary().autoincrement(),
      title: p.string(),
      author: () => p.manyToOne(Author),
    },
  });
  let cache;
  const orm = await MikroORM.init({
    clientUrl: process.env.POSTGRES_URL,
    entities: [Author, Book],
    subscribers: [new CacheSubscriber(() => cache)],
    debug: false,
  });
  try {
    await orm.schema.ensureDatabase();
    await orm.schema.refreshDatabase();
    const em = orm.em.fork();
    const author = em.create(Author, { name: 'Ann' });
    em.create(Book, { title: 'One', author });
    await em.flush();
    const strategy = defineStrategy({
      versions: ['v1'],
      models: [
        fromMikroOrm(orm, Author, { name: 'Author', computed: { initial: { value: (a) => a.name[0] } } }),
        fromMikroOrm(orm, Book, { name: 'Book' }),
      ],
    });
    cache = new InstanceCache(strategy);
    const before = (await cache.getInstances('Author', [author.id]))[0];
    const write = orm.em.fork();
    write.create(Book, { title: 'Two', author: write.getReference(Author, author.id) });
    await write.flush();
    const after = (await cache.getInstances('Author', [author.id]))[0];
    out.mikroOrm = { before, after };
  } finally {
    await orm.schema.dropDatabase().catch(() => {});
    await orm.close(true);
  }
}

console.log(JSON.stringify(out));
