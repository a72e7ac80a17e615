import { GraphQLClient, gql } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PollServer } from '../../examples/poll/server.js';
import { type Backend, query, startTestServer, TEST_SEED, testBackends } from './poll-backends.js';

interface NestedPage {
  questions: {
    nodes: {
      id: string;
      text?: string;
      questionText?: string;
      choices: { id: string; voters: { id: string; votes?: { id: string }[] }[] }[];
    }[];
  };
}

const NESTED_V1 = `{ questions(first: 10) { nodes { id questionText choices { id choiceText voters { id username } } } } }`;
const NESTED_V2 = `{ questions(first: 10) { nodes { id text choices { id choiceText voteCount voters { id username } } } } }`;

describe.each(await testBackends())('nested reads over HTTP on %s', (backend: Backend) => {
  let server: PollServer;

  beforeAll(async () => {
    server = await startTestServer(backend, 'nested');
  });
  afterAll(async () => {
    await server?.close();
  });

  /** What a request for `page` must read: unique records per level, and the repeated voter loads. */
  async function expectedFigures(page: NestedPage, version: 'v1' | 'v2') {
    const questionIds = page.questions.nodes.map((q) => Number(q.id));
    const choiceIds = page.questions.nodes.flatMap((q) => q.choices.map((c) => Number(c.id)));
    // The records name every voter, including inactive users that read as not found: those are
    // cached "not found" entries, read (and counted) like any other.
    const choices = await server.cache.getInstances('Choice', choiceIds, { version });
    const voterRefs = choices.flatMap((c) => c!.voterIds);
    const uniqueVoters = new Set(voterRefs).size;
    return {
      hits: questionIds.length + choiceIds.length + uniqueVoters,
      // Repeated voters, plus one per choice: the Choice read rule reads the choice's question,
      // which the page already memoized.
      memoHits: voterRefs.length - uniqueVoters + choiceIds.length,
      voterRefs: voterRefs.length,
    };
  }

  for (const [version, text] of [
    ['v1', NESTED_V1],
    ['v2', NESTED_V2],
  ] as const) {
    it(`${version}: a warm questions → choices → voters query runs no SQL: one store round trip for the cached page, one per level`, async () => {
      const url = server.urls[version];
      const cold = await query<NestedPage>(url, text);
      // Cold: the pk list plus the loads of three models (each one query plus one per to-many relation).
      expect(cold.cache.sql).toBeGreaterThan(1);
      expect(cold.cache.misses).toBeGreaterThan(0);

      const warm = await query<NestedPage>(url, text);
      expect(warm.data).toEqual(cold.data);
      const expected = await expectedFigures(warm.data, version);
      expect(warm.data.questions.nodes).toHaveLength(10);
      expect(expected.voterRefs).toBe(10 * TEST_SEED.choicesPerQuestion * TEST_SEED.votesPerChoice);
      expect(warm.cache).toEqual({
        sql: 0, // the page's pks come from the cached list
        storeRoundTrips: 4, // the page, then questions, choices, voters: one batched read per level
        hits: expected.hits,
        l1Hits: 0,
        misses: 0,
        listHits: 1,
        listMisses: 0,
        memoHits: expected.memoHits,
        staleRejected: 0,
      });
    });
  }

  it('v2: a fourth level (voters → their votes) adds one store round trip, and one for the questions their visibility follows', async () => {
    const text = `{ questions(first: 5) { nodes { id choices { id voters { id votes { id choiceText } } } } } }`;
    await query(server.urls.v2, text);
    const { data, cache } = await query<NestedPage>(server.urls.v2, text);
    const pageChoices = new Set(data.questions.nodes.flatMap((q) => q.choices.map((c) => c.id)));
    const votes = data.questions.nodes.flatMap((q) =>
      q.choices.flatMap((c) => c.voters.flatMap((u) => u.votes!)),
    );
    // Some of the voters' choices are on other pages: they need the fourth read, and the Choice
    // read rule then reads their questions (not on this page either) in one more batched read.
    expect(votes.some((choice) => !pageChoices.has(choice.id))).toBe(true);
    expect(cache).toMatchObject({ sql: 0, storeRoundTrips: 6, misses: 0, staleRejected: 0 });
  });

  it('a root fetch by id of a warm record runs no SQL at all', async () => {
    const text = `{ question(id: 3) { id choices { id } } }`;
    await query(server.urls.v1, text);
    const { cache } = await query(server.urls.v1, text);
    expect(cache).toMatchObject({ sql: 0, storeRoundTrips: 2, misses: 0 });
  });

  it('a missing instance reads as null, without errors, and is cached as not found', async () => {
    const text = `{ question(id: 987654) { id } choice(id: "987654") { id } }`;
    const cold = await query(server.urls.v2, text);
    expect(cold.data).toEqual({ question: null, choice: null });
    expect(cold.cache.misses).toBe(2);
    const warm = await query(server.urls.v2, text);
    expect(warm.data).toEqual({ question: null, choice: null });
    expect(warm.cache).toMatchObject({ sql: 0, misses: 0, hits: 2 });
  });

  it('graphql-request walks every page with first/after: each warm page costs no SQL, no gaps or repeats', async () => {
    const client = new GraphQLClient(server.urls.v2, { headers: { 'x-cache-stats': '1' } });
    const page = gql`
      query Page($after: String) {
        questions(first: 7, order: OLDEST, after: $after) {
          nodes { id pubDate }
          pageInfo { hasNextPage endCursor }
        }
      }
    `;
    type Page = {
      questions: {
        nodes: { id: string; pubDate: string }[];
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
      };
    };
    async function walk() {
      const seen: { id: string; pubDate: string }[] = [];
      const sql: number[] = [];
      let after: string | null = null;
      do {
        const { data, extensions }: { data: Page; extensions?: unknown } = await client.rawRequest<Page>(
          page,
          {
            after,
          },
        );
        sql.push((extensions as { cache: { sql: number } }).cache.sql);
        seen.push(...data.questions.nodes);
        after = data.questions.pageInfo.hasNextPage ? data.questions.pageInfo.endCursor : null;
      } while (after !== null && sql.length < 20);
      return { seen, sql, pages: sql.length };
    }
    await walk(); // fills the cache with the questions of every page
    const { seen, sql, pages } = await walk();
    expect(sql).toEqual(Array.from({ length: pages }, () => 0));
    expect(pages).toBe(Math.ceil(TEST_SEED.questions / 7));
    expect(new Set(seen.map((q) => q.id)).size).toBe(TEST_SEED.questions);
    const dates = seen.map((q) => Date.parse(q.pubDate));
    expect(dates).toEqual([...dates].sort((a, b) => a - b));
  });

  it('serves v1 and v2 at once: 40 concurrent mixed requests each get their own version and figures', async () => {
    const requests = Array.from({ length: 40 }, (_, i) => {
      const version = i % 2 === 0 ? 'v1' : 'v2';
      const field = version === 'v1' ? 'questionText' : 'text';
      return query<{ question: Record<string, string> }>(
        server.urls[version],
        `{ question(id: ${1 + (i % 5)}) { id ${field} } }`,
      ).then((result) => ({ version, field, result }));
    });
    for (const { field, result } of await Promise.all(requests)) {
      expect(Object.keys(result.data.question)).toEqual(['id', field]);
      expect(result.cache.storeRoundTrips).toBeLessThanOrEqual(3); // cold: read, claim, fill
    }
  });

  it('sends no extensions.cache without the x-cache-stats header (the server default)', async () => {
    const response = await fetch(server.urls.v1, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ question(id: 1) { id } }' }),
    });
    const body = (await response.json()) as { extensions?: unknown };
    expect(body.extensions).toBeUndefined();
    // Apollo's cache-control plugin is disabled by default: no cache-control header is computed.
    expect(response.headers.get('cache-control')).toBeNull();
  });
});
