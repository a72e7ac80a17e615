import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PollServer } from '../../examples/poll/server.js';
import type { ErrorLogger } from '../../src/apollo/index.js';
import {
  type Backend,
  databaseState,
  leaksIn,
  post,
  query,
  startTestServer,
  testBackends,
} from './poll-backends.js';

/**
 * The bad-input set of issue 9, over HTTP, in both schema versions, on SQLite and on Postgres:
 * each input the database would refuse (or silently change) is a BAD_USER_INPUT — or a
 * validation failure, for a literal — and changes nothing; no response carries SQL, bound values,
 * constraint names, file paths or stack traces. NODE_ENV is unset, the case in which Apollo adds
 * stack traces to every error.
 */

type Version = 'v1' | 'v2';

interface BadInput {
  readonly name: string;
  readonly query: string;
  readonly variables?: Record<string, unknown>;
  /** The error code expected. */
  readonly code: 'BAD_USER_INPUT' | 'GRAPHQL_VALIDATION_FAILED';
  /** A part of the message the client must get, naming what is wrong. */
  readonly message?: string | RegExp;
}

const LONG = 'x'.repeat(201);
const HUGE = 'y'.repeat(300_000);

/** The whole set, for one version (argument names differ: v1 questionText, v2 text). */
function badInputs(version: Version): BadInput[] {
  const T = version === 'v1' ? 'questionText' : 'text';
  const create = `mutation($t: String!, $c: [String!], $d: DateTime) { createQuestion(${T}: $t, choices: $c, pubDate: $d) { id } }`;
  const update = `mutation($id: ID!, $t: String, $d: DateTime) { updateQuestion(id: $id, ${T}: $t, pubDate: $d) { id } }`;
  const add = 'mutation($q: ID!, $t: String!) { addChoice(questionId: $q, choiceText: $t) { id } }';
  const search = 'query($s: String) { questions(search: $s) { totalCount nodes { id } } }';
  const inputs: BadInput[] = [
    // NUL characters: PostgreSQL refuses them in text ("invalid byte sequence").
    {
      name: 'NUL in createQuestion text',
      query: create,
      variables: { t: 'a\u0000b' },
      code: 'BAD_USER_INPUT',
      message: 'text must not contain NUL characters (U+0000)',
    },
    {
      name: 'NUL in a createQuestion choice',
      query: create,
      variables: { t: 'ok', c: ['\u0000'] },
      code: 'BAD_USER_INPUT',
      message: 'choices must not contain NUL',
    },
    {
      name: 'NUL in addChoice text',
      query: add,
      variables: { q: '1', t: 'x\u0000' },
      code: 'BAD_USER_INPUT',
      message: 'choiceText must not contain NUL',
    },
    {
      name: 'NUL in updateQuestion text',
      query: update,
      variables: { id: '1', t: '\u0000' },
      code: 'BAD_USER_INPUT',
      message: 'text must not contain NUL',
    },
    {
      name: 'NUL in search',
      query: search,
      variables: { s: 'Question\u0000' },
      code: 'BAD_USER_INPUT',
      message: 'search must not contain NUL',
    },
    // Lone surrogates: not Unicode; stored as U+FFFD, so what is read back is not what was written.
    {
      name: 'lone surrogate in createQuestion text',
      query: create,
      variables: { t: 'a\uD800' },
      code: 'BAD_USER_INPUT',
      message: 'text is not well-formed Unicode',
    },
    {
      name: 'lone surrogate in addChoice text',
      query: add,
      variables: { q: '1', t: '\uDC00x' },
      code: 'BAD_USER_INPUT',
      message: 'choiceText is not well-formed Unicode',
    },
    {
      name: 'lone surrogate in search',
      query: search,
      variables: { s: '\uD83D' },
      code: 'BAD_USER_INPUT',
      message: 'search is not well-formed Unicode',
    },
    // Dates outside what the columns store.
    {
      name: 'pubDate 0000-01-01 in createQuestion',
      query: create,
      variables: { t: 'ok', d: '0000-01-01T00:00:00Z' },
      code: 'BAD_USER_INPUT',
      message: 'DateTime: expected a year from 0001 to 9999',
    },
    {
      name: 'pubDate 0000-01-01 in updateQuestion',
      query: update,
      variables: { id: '1', d: '0000-01-01T00:00:00Z' },
      code: 'BAD_USER_INPUT',
      message: 'year from 0001 to 9999',
    },
    {
      name: 'pubDate 0000-01-01 as a literal',
      query: `mutation { createQuestion(${T}: "ok", pubDate: "0000-01-01T00:00:00Z") { id } }`,
      code: 'GRAPHQL_VALIDATION_FAILED',
      message: 'year from 0001 to 9999',
    },
    {
      name: 'pubDate in year +275760',
      query: create,
      variables: { t: 'ok', d: '+275760-09-13T00:00:00Z' },
      code: 'BAD_USER_INPUT',
      message: 'DateTime: expected an ISO-8601 instant',
    },
    {
      name: 'pubDate on February 30th',
      query: create,
      variables: { t: 'ok', d: '2024-02-30T00:00:00Z' },
      code: 'BAD_USER_INPUT',
      message: 'DateTime: expected an ISO-8601 instant',
    },
    // Over-long text: varchar(200) on Postgres; SQLite would store it whole.
    {
      name: '201 characters of createQuestion text',
      query: create,
      variables: { t: LONG },
      code: 'BAD_USER_INPUT',
      message: 'text must be 1 to 200 characters',
    },
    {
      name: '201 characters in a createQuestion choice',
      query: create,
      variables: { t: 'ok', c: ['a', LONG] },
      code: 'BAD_USER_INPUT',
      message: 'choices must be 1 to 200 characters',
    },
    {
      name: '300 KB of addChoice text',
      query: add,
      variables: { q: '1', t: HUGE },
      code: 'BAD_USER_INPUT',
      message: 'choiceText must be 1 to 200 characters',
    },
    {
      name: '201 characters of updateQuestion text',
      query: update,
      variables: { id: '2', t: LONG },
      code: 'BAD_USER_INPUT',
      message: 'text must be 1 to 200 characters',
    },
    {
      name: '300 KB of search',
      query: search,
      variables: { s: HUGE },
      code: 'BAD_USER_INPUT',
      message: 'search must be 0 to 200 characters',
    },
    {
      name: 'blank createQuestion text',
      query: create,
      variables: { t: '   ' },
      code: 'BAD_USER_INPUT',
      message: 'text must be 1 to 200 characters',
    },
    {
      name: '21 choices',
      query: create,
      variables: { t: 'ok', c: Array.from({ length: 21 }, (_, i) => `c${i}`) },
      code: 'BAD_USER_INPUT',
      message: 'choices must list at most 20 choices',
    },
    // Malformed ids, in reads and in every mutation.
    ...['abc', '1.5', '-1.0', '1e3', '0x10', ' 7', '', '99999999999999999999'].map(
      (id): BadInput => ({
        name: `question(id: ${JSON.stringify(id)})`,
        query: 'query($id: ID!) { question(id: $id) { id } }',
        variables: { id },
        code: 'BAD_USER_INPUT',
        message: 'Invalid id for Question',
      }),
    ),
    {
      name: 'choice(id: "x")',
      query: '{ choice(id: "x") { id } }',
      code: 'BAD_USER_INPUT',
      message: 'Invalid id for Choice',
    },
    {
      name: 'user(id: "me")',
      query: '{ user(id: "me") { id } }',
      code: 'BAD_USER_INPUT',
      message: 'Invalid id for User',
    },
    {
      name: 'updateQuestion(id: "x")',
      query: update,
      variables: { id: 'x', t: 'ok' },
      code: 'BAD_USER_INPUT',
      message: 'Invalid id for Question',
    },
    {
      name: 'addChoice(questionId: "1.5")',
      query: add,
      variables: { q: '1.5', t: 'ok' },
      code: 'BAD_USER_INPUT',
      message: 'Invalid id for Question',
    },
    {
      name: 'deleteChoice(id: "abc")',
      query: 'mutation { deleteChoice(id: "abc") }',
      code: 'BAD_USER_INPUT',
      message: 'Invalid id for Choice',
    },
    {
      name: 'vote(userId: "0x10")',
      query: 'mutation { vote(choiceId: "1", userId: "0x10") { id } }',
      code: 'BAD_USER_INPUT',
      message: 'Invalid id for User',
    },
    {
      name: 'unvote(choiceId: "")',
      query: 'mutation { unvote(choiceId: "", userId: "1") { id } }',
      code: 'BAD_USER_INPUT',
      message: 'Invalid id for Choice',
    },
    // Pages and cursors.
    {
      name: 'questions(first: 1000)',
      query: '{ questions(first: 1000) { nodes { id } } }',
      code: 'BAD_USER_INPUT',
      message: 'Invalid page size',
    },
    {
      name: 'a forged cursor',
      query: 'query($a: String) { questions(after: $a) { nodes { id } } }',
      variables: { a: Buffer.from('["x", "y"]').toString('base64url') },
      code: 'BAD_USER_INPUT',
      message: 'Invalid cursor',
    },
  ];
  return inputs;
}

describe.each(await testBackends())('the bad-input set of issue 9 over HTTP on %s', (backend: Backend) => {
  let server: PollServer;
  const logged: { message: string; details: Readonly<Record<string, unknown>> }[] = [];
  const logger: ErrorLogger = { error: (message, details) => logged.push({ message, details }) };
  const savedNodeEnv = process.env.NODE_ENV;

  beforeAll(async () => {
    delete process.env.NODE_ENV; // Apollo reads it when the servers are built
    server = await startTestServer(backend, 'bad-input-set', { logger });
  });
  afterAll(async () => {
    process.env.NODE_ENV = savedNodeEnv;
    await server?.close();
  });

  for (const version of ['v1', 'v2'] as const) {
    it(`${version}: every bad input is refused by name, changes nothing, and leaks no SQL, path or stack`, async () => {
      const before = await databaseState(server);
      const inputs = badInputs(version);
      expect(inputs.length).toBe(37);
      const failures: string[] = [];
      for (const input of inputs) {
        const { status, body, text } = await post(server.urls[version], input.query, {
          variables: input.variables,
        });
        const error = body.errors?.[0];
        const leaks = leaksIn(text);
        const messageOk =
          input.message === undefined ||
          (typeof input.message === 'string'
            ? error?.message.includes(input.message)
            : input.message.test(error?.message ?? ''));
        const statusOk =
          input.code === 'GRAPHQL_VALIDATION_FAILED' || input.query.includes('$')
            ? status === 200 || status === 400
            : status === 200;
        if (error?.extensions?.code !== input.code || !messageOk || leaks.length > 0 || !statusOk) {
          failures.push(`${input.name}: ${status} ${text.slice(0, 300)} ${leaks.join(' ')}`);
        }
      }
      expect(failures).toEqual([]);
      expect(await databaseState(server)).toBe(before);
      expect(logged).toEqual([]); // nothing was an internal error
      // And the server keeps serving.
      const { data } = await query<{ question: { id: string } }>(
        server.urls[version],
        '{ question(id: 1) { id } }',
      );
      expect(data.question.id).toBe('1');
    });
  }

  it('HTTP-level junk gets 4xx JSON errors with a code and no stack, never an internal error', async () => {
    const json = { 'content-type': 'application/json' };
    const junk: [string, RequestInit, string?][] = [
      ['query that is not a string', { method: 'POST', headers: json, body: '{"query": 5}' }],
      [
        'variables that are a string',
        { method: 'POST', headers: json, body: '{"query": "{ __typename }", "variables": "x"}' },
      ],
      ['an empty body', { method: 'POST', headers: json, body: '' }],
      ['a batch', { method: 'POST', headers: json, body: '[{"query": "{ __typename }"}]' }],
      ['malformed JSON', { method: 'POST', headers: json, body: '{"query": ' }],
      [
        'a persisted-query hash that does not match',
        {
          method: 'POST',
          headers: json,
          body: '{"query": "{ __typename }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}}',
        },
      ],
      [
        'an unknown charset',
        { method: 'POST', headers: { 'content-type': 'application/json; charset=klingon' }, body: '{}' },
      ],
      [
        'a gzip body that is not gzip',
        { method: 'POST', headers: { ...json, 'content-encoding': 'gzip' }, body: '{}' },
      ],
      [
        'a text/plain POST (CSRF)',
        { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query": "{ __typename }"}' },
      ],
      ['a syntax error', { method: 'POST', headers: json, body: '{"query": "{ question(id: 1 { id } }"}' }],
      [
        'a mutation over GET',
        { method: 'GET', headers: { 'apollo-require-preflight': '1' } },
        '?query=mutation%20%7B%20deleteChoice(id%3A%20%221%22)%20%7D',
      ],
    ];
    const before = await databaseState(server);
    const failures: string[] = [];
    for (const version of ['v1', 'v2'] as const) {
      for (const [name, init, search = ''] of junk) {
        const response = await fetch(server.urls[version] + search, init);
        const text = await response.text();
        const code = (JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]
          ?.extensions?.code;
        if (
          response.status < 400 ||
          response.status >= 500 ||
          !code ||
          code === 'INTERNAL_SERVER_ERROR' ||
          leaksIn(text).length > 0
        ) {
          failures.push(`${version} ${name}: ${response.status} ${text.slice(0, 200)}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(logged).toEqual([]);
    expect(await databaseState(server)).toBe(before);
  });

  it('24 concurrent votes of one user for one choice, through both versions, make one vote and no error; 24 unvotes remove it', async () => {
    const choiceId = 5;
    const voters = await query<{ choice: { voters: { id: string }[] } }>(
      server.urls.v2,
      `{ choice(id: ${choiceId}) { voters { id } } }`,
    );
    const taken = new Set(voters.data.choice.voters.map((u) => u.id));
    const userId = ['1', '2', '3', '4', '5', '6', '7', '8'].find((id) => !taken.has(id))!;
    const rows = async () =>
      (
        await server.orm.em
          .fork()
          .getConnection()
          .execute('select count(*) as n from choice_voters where choice_id = ? and user_id = ?', [
            choiceId,
            Number(userId),
          ])
      )[0].n;
    const send = (mutation: 'vote' | 'unvote') =>
      Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          post(
            server.urls[i % 2 === 0 ? 'v1' : 'v2'],
            `mutation { ${mutation}(choiceId: "${choiceId}", userId: "${userId}") { id } }`,
          ),
        ),
      );
    const votes = await send('vote');
    expect(votes.map((r) => [r.status, r.body.errors ?? null, r.body.data])).toEqual(
      Array.from({ length: 24 }, () => [200, null, { vote: { id: String(choiceId) } }]),
    );
    expect(Number(await rows())).toBe(1);
    const after = await query<{ choice: { voters: { id: string }[] } }>(
      server.urls.v1,
      `{ choice(id: ${choiceId}) { voters { id } } }`,
    );
    expect(after.data.choice.voters.filter((u) => u.id === userId)).toHaveLength(1);
    const unvotes = await send('unvote');
    expect(unvotes.every((r) => r.status === 200 && !r.body.errors)).toBe(true);
    expect(Number(await rows())).toBe(0);
    expect(logged).toEqual([]);
  });

  it('an unexpected database error reaches the client as an error id only, and the log has its SQL', async () => {
    const connection = server.orm.em.fork().getConnection();
    await connection.execute('alter table question rename column question_text to question_text_gone');
    try {
      const { status, body, text } = await post(
        server.urls.v2,
        '{ questions(search: "colour") { nodes { id } } }',
      );
      expect(status).toBe(200);
      const error = body.errors?.[0];
      const errorId = error?.extensions?.errorId as string;
      expect(error).toMatchObject({
        message: `Internal server error (error id ${errorId})`,
        extensions: { code: 'INTERNAL_SERVER_ERROR', errorId },
      });
      expect(leaksIn(text)).toEqual([]);
      const entry = logged.find((e) => e.details.errorId === errorId);
      expect(entry?.message).toMatch(/question_text/);
    } finally {
      await connection.execute('alter table question rename column question_text_gone to question_text');
      logged.length = 0;
    }
  });
});
