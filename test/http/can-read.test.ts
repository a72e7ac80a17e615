import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PollServer } from '../../examples/poll/server.js';
import { type Backend, post, query, startTestServer, testBackends } from './poll-backends.js';

const STAFF = { 'x-viewer-role': 'staff' };

/**
 * The poll app's read rule: a question whose pubDate is in the future is visible to staff only.
 * Records are shared by all users through the cache, so the rule runs per request (`canRead`) on
 * every path a query can take to the record.
 */
describe.each(await testBackends())(
  'canRead over HTTP on %s: a hidden record is hidden on every path',
  (backend: Backend) => {
    let server: PollServer;
    let scheduled: string;
    let choiceId: string;
    const voter = '1';

    beforeAll(async () => {
      server = await startTestServer(backend, 'can-read');
      const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
      const { data } = await query<{ createQuestion: { id: string; choices: { id: string }[] } }>(
        server.urls.v2,
        `mutation($date: DateTime) { createQuestion(text: "Scheduled", pubDate: $date, choices: ["Yes"]) { id choices { id } } }`,
        { variables: { date: tomorrow }, headers: STAFF },
      );
      scheduled = data.createQuestion.id;
      choiceId = data.createQuestion.choices[0]!.id;
      await query(server.urls.v2, `mutation { vote(choiceId: "${choiceId}", userId: "${voter}") { id } }`, {
        headers: STAFF,
      });
    });
    afterAll(async () => {
      await server?.close();
    });

    /** One query reaching the scheduled question by every path: by id, in the list, through a relation. */
    const render = (version: 'v1' | 'v2') => `{
    single: question(id: ${scheduled}) { id ${version === 'v1' ? 'questionText' : 'text'} }
    list: questions(first: 100) { nodes { id } }
    nested: choice(id: ${choiceId}) { id question { id } }
    ${version === 'v2' ? `deeper: user(id: ${voter}) { votes { id question { id } } }` : ''}
  }`;

    type Paths = {
      single: { id: string } | null;
      list: { nodes: { id: string }[] };
      nested: { id: string; question: { id: string } | null } | null;
      deeper?: { votes: { id: string; question: { id: string } | null }[] };
    };

    for (const version of ['v1', 'v2'] as const) {
      it(`${version}: root by id, root list and nested relation all hide the scheduled question from the public`, async () => {
        // Warm the cache as staff first: the record IS cached, and still hidden from the next request.
        await query(server.urls[version], render(version), { headers: STAFF });
        const { data, cache } = await query<Paths>(server.urls[version], render(version));
        expect(cache.misses).toBe(0);
        expect(data.single).toBeNull();
        expect(data.list.nodes.map((q) => q.id)).not.toContain(scheduled);
        // Its choice belongs to it, so the choice is hidden too (Choice reads through Question).
        expect(data.nested).toBeNull();
        if (version === 'v2') expect(data.deeper!.votes.map((c) => c.id)).not.toContain(choiceId);
      });

      it(`${version}: staff see it on every path, from the same cached records`, async () => {
        const { data } = await query<Paths>(server.urls[version], render(version), { headers: STAFF });
        expect(data.single?.id).toBe(scheduled);
        expect(data.list.nodes[0]!.id).toBe(scheduled);
        expect(data.nested?.question?.id).toBe(scheduled);
        if (version === 'v2')
          expect(data.deeper!.votes.find((c) => c.id === choiceId)?.question?.id).toBe(scheduled);
      });
    }

    it('the public cannot schedule a question (FORBIDDEN), and nothing is written', async () => {
      const before = await query<{ questions: { nodes: unknown[] } }>(
        server.urls.v1,
        '{ questions(first: 100) { nodes { id } } }',
        {
          headers: STAFF,
        },
      );
      const { body } = await post(
        server.urls.v1,
        `mutation { createQuestion(questionText: "Sneaky", pubDate: "2999-01-01T00:00:00Z") { id } }`,
      );
      expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const after = await query<{ questions: { nodes: unknown[] } }>(
        server.urls.v1,
        '{ questions(first: 100) { nodes { id } } }',
        {
          headers: STAFF,
        },
      );
      expect(after.data.questions.nodes).toHaveLength(before.data.questions.nodes.length);
    });

    it('once its date is moved into the past, the public sees it on every path', async () => {
      await query(
        server.urls.v1,
        `mutation { updateQuestion(id: "${scheduled}", pubDate: "2020-01-01T00:00:00Z") { id } }`,
        {
          headers: STAFF,
        },
      );
      const { data } = await query<Paths>(server.urls.v2, render('v2'));
      expect(data.single?.id).toBe(scheduled);
      expect(data.list.nodes.map((q) => q.id)).toContain(scheduled);
      expect(data.nested?.question?.id).toBe(scheduled);
    });
  },
);
