import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { type ServeVersionsOptions, serveVersions, type VersionsServer } from '../../examples/poll/http.js';
import {
  ApolloServerPluginCacheStats,
  type CacheStatsContext,
  type CacheStatsPlugin,
  cachedContext,
  countSqlQuery,
  createCachedResolvers,
  type ResponseCacheStats,
  sqlCounterMiddleware,
} from '../../src/apollo/index.js';
import { InstanceCache } from '../../src/index.js';
import { createPollDb, seedPoll } from '../support/poll-fixture.js';

// Serving several schema versions with express 5 and Apollo's express integration, and the stats
// plugin, on real Apollo and real sockets.
const typeDefs = `#graphql
  type Query { hello: String! slow: String! question(id: ID!): Q }
  type Q { id: ID! }
`;

/** A gate the `slow` resolver waits on: `entered` resolves when it is waiting; `open()` lets it finish. */
function createGate() {
  let open!: () => void;
  let entered!: () => void;
  const gate = {
    entered: new Promise<void>((resolve) => {
      entered = resolve;
    }),
    opened: new Promise<void>((resolve) => {
      open = resolve;
    }),
    open: () => open(),
    arrive: () => entered(),
  };
  return gate;
}

function setup(gate = createGate()) {
  const { db, strategy } = createPollDb();
  seedPoll(db);
  const cache = new InstanceCache(strategy);
  const resolvers = {
    Query: {
      hello: () => {
        countSqlQuery();
        return 'world';
      },
      slow: async () => {
        gate.arrive();
        await gate.opened;
        return 'done';
      },
      question: createCachedResolvers<{ Question: { id: number } }, { loaders: object }>().byId('Question'),
    },
  };
  return { cache, resolvers, gate };
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

/** Resolves when `server.close()` is first called: the moment it stops accepting connections. */
function whenClosing(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const close = server.close.bind(server);
    server.close = ((callback?: (error?: Error) => void) => {
      resolve();
      return close(callback);
    }) as Server['close'];
  });
}

describe('serveVersions (examples/poll/http.ts): several versions on one port with express 5', () => {
  let running: VersionsServer<CacheStatsContext> | undefined;
  let plugins: CacheStatsPlugin<CacheStatsContext>[] = [];
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  async function start(
    options: Partial<Omit<ServeVersionsOptions<CacheStatsContext>, 'versions'>> = {},
    gate = createGate(),
  ) {
    const { cache, resolvers } = setup(gate);
    plugins = [];
    running = await serveVersions<CacheStatsContext>({
      port: 0,
      countSql: true,
      versions: ['v1', 'v2'].map((version) => {
        const stats = ApolloServerPluginCacheStats();
        plugins.push(stats);
        return {
          path: `/graphql/${version}`,
          server: { typeDefs, resolvers, plugins: [stats] },
          context: cachedContext(cache, { version }),
        };
      }),
      ...options,
    });
    return running;
  }

  it('serves each version at its own path (trailing slash tolerated), with per-request SQL counts', async () => {
    const server = await start();
    expect(server.urls).toEqual([`${server.origin}/graphql/v1`, `${server.origin}/graphql/v2`]);
    for (const url of [server.urls[0]!, `${server.urls[1]!}/`]) {
      const { body } = await post(url, '{ hello question(id: 1) { id } }', { 'x-cache-stats': '1' });
      expect(body.data).toEqual({ hello: 'world', question: { id: '1' } });
      expect(body.extensions?.cache).toMatchObject({ sql: 1, misses: 1 });
    }
    expect(plugins.map((plugin) => plugin.totals.requests)).toEqual([1, 1]);
    expect(plugins[0]!.totals).toMatchObject({ sql: 1, misses: 1 });
  });

  it('disables Apollo cache control by default; cacheControl: true brings back its header', async () => {
    const off = await start();
    expect((await post(off.urls[0]!, '{ hello }')).response.headers.get('cache-control')).toBeNull();
    await off.stop();
    const on = await start({ cacheControl: true });
    expect((await post(on.urls[0]!, '{ hello }')).response.headers.get('cache-control')).toBe('no-store');
  });

  it('stop() lets an in-flight request finish while it refuses new connections; a second stop() is a no-op', async () => {
    const gate = createGate();
    const server = await start({}, gate);
    const closing = whenClosing(server.httpServer);
    const inFlight = post(server.urls[0]!, '{ slow }');
    await gate.entered; // the request is inside its resolver
    const stopped = Promise.all([server.stop(), server.stop()]);
    await closing; // the drain plugin has closed the listener
    await expect(post(server.urls[0]!, '{ hello }')).rejects.toThrow();
    gate.open();
    expect((await inFlight).body.data).toEqual({ slow: 'done' });
    await stopped;
    expect(server.httpServer.listening).toBe(false);
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
  // The README's express wiring for one version, inline.
  async function serve(pluginList: ApolloServerPlugin<CacheStatsContext>[], countSql = true) {
    const { cache, resolvers } = setup();
    const apollo = new ApolloServer<CacheStatsContext>({ typeDefs, resolvers, plugins: pluginList });
    await apollo.start();
    const app = express();
    app.use(
      '/graphql',
      express.json(),
      ...(countSql ? [sqlCounterMiddleware()] : []),
      expressMiddleware(apollo, { context: cachedContext(cache) }),
    );
    const http = createServer(app).listen(0, '127.0.0.1');
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
    const server = await serve([plugin]);
    try {
      expect((await post(server.url, '{ hello }')).body.extensions).toBeUndefined();
      expect((await post(server.url, '{ hello }', { 'x-cache-stats': '0' })).body.extensions).toBeUndefined();
      const shown = await post(server.url, '{ question(id: 2) { id } }', { 'x-cache-stats': '1' });
      expect(shown.body.extensions?.cache).toEqual({
        sql: 0,
        storeRoundTrips: 3,
        memoHits: 0,
        hits: 0,
        l1Hits: 0,
        misses: 1,
        listHits: 0,
        listMisses: 0,
        staleRejected: 0,
      });
      expect(seen.map((s) => s.sql)).toEqual([1, 1, 0]);
      expect(plugin.totals).toMatchObject({ requests: 3, sql: 2, misses: 1, storeRoundTrips: 3 });
    } finally {
      await server.close();
    }
  });

  it('enabled: true reports on every response; header: false ignores the header', async () => {
    const always = await serve([ApolloServerPluginCacheStats({ enabled: true })]);
    try {
      expect((await post(always.url, '{ hello }')).body.extensions?.cache?.sql).toBe(1);
    } finally {
      await always.close();
    }
    const never = await serve([ApolloServerPluginCacheStats({ header: false })]);
    try {
      expect((await post(never.url, '{ hello }', { 'x-cache-stats': '1' })).body.extensions).toBeUndefined();
    } finally {
      await never.close();
    }
  });

  it('added twice to one server, it reports and counts each request once (the first instance does)', async () => {
    const seen: ResponseCacheStats[] = [];
    const first = ApolloServerPluginCacheStats({ enabled: true, onResponse: (stats) => seen.push(stats) });
    const second = ApolloServerPluginCacheStats({ enabled: true, onResponse: (stats) => seen.push(stats) });
    const server = await serve([first, second]);
    try {
      const { body } = await post(server.url, '{ hello question(id: 1) { id } }');
      expect(body.extensions?.cache).toMatchObject({ sql: 1, misses: 1 });
      await post(server.url, '{ hello }');
      expect(seen).toHaveLength(2);
      expect(first.totals).toMatchObject({ requests: 2, sql: 2, misses: 1 });
      expect(second.totals.requests).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('without the SQL scope (no sqlCounterMiddleware) countSqlQuery() counts nothing', async () => {
    const server = await serve([ApolloServerPluginCacheStats({ enabled: true })], false);
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
  });
});
