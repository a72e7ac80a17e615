import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ApolloServerPluginCacheStats,
  type CacheStatsContext,
  cachedContext,
  countSqlQuery,
  createCachedResolvers,
  createGraphQLHttpHandler,
  graphqlRoute,
  type ResponseCacheStats,
  type RunningGraphQLServer,
  type StartGraphQLServerOptions,
  startGraphQLServer,
} from '../../src/apollo/index.js';
import { InstanceCache } from '../../src/index.js';
import { createPollDb, seedPoll } from '../support/poll-fixture.js';

// The HTTP layer and the stats plugin on real Apollo and real sockets.
const typeDefs = `#graphql
  type Query { hello: String! slow(ms: Int!): String! question(id: ID!): Q }
  type Q { id: ID! }
`;

function setup() {
  const { db, strategy } = createPollDb();
  seedPoll(db);
  const cache = new InstanceCache(strategy);
  const resolvers = {
    Query: {
      hello: () => {
        countSqlQuery();
        return 'world';
      },
      slow: async (_p: unknown, { ms }: { ms: number }) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return 'done';
      },
      question: createCachedResolvers<{ Question: { id: number } }, { loaders: object }>().byId('Question'),
    },
  };
  return { cache, resolvers };
}

async function post(url: string, query: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return {
    response,
    body: (await response.json()) as { data?: unknown; extensions?: { cache?: ResponseCacheStats } },
  };
}

describe('startGraphQLServer', () => {
  let running: RunningGraphQLServer | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  async function start(
    options: Partial<Omit<StartGraphQLServerOptions<CacheStatsContext>, 'versions'>> = {},
  ) {
    const { cache, resolvers } = setup();
    running = await startGraphQLServer({
      port: 0,
      countSql: true,
      versions: ['v1', 'v2'].map((version) => ({
        path: `/graphql/${version}`,
        server: { typeDefs, resolvers },
        context: cachedContext(cache, { version }),
      })),
      ...options,
    });
    return running;
  }

  it('serves each version at its own path (trailing slash tolerated) and reports totals', async () => {
    const server = await start();
    expect(server.urls).toEqual([`${server.origin}/graphql/v1`, `${server.origin}/graphql/v2`]);
    for (const url of [server.urls[0]!, `${server.urls[1]!}/`]) {
      const { body } = await post(url, '{ hello question(id: 1) { id } }', { 'x-cache-stats': '1' });
      expect(body.data).toEqual({ hello: 'world', question: { id: '1' } });
      expect(body.extensions?.cache).toMatchObject({ sql: 1, misses: 1 });
    }
    expect(server.stats).toMatchObject({ requests: 2, sql: 2, misses: 2 });
  });

  it('disables Apollo cache control by default; cacheControl: true brings back its header', async () => {
    const off = await start();
    expect((await post(off.urls[0]!, '{ hello }')).response.headers.get('cache-control')).toBeNull();
    await off.stop();
    const on = await start({ cacheControl: true });
    expect((await post(on.urls[0]!, '{ hello }')).response.headers.get('cache-control')).toBe('no-store');
  });

  it('stop() lets an in-flight request finish, then refuses connections; a second stop() is a no-op', async () => {
    const server = await start();
    const inFlight = post(server.urls[0]!, '{ slow(ms: 300) }');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await Promise.all([server.stop(), server.stop()]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await inFlight).body.data).toEqual({ slow: 'done' });
    await expect(post(server.urls[0]!, '{ hello }')).rejects.toThrow();
  });

  it('rejects (instead of crashing) when the port is taken', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => blocker.once('listening', resolve));
    const { port } = blocker.address() as AddressInfo;
    await expect(start({ port })).rejects.toThrow(/EADDRINUSE/);
    running = undefined;
    blocker.close();
  });
});

describe('ApolloServerPluginCacheStats', () => {
  async function serve(plugin: ReturnType<typeof ApolloServerPluginCacheStats>, countSql = true) {
    const { cache, resolvers } = setup();
    const apollo = new ApolloServer<CacheStatsContext>({ typeDefs, resolvers, plugins: [plugin] });
    await apollo.start();
    const handler = createGraphQLHttpHandler([graphqlRoute('/graphql', apollo, cachedContext(cache))], {
      countSql,
    });
    const http = createServer((req, res) => void handler(req, res)).listen(0, '127.0.0.1');
    await new Promise((resolve) => http.once('listening', resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`;
    return {
      url,
      async close() {
        http.close();
        await apollo.stop();
      },
    };
  }

  it('reports only on requests with the header by default, and feeds onResponse and totals always', async () => {
    const seen: ResponseCacheStats[] = [];
    const plugin = ApolloServerPluginCacheStats({ onResponse: (stats) => seen.push(stats) });
    const server = await serve(plugin);
    try {
      expect((await post(server.url, '{ hello }')).body.extensions).toBeUndefined();
      expect((await post(server.url, '{ hello }', { 'x-cache-stats': '0' })).body.extensions).toBeUndefined();
      const shown = await post(server.url, '{ question(id: 2) { id } }', { 'x-cache-stats': '1' });
      expect(shown.body.extensions?.cache).toEqual({
        sql: 0,
        storeRoundTrips: 3,
        memoHits: 0,
        hits: 0,
        misses: 1,
        staleRejected: 0,
      });
      expect(seen.map((s) => s.sql)).toEqual([1, 1, 0]);
      expect(plugin.totals).toMatchObject({ requests: 3, sql: 2, misses: 1, storeRoundTrips: 3 });
    } finally {
      await server.close();
    }
  });

  it('enabled: true reports on every response; header: false ignores the header', async () => {
    const always = await serve(ApolloServerPluginCacheStats({ enabled: true }));
    try {
      expect((await post(always.url, '{ hello }')).body.extensions?.cache?.sql).toBe(1);
    } finally {
      await always.close();
    }
    const never = await serve(ApolloServerPluginCacheStats({ header: false }));
    try {
      expect((await post(never.url, '{ hello }', { 'x-cache-stats': '1' })).body.extensions).toBeUndefined();
    } finally {
      await never.close();
    }
  });

  it('without the SQL scope (countSql: false) countSqlQuery() counts nothing', async () => {
    const server = await serve(ApolloServerPluginCacheStats({ enabled: true }), false);
    try {
      expect((await post(server.url, '{ hello }')).body.extensions?.cache?.sql).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('checks its options', () => {
    expect(() => ApolloServerPluginCacheStats({ header: '' })).toThrow(
      'ApolloServerPluginCacheStats: options.header must be a header name or false, got ',
    );
    expect(() => createGraphQLHttpHandler([], { maxBodyBytes: 0 })).toThrow(
      /maxBodyBytes must be a positive integer/,
    );
  });
});
