import { createRequire } from 'node:module';
import { ApolloServer } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { badUserInput, createErrorFormatter, type ErrorLogger } from '../../src/apollo/index.js';

// createErrorFormatter on a real Apollo Server. NODE_ENV is unset for these servers, the case in
// which Apollo puts a stack trace (with absolute paths) on every error.
const typeDefs = `#graphql
  type Query {
    sql: Int
    typeError: Int
    badInput: Int
    forbidden: Int
    foreign: Int
    uncoded: Int
    clientStatus: Int
    fine: Int
  }
`;

// A GraphQLError from graphql's CommonJS build: another copy than this file's (under vitest) —
// what an app or a library bundled with its own graphql throws.
const ForeignGraphQLError = (createRequire(import.meta.url)('graphql') as typeof import('graphql'))
  .GraphQLError;

const resolvers = {
  Query: {
    sql: () => {
      throw Object.assign(
        new Error(
          'insert into "choice_voters" ("choice_id", "user_id") values (7, 3) - duplicate key value violates unique constraint "choice_voters_pkey"',
        ),
        { code: '23505' },
      );
    },
    typeError: () => (null as unknown as { x: number }).x,
    badInput: () => {
      throw badUserInput('text must be 1 to 200 characters', { argument: 'text' });
    },
    forbidden: () => {
      throw new GraphQLError('Only staff can do that', { extensions: { code: 'FORBIDDEN' } });
    },
    foreign: () => {
      throw new ForeignGraphQLError('From another copy', { extensions: { code: 'BAD_USER_INPUT' } });
    },
    uncoded: () => {
      throw new GraphQLError('A GraphQLError without a code');
    },
    clientStatus: () => {
      throw new GraphQLError('Too many votes today', { extensions: { http: { status: 429 } } });
    },
    fine: () => 1,
  },
};

interface Logged {
  message: string;
  details: Readonly<Record<string, unknown>>;
}

function recordingLogger(): ErrorLogger & { logged: Logged[] } {
  const logged: Logged[] = [];
  return { logged, error: (message, details) => logged.push({ message, details }) };
}

const LEAKS =
  /select |insert into|values \(|constraint|choice_voters|\/work\/|node_modules|\bat [\w.<>]+ \(|stacktrace/i;

describe('createErrorFormatter', () => {
  const savedNodeEnv = process.env.NODE_ENV;
  beforeAll(() => {
    delete process.env.NODE_ENV;
  });
  afterAll(() => {
    process.env.NODE_ENV = savedNodeEnv;
  });

  async function run(
    formatError: ReturnType<typeof createErrorFormatter> | undefined,
    query: string,
    context: () => Promise<object> = async () => ({}),
  ) {
    const server = new ApolloServer({ typeDefs, resolvers, ...(formatError ? { formatError } : {}) });
    await server.start();
    try {
      const response = await server.executeOperation({ query }, { contextValue: await context() });
      return response.body.kind === 'single' ? response.body.singleResult : undefined;
    } finally {
      await server.stop();
    }
  }

  it('without it, Apollo sends the SQL and a stack trace with paths when NODE_ENV is unset (the finding)', async () => {
    const body = await run(undefined, '{ sql }');
    expect(JSON.stringify(body)).toMatch(/duplicate key value violates unique constraint/);
    expect(body?.errors?.[0]?.extensions?.stacktrace).toBeDefined();
  });

  it('masks an unexpected error: generic message, an error id, and the cause logged under that id', async () => {
    const logger = recordingLogger();
    const body = await run(createErrorFormatter({ logger }), '{ sql typeError fine }');
    expect(body?.data).toEqual({ sql: null, typeError: null, fine: 1 });
    expect(body?.errors).toHaveLength(2);
    for (const [i, error] of (body?.errors ?? []).entries()) {
      const errorId = error.extensions?.errorId as string;
      expect(errorId).toMatch(/^[0-9a-f-]{36}$/);
      expect(error).toEqual({
        message: `Internal server error (error id ${errorId})`,
        locations: expect.any(Array),
        path: [i === 0 ? 'sql' : 'typeError'],
        extensions: { code: 'INTERNAL_SERVER_ERROR', errorId },
      });
      const entry = logger.logged.find((e) => e.details.errorId === errorId);
      expect(entry?.message).toMatch(new RegExp(`^Internal server error ${errorId}: `));
      expect(entry?.details.error).toBeInstanceOf(Error);
    }
    expect(logger.logged[0]!.message).toContain('duplicate key value violates unique constraint');
    expect(JSON.stringify(body)).not.toMatch(LEAKS);
  });

  it('passes errors thrown on purpose with a code (any copy of graphql), without stack traces', async () => {
    const logger = recordingLogger();
    const body = await run(createErrorFormatter({ logger }), '{ badInput forbidden foreign clientStatus }');
    expect(body?.errors?.map((e) => [e.message, e.extensions])).toEqual([
      ['text must be 1 to 200 characters', { argument: 'text', code: 'BAD_USER_INPUT' }],
      ['Only staff can do that', { code: 'FORBIDDEN' }],
      ['From another copy', { code: 'BAD_USER_INPUT' }],
      ['Too many votes today', { code: 'BAD_REQUEST' }],
    ]);
    expect(logger.logged).toEqual([]);
    expect(JSON.stringify(body)).not.toMatch(LEAKS);
  });

  it('masks a GraphQLError without a code, and a failing context function', async () => {
    const logger = recordingLogger();
    const uncoded = await run(createErrorFormatter({ logger }), '{ uncoded }');
    expect(uncoded?.errors?.[0]?.message).toMatch(/^Internal server error \(error id /);
    const server = new ApolloServer({ typeDefs, resolvers, formatError: createErrorFormatter({ logger }) });
    await server.start();
    try {
      // Apollo's HTTP entry point runs the context function (executeOperation takes a value).
      const response = await server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: {
          method: 'POST',
          headers: new (await import('@apollo/server')).HeaderMap([['content-type', 'application/json']]),
          search: '',
          body: { query: '{ fine }' },
        },
        context: async () => {
          throw new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2');
        },
      });
      expect(response.status).toBe(500);
      const text = response.body.kind === 'complete' ? response.body.string : '';
      expect(text).toMatch(/Internal server error \(error id /);
      expect(text).not.toMatch(/ECONNREFUSED|hunter2|Context creation failed/);
      expect(logger.logged.at(-1)?.message).toMatch(/Context creation failed: connect ECONNREFUSED/);
    } finally {
      await server.stop();
    }
    expect(JSON.stringify(uncoded)).not.toMatch(LEAKS);
  });

  it('keeps messages and stack traces with includeDetails (development), still logging an id', async () => {
    const logger = recordingLogger();
    const body = await run(createErrorFormatter({ logger, includeDetails: true }), '{ sql badInput }');
    expect(body?.errors?.[0]?.message).toContain('duplicate key value');
    expect(body?.errors?.[0]?.extensions).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      errorId: expect.any(String),
      stacktrace: expect.any(Array),
    });
    expect(body?.errors?.[1]?.extensions?.stacktrace).toBeDefined();
    expect(logger.logged).toHaveLength(1);
  });

  it('still masks when the logger throws; a missing logger fails at once', async () => {
    const body = await run(
      createErrorFormatter({
        logger: {
          error: () => {
            throw new Error('log sink down');
          },
        },
      }),
      '{ sql }',
    );
    expect(body?.errors?.[0]?.message).toMatch(/^Internal server error \(error id /);
    expect(() => createErrorFormatter({} as never)).toThrow(
      'createErrorFormatter: options.logger must have an error(message, details) method (console works)',
    );
  });
});
