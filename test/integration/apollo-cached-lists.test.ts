import { ApolloServer } from '@apollo/server';
import { describe, expect, it } from 'vitest';
import { cachedContext, createCachedResolvers } from '../../src/apollo/index.js';
import { InstanceCache, type InstanceCacheOptions, type Pk } from '../../src/index.js';
import { createPollDb, seedPoll } from '../support/poll-fixture.js';

// Cached root lists through the Apollo list builder (`list(model, { cache })`) on a real Apollo
// Server: a warm list costs no pk query, writes that change the list (creates, deletes, list
// fields) are seen, and with L1 a warm nested query costs no round trip at all.
const typeDefs = `#graphql
  type Query {
    questions(first: Int, after: String, before: String): QuestionConnection!
  }
  type Question { id: ID! text: String! choices: [Choice!]! }
  type Choice { id: ID! text: String! }
  type QuestionConnection { nodes: [Question!]! pageInfo: PageInfo! totalCount: Int }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
`;

interface QuestionArgs {
  readonly first?: number | null;
  readonly after?: string | null;
  readonly before?: string | null;
}

interface Records {
  Question: { id: number; text: string; pubDate: Date; choiceIds: number[] };
  Choice: { id: number; text: string };
}

function setup(options: InstanceCacheOptions = {}) {
  const { db, strategy } = createPollDb({ questionListFields: ['pubDate'] });
  seedPoll(db);
  const cache = new InstanceCache(strategy, options);
  const queries: string[] = [];
  type Ctx = Awaited<ReturnType<ReturnType<typeof cachedContext<Records>>>> & { viewer: string };
  const cached = createCachedResolvers<Records, Ctx>();
  const apollo = new ApolloServer<Ctx>({
    typeDefs,
    resolvers: {
      Query: {
        questions: cached.list<'Question', QuestionArgs>('Question', {
          // Questions published before the `before` argument, newest first, by pubDate.
          pks: async ({ args, limit }) => {
            queries.push('pks');
            return [...db.questions.values()]
              .filter((q) => !args.before || q.pubDate.getTime() < Date.parse(args.before))
              .sort((a, b) => b.pubDate.getTime() - a.pubDate.getTime())
              .slice(0, limit)
              .map((q) => q.id as Pk);
          },
          count: async () => {
            queries.push('count');
            return db.questions.size;
          },
          cache: {
            // What the query depends on: its filter argument and who is asking.
            key: ({ args, context }) => `${context.viewer}:${args.before ?? ''}`,
          },
        }),
      },
      Question: cached.type('Question', { choices: cached.related('Choice', 'choiceIds') }),
    },
  });
  const context = cachedContext(cache, async () => ({ viewer: 'anyone' }), { version: 'v1' });
  let started: Promise<void> | undefined;
  return {
    db,
    cache,
    queries,
    async run(query: string) {
      started ??= apollo.start();
      await started;
      const contextValue = (await context()) as unknown as Ctx;
      const response = await apollo.executeOperation({ query }, { contextValue });
      const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
      return {
        data: body!.data as { questions: { nodes: { id: string }[]; totalCount?: number } },
        stats: contextValue.cacheStats,
      };
    },
    stop: () => apollo.stop(),
  };
}

const ids = (data: { questions: { nodes: { id: string }[] } }) =>
  data.questions.nodes.map((n) => Number(n.id));

describe('cached root lists through list(model, { cache })', () => {
  it('a warm list runs no pk query and no count; arguments and pages are separate entries', async () => {
    const server = setup();
    try {
      const cold = await server.run('{ questions(first: 5) { totalCount nodes { id text } } }');
      expect(ids(cold.data)).toEqual([2, 1]);
      expect(server.queries).toEqual(['pks', 'count']);
      const warm = await server.run('{ questions(first: 5) { totalCount nodes { id text } } }');
      expect(warm.data).toEqual(cold.data);
      expect(server.queries).toHaveLength(2);
      // list + count (one round trip each, concurrent), then the records
      expect(warm.stats).toMatchObject({ misses: 0, storeRoundTrips: 3 });
      await server.run('{ questions(first: 1) { nodes { id } } }');
      await server.run('{ questions(first: 5, before: "2024-05-02T00:00:00Z") { nodes { id } } }');
      expect(server.queries).toEqual(['pks', 'count', 'pks', 'pks']);
    } finally {
      await server.stop();
    }
  });

  it('a create, a delete and a change to a list field are seen on the next request', async () => {
    const server = setup();
    try {
      await server.run('{ questions(first: 5) { nodes { id } } }');
      server.db.questions.set(3, { id: 3, text: 'Newest?', pubDate: new Date('2024-06-01T00:00:00Z') });
      await server.cache.update([{ model: 'Question', pk: 3 }]);
      expect(ids((await server.run('{ questions(first: 5) { nodes { id } } }')).data)).toEqual([3, 2, 1]);
      server.db.questions.get(1)!.pubDate = new Date('2024-07-01T00:00:00Z');
      await server.cache.update([{ model: 'Question', pk: 1 }]);
      expect(ids((await server.run('{ questions(first: 5) { nodes { id } } }')).data)).toEqual([1, 3, 2]);
      server.db.questions.delete(3);
      await server.cache.update([{ model: 'Question', pk: 3 }]);
      expect(ids((await server.run('{ questions(first: 5) { nodes { id } } }')).data)).toEqual([1, 2]);
      // A change to a field the list does not depend on leaves it cached.
      const before = server.queries.length;
      server.db.questions.get(2)!.text = 'Renamed';
      await server.cache.update([{ model: 'Question', pk: 2 }]);
      const renamed = await server.run('{ questions(first: 5) { nodes { id text } } }');
      expect(renamed.data.questions.nodes).toContainEqual({ id: '2', text: 'Renamed' });
      expect(server.queries).toHaveLength(before);
    } finally {
      await server.stop();
    }
  });

  it('with L1 a warm nested query costs no store round trip and no query', async () => {
    const server = setup({ l1: true });
    try {
      const query = '{ questions(first: 5) { nodes { id text choices { id text } } } }';
      const cold = await server.run(query);
      const warm = await server.run(query);
      expect(warm.data).toEqual(cold.data);
      expect(warm.stats).toMatchObject({ storeRoundTrips: 0, misses: 0 });
      expect(warm.stats.l1Hits).toBeGreaterThan(0);
      expect(server.queries).toEqual(['pks']);
    } finally {
      await server.stop();
    }
  });
});
