import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PollServer } from '../../examples/poll/server.js';
import { createCacheStatsTotals } from '../../src/apollo/index.js';
import { type Backend, post, query, startTestServer, testBackends } from './poll-backends.js';

/** `question → choices → question → choices → …`, `levels` relations deep (the query). */
function alternating(levels: number): string {
  let selection = 'id';
  for (let level = levels; level >= 1; level -= 1) {
    selection = `${level % 2 === 1 ? 'choices' : 'question'} { id ${selection} }`;
  }
  return `{ question(id: 1) { ${selection} } }`;
}

/** A response's `extensions.cache` when nothing was read: every per-request counter at 0. */
const { requests: _requests, ...ZERO } = createCacheStatsTotals();

/**
 * The example's query limits over HTTP: the depth-40 query that took the server down (2.2 GB,
 * no answer in 6 minutes) is refused while it is validated — no resolver, store read or SQL —
 * and the server keeps serving. So is a query within the depth limit whose lists multiply.
 */
describe.each(await testBackends())('query limits over HTTP on %s', (backend: Backend) => {
  let server: PollServer;

  beforeAll(async () => {
    server = await startTestServer(backend, 'limits');
  });
  afterAll(async () => {
    await server?.close();
  });

  for (const version of ['v1', 'v2'] as const) {
    it(`${version}: the depth-40 question → choices → question … query is refused before it runs, and the server keeps serving`, async () => {
      const cacheBefore = { ...server.cache.stats };
      const { status, body, text } = await post(server.urls[version], alternating(40));
      expect(text.length).toBeLessThan(400);
      expect(status).toBe(400);
      expect(body.data).toBeUndefined();
      expect(body.errors).toEqual([
        {
          message: 'Query depth limit of 10 exceeded, found 42.',
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        },
      ]);
      // Nothing ran: no SQL, no store round trip, no load, for this request or in the process.
      expect(body.extensions?.cache).toEqual(ZERO);
      expect(server.cache.stats).toEqual(cacheBefore);
      const { data } = await query<{ question: { id: string; choices: unknown[] } }>(
        server.urls[version],
        '{ question(id: 2) { id choices { id } } }',
      );
      expect(data.question.id).toBe('2');
    });

    it(`${version}: a query within the depth limit whose lists multiply is refused by its cost, before it runs`, async () => {
      const cacheBefore = { ...server.cache.stats };
      const { status, body } = await post(server.urls[version], alternating(8));
      expect(status).toBe(400);
      expect(body.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/^Query cost \d+ exceeds the maximum of 20000/),
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED', maxCost: 20000 },
      });
      expect(body.extensions?.cache).toEqual(ZERO);
      expect(server.cache.stats).toEqual(cacheBefore);
    });
  }

  it('the README query and a full page with choices and voters are within the limits', async () => {
    await query(
      server.urls.v2,
      '{ questions(first: 2) { nodes { text choices { choiceText voteCount voters { username } } } } }',
    );
    await query(
      server.urls.v1,
      '{ questions(first: 100) { nodes { questionText choices { choiceText voters { username } } } } }',
    );
  });
});
