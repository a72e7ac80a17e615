import { ApolloServer } from '@apollo/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveVersions, type VersionsServer } from '../../examples/poll/http.js';
import {
  ApolloServerPluginCacheStats,
  type CacheStatsContext,
  cachedContext,
  countSqlQuery,
  createCachedResolvers,
  readableThrough,
} from '../../src/apollo/index.js';
import { InstanceCache, type Pk } from '../../src/index.js';
import { createPollDb, seedPoll } from '../support/poll-fixture.js';

// The resolver builders on real Apollo over HTTP, with the core's in-memory poll fixture as the
// database (no ORM): what the builders do is independent of where records are loaded from.
const typeDefs = `#graphql
  type Query {
    question(id: ID!): Question
    choice(id: ID!): Choice
    questions(first: Int, after: String): QuestionConnection!
    unknownModel(id: ID!): Question
    sqlProbe: Int!
  }
  type Question { id: ID! title: String! choices: [Choice!]! }
  type Choice { id: ID! text: String! question: Question voters(first: Int): [User!]! }
  type User { id: ID! username: String! }
  type QuestionConnection { nodes: [Question!]! edges: [QuestionEdge!]! pageInfo: PageInfo! }
  type QuestionEdge { cursor: String! node: Question! }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
`;

interface Records {
  Question: { id: number; text: string; choiceIds: number[] };
  Choice: { id: number; text: string; questionId: number; voterIds: number[] };
  User: { id: number; username: string };
}
interface Base {
  hidden: ReadonlySet<number>;
}

describe('createCachedResolvers on Apollo over HTTP', () => {
  const { db, strategy } = createPollDb();
  seedPoll(db);
  for (let id = 3; id <= 12; id += 1) db.questions.set(id, { id, text: `Q${id}`, pubDate: new Date(0) });
  const cache = new InstanceCache(strategy);
  type Context = Base & CacheStatsContext & { loaders: object };
  let server: VersionsServer<Context>;
  let checks = 0;

  // An asynchronous check, as one that asks an authorization service would be.
  const cached = createCachedResolvers<Records, Base & { loaders: object }>({
    canRead: {
      Question: async (question, context) => {
        checks += 1;
        return !context.hidden.has(question.id);
      },
    },
  });

  beforeAll(async () => {
    const context = cachedContext(
      cache,
      async ({ req }: { req: { headers: Record<string, string | string[] | undefined> } }) => ({
        hidden: new Set(
          String(req.headers['x-hide'] ?? '')
            .split(',')
            .filter(Boolean)
            .map(Number),
        ),
      }),
      { version: 'v1' },
    );
    server = await serveVersions<Context>({
      port: 0,
      countSql: true,
      versions: [
        {
          path: '/graphql',
          context,
          server: {
            plugins: [ApolloServerPluginCacheStats<Context>({ enabled: true })],
            typeDefs,
            resolvers: {
              Query: {
                question: cached.byId('Question'),
                choice: cached.byId('Choice'),
                questions: cached.list('Question', {
                  maxFirst: 5,
                  defaultFirst: 3,
                  // Ordered by pk; no filtering in "SQL": canRead alone hides records here.
                  pks: async ({ limit, after }) => {
                    countSqlQuery();
                    return [...db.questions.keys()]
                      .sort((a, b) => a - b)
                      .filter((id) => after === null || id > (after as number))
                      .slice(0, limit) as Pk[];
                  },
                }),
                unknownModel: (_p: unknown, args: { id: string }, ctx: { loaders: object }) =>
                  createCachedResolvers<{ Nope: object }, { loaders: object }>().load(ctx, 'Nope', args.id),
                sqlProbe: () => {
                  countSqlQuery(2);
                  return 1;
                },
              },
              Question: cached.type('Question', {
                title: 'text',
                choices: cached.related('Choice', 'choiceIds'),
              }),
              Choice: cached.type('Choice', {
                question: cached.relatedOne('Question', 'questionId'),
                voters: cached.related('User', 'voterIds', { firstArgument: 'first', maxFirst: 10 }),
              }),
            },
          },
        },
      ],
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function gql(query: string, hide: number[] = []) {
    const response = await fetch(server.urls[0]!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hide': hide.join(',') },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as {
      data?: Record<string, unknown>;
      errors?: { message: string; extensions: { code: string } }[];
      extensions: { cache: Record<string, number> };
    };
  }

  it("serves aliases, related lists and related pks from the version's records", async () => {
    const body = await gql(
      '{ question(id: 1) { id title choices { id text question { id } voters { username } } } }',
    );
    expect(body.data).toEqual({
      question: {
        id: '1',
        title: 'Best color?',
        choices: [
          {
            id: '1',
            text: 'Red',
            question: { id: '1' },
            voters: [{ username: 'user1' }, { username: 'user2' }],
          },
          { id: '2', text: 'Blue', question: { id: '1' }, voters: [] },
        ],
      },
    });
  });

  it('applies an asynchronous canRead on the root, nested and list paths', async () => {
    checks = 0;
    const body = await gql(
      '{ question(id: 1) { id } choice(id: 3) { question { id } } questions(first: 5) { nodes { id } edges { node { id } } } }',
      [1, 2, 4],
    );
    expect(body.data).toEqual({
      question: null,
      choice: { question: null },
      questions: { nodes: [{ id: '3' }, { id: '5' }], edges: [{ node: { id: '3' } }, { node: { id: '5' } }] },
    });
    expect(checks).toBe(1 + 1 + 5);
  });

  it('pages past hidden rows: the end cursor is the last row fetched, readable or not', async () => {
    const first = await gql(
      '{ questions(first: 2) { nodes { id } pageInfo { hasNextPage endCursor } } }',
      [2],
    );
    const page = first.data!.questions as {
      nodes: { id: string }[];
      pageInfo: { hasNextPage: boolean; endCursor: string };
    };
    expect(page.nodes).toEqual([{ id: '1' }]);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const next = await gql(
      `{ questions(first: 2, after: "${page.pageInfo.endCursor}") { nodes { id } } }`,
      [2],
    );
    expect(next.data).toEqual({ questions: { nodes: [{ id: '3' }, { id: '4' }] } });
  });

  it('a pk cursor of the wrong type for the model is BAD_USER_INPUT, not a query error', async () => {
    const stringCursor = Buffer.from(JSON.stringify('abc')).toString('base64url');
    const body = await gql(`{ questions(first: 2, after: "${stringCursor}") { nodes { id } } }`);
    expect(body.errors?.[0]).toMatchObject({
      message: `Invalid cursor "${stringCursor}": it does not belong to this list; pass an endCursor this list returned`,
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const numericCursor = Buffer.from(JSON.stringify(3)).toString('base64url');
    const ok = await gql(`{ questions(first: 1, after: "${numericCursor}") { nodes { id } } }`);
    expect(ok.data).toEqual({ questions: { nodes: [{ id: '4' }] } });
  });

  it('uses defaultFirst when first is absent, and rejects first above maxFirst', async () => {
    const body = await gql('{ questions { nodes { id } } }');
    expect((body.data!.questions as { nodes: unknown[] }).nodes).toHaveLength(3);
    const tooMany = await gql('{ questions(first: 6) { nodes { id } } }');
    expect(tooMany.errors?.[0]).toMatchObject({
      message: 'Invalid page size: first must be an integer from 0 to 5, got 6',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('counts countSqlQuery() calls made anywhere in the request into extensions.cache.sql', async () => {
    const body = await gql('{ sqlProbe questions(first: 1) { nodes { id } } }');
    expect(body.extensions.cache.sql).toBe(3);
  });

  it('voters(first: N) reads N pks, and more only when some are hidden', async () => {
    // Choice 2 gets voters 4–9; 5 and 6 are inactive (hidden).
    for (let id = 4; id <= 9; id += 1) {
      db.users.set(id, { id, username: `user${id}`, active: id !== 5 && id !== 6, groupId: null });
      db.vote(2, id);
    }
    await cache.invalidate('Choice', [2]);
    const body = await gql('{ choice(id: 2) { voters(first: 3) { id } } }');
    expect(body.data).toEqual({ choice: { voters: [{ id: '4' }, { id: '7' }, { id: '8' }] } });
    // The choice, then users 4, 5, 6 (two hidden), then the next (3 - 1) * 2 = 4 pks: 7, 8, 9.
    expect(body.extensions.cache).toMatchObject({ storeRoundTrips: 3, hits: 1 + 3 + 3, misses: 0 });
    const short = await gql('{ choice(id: 2) { voters(first: 1) { id } } }');
    expect(short.data).toEqual({ choice: { voters: [{ id: '4' }] } });
    expect(short.extensions.cache).toMatchObject({ storeRoundTrips: 2, hits: 1 + 1 });
    const all = await gql('{ choice(id: 2) { voters { id } } }');
    expect(all.data).toEqual({ choice: { voters: [4, 7, 8, 9].map((id) => ({ id: String(id) })) } });
    const none = await gql('{ choice(id: 2) { voters(first: 0) { id } } }');
    expect(none.data).toEqual({ choice: { voters: [] } });
    const tooMany = await gql('{ choice(id: 2) { voters(first: 11) { id } } }');
    expect(tooMany.errors?.[0]).toMatchObject({
      message: 'Invalid first: expected an integer from 0 to 10, got 11',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('names the fix when the context has no loader for a model', async () => {
    const body = await gql('{ unknownModel(id: 1) { id } }');
    expect(body.errors?.[0]?.message).toMatch(
      /the context has no loader for model "Nope"\. Build the context with cachedContext\(cache, …\)/,
    );
  });
});

describe('builder and context misuse fails at definition time', () => {
  const { strategy } = createPollDb();
  const cache = new InstanceCache(strategy);
  const cached = createCachedResolvers<Records, { loaders: object }>();

  it('rejects an unknown version, a non-cache and a bad base context at once', () => {
    expect(() => cachedContext(cache, { version: 'v9' })).toThrow(/Unknown cache version "v9"/);
    expect(() => cachedContext({} as never)).toThrow(/cachedContext\(cache, …\): expected an InstanceCache/);
    expect(() => cachedContext(cache, 42 as never)).toThrow(/baseContext must be a function/);
  });

  it("copies the base context as it is: prototype, getters (not called), symbols; the cache's fields on top", async () => {
    let forks = 0;
    const tag = Symbol('tag');
    class Base {
      readonly viewer = 'staff';
      get em() {
        forks += 1;
        return `em ${forks}`;
      }
    }
    const own = new Base();
    Object.defineProperty(own, 'lazy', { get: () => `lazy ${++forks}`, enumerable: true });
    (own as unknown as Record<symbol, number>)[tag] = 7;
    const context = (await cachedContext(cache, () => own, { version: 'v1' })()) as unknown as Base & {
      lazy: string;
      loaders: object;
      cacheVersion: string;
      [tag]: number;
    };
    expect(forks).toBe(0);
    expect(Object.getPrototypeOf(context)).toBe(Base.prototype);
    expect(context === (own as unknown)).toBe(false);
    expect(context.viewer).toBe('staff');
    expect(context[tag]).toBe(7);
    expect(context.em).toBe('em 1');
    expect(context.lazy).toBe('lazy 2');
    expect(context.cacheVersion).toBe('v1');
    expect(Object.keys(context.loaders).sort()).toEqual(['Choice', 'Question', 'User']);
  });

  it('checks list options and canRead', () => {
    const pks = async () => [];
    expect(() => cached.list('Question', { pks, defaultFirst: 50, maxFirst: 10 })).toThrow(
      'list("Question"): defaultFirst (50) exceeds maxFirst (10)',
    );
    expect(() => cached.list('Question', { pks, maxFirst: -1 })).toThrow(
      /options.maxFirst must be a non-negative integer/,
    );
    expect(() =>
      createCachedResolvers<Records, { loaders: object }>({ canRead: { Question: true as never } }),
    ).toThrow('createCachedResolvers: canRead.Question must be a function, got boolean');
  });

  it('binds per-request loaders to the version and keeps the base context', async () => {
    const byHeader = cachedContext(cache, async (version: string) => ({ asked: version }), {
      version: (v) => v,
    });
    const [a, b] = await Promise.all([byHeader('v1'), byHeader('v2')]);
    expect([a.cacheVersion, a.asked, b.cacheVersion]).toEqual(['v1', 'v1', 'v2']);
    expect(a.loaders.Question).not.toBe(b.loaders.Question);
    await expect(byHeader('v3')).rejects.toThrow(/Unknown cache version "v3"/);
    const plain = await cachedContext(cache)();
    expect(plain.cacheVersion).toBe(strategy.defaultVersion);
    expect(plain.sql).toEqual({ queries: 0 });
  });
});

describe('canRead through relations, and totalCount (on Apollo, executeOperation)', () => {
  const relTypeDefs = `#graphql
    type Query {
      question(id: ID!): Question
      choice(id: ID!): Choice
      choices(ids: [ID!]!): [Choice!]!
      questions(first: Int, after: String): QuestionConnection!
      uncounted(first: Int, after: String): QuestionConnection!
    }
    type Question { id: ID! choices: [Choice!]! }
    type Choice { id: ID! text: String! question: Question }
    type QuestionConnection { nodes: [Question!]! pageInfo: PageInfo! totalCount: Int }
    type PageInfo { hasNextPage: Boolean! endCursor: String }
  `;
  type Ctx = { hidden: ReadonlySet<number> } & CachedContextOf;
  type CachedContextOf = Awaited<ReturnType<ReturnType<typeof cachedContext>>>;

  function setupServer(canRead: Parameters<typeof createCachedResolvers<Records, Ctx>>[0]) {
    const { db, strategy } = createPollDb();
    seedPoll(db);
    const cache = new InstanceCache(strategy);
    const cached = createCachedResolvers<Records, Ctx>(canRead);
    const counts: unknown[] = [];
    const pks = async ({ limit }: { limit: number }) => [...db.questions.keys()].slice(0, limit) as Pk[];
    const apollo = new ApolloServer<Ctx>({
      typeDefs: relTypeDefs,
      resolvers: {
        Query: {
          question: cached.byId('Question'),
          choice: cached.byId('Choice'),
          choices: (_p: unknown, args: { ids: string[] }, ctx: Ctx) =>
            cached.loadMany(ctx, 'Choice', args.ids),
          questions: cached.list('Question', {
            pks,
            count: async ({ args }) => {
              counts.push(args);
              return db.questions.size;
            },
          }),
          uncounted: cached.list('Question', { pks }),
        },
        Question: cached.type('Question', { choices: cached.related('Choice', 'choiceIds') }),
        Choice: cached.type('Choice', { question: cached.relatedOne('Question', 'questionId') }),
      },
    });
    const context = cachedContext(cache, async (hidden: number[] = []) => ({ hidden: new Set(hidden) }), {
      version: 'v1',
    });
    let started: Promise<void> | undefined;
    return {
      db,
      counts,
      async run(query: string, hidden: number[] = []) {
        started ??= apollo.start();
        await started;
        const contextValue = (await context(hidden)) as Ctx;
        const response = await apollo.executeOperation({ query }, { contextValue });
        const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
        return { body: body!, stats: contextValue.cacheStats };
      },
      stop: () => apollo.stop(),
    };
  }
  const hideQuestions = {
    canRead: {
      Question: (question: Records['Question'], context: Ctx) => !context.hidden.has(question.id),
      Choice: readableThrough('Question', 'questionId'),
    },
  };

  it('a choice of a hidden question is hidden by id, in lists and nested; visible ones stay', async () => {
    const server = setupServer(hideQuestions);
    try {
      const { body } = await server.run(
        '{ a: choice(id: 1) { id } b: choice(id: 3) { id question { id } } choices(ids: [1, 2, 3]) { id } question(id: 1) { id } }',
        [1],
      );
      expect(body.errors).toBeUndefined();
      expect(body.data).toEqual({
        a: null,
        b: { id: '3', question: { id: '2' } },
        choices: [{ id: '3' }],
        question: null,
      });
      const shown = await server.run('{ choices(ids: [1, 2, 3]) { id } }');
      expect(shown.body.data).toEqual({ choices: [{ id: '1' }, { id: '2' }, { id: '3' }] });
    } finally {
      await server.stop();
    }
  });

  it('the related reads are batched: any number of choices costs ONE read of their questions', async () => {
    const server = setupServer(hideQuestions);
    try {
      for (let id = 10; id < 40; id += 1) {
        server.db.questions.set(id, { id, text: `Q${id}`, pubDate: new Date(0) });
        server.db.choices.set(id, { id, text: `C${id}`, questionId: id });
      }
      const ids = Array.from({ length: 30 }, (_, i) => i + 10);
      const cold = await server.run(`{ choices(ids: [${ids.join(',')}]) { id } }`, [11, 12]);
      expect((cold.body.data!.choices as unknown[]).length).toBe(28);
      // One read of the 30 choices, one read of their 30 questions: not 30 reads.
      expect(cold.stats).toMatchObject({ storeRoundTrips: 6, misses: 60 }); // per level: read, claim, fill
      const warm = await server.run(`{ choices(ids: [${ids.join(',')}]) { id } }`, [11, 12]);
      expect(warm.stats).toMatchObject({ storeRoundTrips: 2, hits: 60, misses: 0 });
      // Nested under their question, the questions are memoized: no read for the rule at all.
      const nested = await server.run('{ question(id: 20) { choices { id } } }');
      expect(nested.stats).toMatchObject({ storeRoundTrips: 2, memoHits: 1 });
    } finally {
      await server.stop();
    }
  });

  it('rules that read through each other in a cycle fail with a message naming the cycle', async () => {
    const server = setupServer({
      canRead: {
        Question: (question, _context, access) => access.canRead('Choice', question.choiceIds[0]),
        Choice: readableThrough('Question', 'questionId'),
      },
    });
    try {
      const { body } = await server.run('{ choice(id: 1) { id } }');
      expect(body.data).toEqual({ choice: null });
      expect(body.errors?.[0]?.message).toMatch(
        /canRead\.(Question|Choice) reads (Question|Choice) through more than 8 canRead rules; do the rules read through each other in a cycle\?/,
      );
    } finally {
      await server.stop();
    }
  });

  it('totalCount runs the count query only when selected (fragments too), beside the page', async () => {
    const server = setupServer({});
    try {
      const plain = await server.run('{ questions(first: 1) { nodes { id } } }');
      expect(plain.body.data).toEqual({ questions: { nodes: [{ id: '1' }] } });
      expect(server.counts).toHaveLength(0);
      const counted = await server.run('{ questions(first: 1) { totalCount nodes { id } } }');
      expect(counted.body.data).toEqual({ questions: { totalCount: 2, nodes: [{ id: '1' }] } });
      expect(server.counts).toEqual([{ first: 1 }]);
      const viaFragment = await server.run(
        '{ questions(first: 1) { ...Total } } fragment Total on QuestionConnection { total: totalCount }',
      );
      expect(viaFragment.body.data).toEqual({ questions: { total: 2 } });
      expect(server.counts).toHaveLength(2);
      const none = await server.run('{ uncounted(first: 1) { totalCount } }');
      expect(none.body.data).toEqual({ uncounted: { totalCount: null } });
    } finally {
      await server.stop();
    }
  });

  it('checks readableThrough and list count options at definition', () => {
    expect(() => readableThrough('', 'questionId')).toThrow(
      /readableThrough\(model, field\): expected a model name/,
    );
    const cached = createCachedResolvers<Records, { loaders: object }>();
    expect(() => cached.list('Question', { pks: async () => [], count: 5 as never })).toThrow(
      'list("Question"): options.count must be a function',
    );
  });
});
