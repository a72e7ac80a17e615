import { ClientError, GraphQLClient } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PollServer } from '../../examples/poll/server.js';
import { type Backend, post, query, startTestServer, testBackends } from './poll-backends.js';

describe.each(await testBackends())(
  'bad input over HTTP on %s: clear errors, and the server keeps serving',
  (backend: Backend) => {
    let server: PollServer;

    beforeAll(async () => {
      server = await startTestServer(backend, 'bad-input');
    });
    afterAll(async () => {
      await server?.close();
    });

    /** The server still answers a normal query after whatever came before. */
    async function stillServing() {
      const { data } = await query<{ question: { id: string } }>(
        server.urls.v1,
        '{ question(id: 1) { id } }',
      );
      expect(data.question.id).toBe('1');
    }

    it.each([
      ['question', 'abc', 'Invalid id for Question: expected an integer, got "abc"'],
      ['choice', '1.5', 'Invalid id for Choice: expected an integer, got "1.5"'],
      ['user', ' 7', 'Invalid id for User: expected an integer, got " 7"'],
      [
        'question',
        '99999999999999999999',
        'Invalid id for Question: expected an integer, got "99999999999999999999"',
      ],
    ])(
      '%s(id: %j) is BAD_USER_INPUT with a message naming the model and the id',
      async (field, id, message) => {
        const { status, body } = await post(server.urls.v2, `query($id: ID!) { ${field}(id: $id) { id } }`, {
          variables: { id },
        });
        expect(status).toBe(200);
        expect(body.data).toEqual({ [field]: null });
        expect(body.errors).toHaveLength(1);
        expect(body.errors![0]!.message).toBe(message);
        expect(body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
        await stillServing();
      },
    );

    it('a malformed id next to good fields fails only its own field', async () => {
      const { body } = await post(
        server.urls.v1,
        '{ good: question(id: 2) { id } bad: question(id: "x") { id } }',
      );
      expect(body.data).toEqual({ good: { id: '2' }, bad: null });
      expect(body.errors?.map((e) => [e.extensions?.code, (e as { path?: string[] }).path])).toEqual([
        ['BAD_USER_INPUT', ['bad']],
      ]);
    });

    it('malformed ids in mutations are BAD_USER_INPUT and change nothing', async () => {
      const { body } = await post(server.urls.v1, 'mutation { vote(choiceId: "1", userId: "me") { id } }');
      expect(body.errors?.[0]?.message).toBe('Invalid id for User: expected an integer, got "me"');
      expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const missing = await post(
        server.urls.v1,
        'mutation { addChoice(questionId: "424242", choiceText: "x") { id } }',
      );
      expect(missing.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      await stillServing();
    });

    it.each([
      [1000, 'Invalid page size: first must be an integer from 0 to 100, got 1000'],
      [101, 'Invalid page size: first must be an integer from 0 to 100, got 101'],
      [-1, 'Invalid page size: first must be an integer from 0 to 100, got -1'],
    ])('questions(first: %d) is BAD_USER_INPUT and runs no SQL', async (first, message) => {
      const { status, body } = await post(server.urls.v2, `{ questions(first: ${first}) { nodes { id } } }`);
      expect(status).toBe(200);
      expect(body.errors?.[0]).toMatchObject({
        message,
        extensions: { code: 'BAD_USER_INPUT', argument: 'first' },
      });
      expect(body.extensions?.cache?.sql).toBe(0);
      await stillServing();
    });

    it('first: 100 (the cap) and first: 0 are accepted', async () => {
      const full = await query<{ questions: { nodes: unknown[] } }>(
        server.urls.v1,
        '{ questions(first: 100) { nodes { id } } }',
      );
      expect(full.data.questions.nodes.length).toBeGreaterThan(0);
      const none = await query<{ questions: { nodes: unknown[]; pageInfo: { hasNextPage: boolean } } }>(
        server.urls.v1,
        '{ questions(first: 0) { nodes { id } pageInfo { hasNextPage } } }',
      );
      expect(none.data.questions).toEqual({ nodes: [], pageInfo: { hasNextPage: true } });
    });

    it.each([
      ['not base64', 'zz!'],
      ['base64 of non-JSON', Buffer.from('nope').toString('base64url')],
      ['a cursor of another shape', Buffer.from(JSON.stringify({ id: 1 })).toString('base64url')],
    ])('after: %s is BAD_USER_INPUT', async (_label, after) => {
      const { body } = await post(
        server.urls.v1,
        'query($after: String) { questions(after: $after) { nodes { id } } }',
        {
          variables: { after },
        },
      );
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
      expect(body.errors?.[0]?.message).toMatch(/^Invalid cursor /);
    });

    it('unknown fields fail validation (400), per version: v2 names are unknown to v1 and back', async () => {
      for (const [url, text, field] of [
        [server.urls.v1, '{ question(id: 1) { text } }', 'text'],
        [server.urls.v2, '{ question(id: 1) { questionText } }', 'questionText'],
        [server.urls.v1, '{ user(id: 1) { votes { id } } }', 'votes'],
        [server.urls.v1, '{ nope }', 'nope'],
      ] as const) {
        const { status, body } = await post(url, text);
        expect(status).toBe(400);
        expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
        expect(body.errors?.[0]?.message).toContain(`Cannot query field "${field}"`);
      }
      await stillServing();
    });

    it('graphql-request surfaces BAD_USER_INPUT as a ClientError with the response', async () => {
      const client = new GraphQLClient(server.urls.v2);
      const error = await client.request('{ question(id: "x1") { id } }').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientError);
      expect((error as ClientError).response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      await expect(
        client.request<{ question: { id: string } }>('{ question(id: "1") { id } }'),
      ).resolves.toEqual({
        question: { id: '1' },
      });
    });

    it('HTTP-level junk gets JSON errors: bad JSON 400, oversized body 413, unknown path 404, CSRF 400', async () => {
      const send = (path: string, init: RequestInit) => fetch(new URL(path, server.url), init);
      const json = { 'content-type': 'application/json' };
      const badJson = await send('/graphql/v1', { method: 'POST', headers: json, body: '{"query": ' });
      expect(badJson.status).toBe(400);
      expect(await badJson.json()).toEqual({
        errors: [{ message: 'Request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }],
      });
      const huge = await send('/graphql/v2', {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ query: `{ question(id: 1) { id } }`, padding: 'x'.repeat(2 * 1024 * 1024) }),
      });
      expect(huge.status).toBe(413);
      expect(
        ((await huge.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code,
      ).toBe('PAYLOAD_TOO_LARGE');
      const nowhere = await send('/graphql/v3', { method: 'POST', headers: json, body: '{}' });
      expect(nowhere.status).toBe(404);
      expect(nowhere.headers.get('content-type')).toMatch(/^application\/json/);
      const csrf = await send('/graphql/v1?query=%7B__typename%7D', { method: 'GET' });
      expect(csrf.status).toBe(400);
      const preflighted = await send('/graphql/v1/?query=%7B__typename%7D', {
        method: 'GET',
        headers: { 'apollo-require-preflight': 'true' },
      });
      expect(preflighted.status).toBe(200);
      expect(await preflighted.json()).toEqual({ data: { __typename: 'Query' } });
      await stillServing();
    });
  },
);
