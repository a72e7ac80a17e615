import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { describe, expect, it } from 'vitest';
import { createQueryLimits, type QueryLimitsOptions, type QueryRefusal } from '../../src/apollo/index.js';

// createQueryLimits on a real Apollo Server, with resolvers that count their calls: a refused
// operation must never reach one.
const typeDefs = `#graphql
  type Query {
    question(id: ID!): Question
    questions(first: Int = 20, after: String): QuestionConnection!
  }
  type Question { id: ID! text: String! choices: [Choice!]! }
  type Choice { id: ID! choiceText: String! question: Question voters(first: Int): [User!]! }
  type User { id: ID! username: String! }
  type QuestionConnection { edges: [QuestionEdge!]! nodes: [Question!]! pageInfo: PageInfo! }
  type QuestionEdge { cursor: String! node: Question! }
  type PageInfo { hasNextPage: Boolean! }
`;

function createServer(options: QueryLimitsOptions = {}) {
  let calls = 0;
  const question = (id: number) => ({ id, text: `Q${id}`, choiceIds: [1, 2, 3, 4] });
  const choice = (id: number) => ({ id, choiceText: `C${id}`, questionId: 1 });
  const refusals: QueryRefusal[] = [];
  // Which pipeline stages each request reached: validation's outcome, then execution.
  const stages: string[] = [];
  const probe: ApolloServerPlugin = {
    async requestDidStart() {
      return {
        async validationDidStart() {
          return async (errors) => {
            stages.push(
              errors ? `validation failed: ${errors.map((e) => e.message).join('; ')}` : 'validated',
            );
          };
        },
        async executionDidStart() {
          stages.push('executed');
        },
      };
    },
  };
  const limits = createQueryLimits({ ...options, onRefused: (refusal) => refusals.push(refusal) });
  const server = new ApolloServer({
    typeDefs,
    validationRules: limits.validationRules,
    plugins: [limits.plugin, probe],
    resolvers: {
      Query: {
        question: (_p: unknown, args: { id: string }) => {
          calls += 1;
          return question(Number(args.id));
        },
        questions: (_p: unknown, args: { first: number }) => {
          calls += 1;
          const nodes = Array.from({ length: args.first }, (_, i) => question(i + 1));
          return { nodes, edges: nodes.map((node) => ({ cursor: String(node.id), node })), pageInfo: {} };
        },
      },
      Question: {
        choices: (q: { choiceIds: number[] }) => {
          calls += 1;
          return q.choiceIds.map(choice);
        },
      },
      Choice: {
        question: (c: { questionId: number }) => {
          calls += 1;
          return question(c.questionId);
        },
        voters: () => {
          calls += 1;
          return [{ id: 1, username: 'u1' }];
        },
      },
    },
  });
  return {
    limits,
    refusals,
    stages,
    get calls() {
      return calls;
    },
    async run(query: string, variables?: Record<string, unknown>) {
      const response = await server.executeOperation({ query, variables });
      const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
      return { status: response.http.status ?? 200, body: body! };
    },
  };
}

/** `question → choices → question → choices → …`, `levels` relations deep under the root field. */
function alternating(levels: number): string {
  let selection = 'id';
  for (let level = levels; level >= 1; level -= 1) {
    selection = `${level % 2 === 1 ? 'choices' : 'question'} { id ${selection} }`;
  }
  return `{ question(id: 1) { ${selection} } }`;
}

const README_QUERY =
  'query($n: Int) { questions(first: $n) { nodes { text choices { choiceText voters { username } } } } }';

describe('createQueryLimits', () => {
  it('refuses the depth-40 question → choices → question … query in validation, before any resolver runs', async () => {
    const server = createServer();
    const query = alternating(40);
    const { status, body } = await server.run(query);
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors).toEqual([
      expect.objectContaining({
        message: 'Query depth limit of 10 exceeded, found 42.',
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      }),
    ]);
    expect(server.calls).toBe(0);
    // Refused while the document was validated: execution never started.
    expect(server.stages).toEqual(['validation failed: Query depth limit of 10 exceeded, found 42.']);
    expect(server.refusals).toEqual([
      { limit: 'depth', message: 'Query depth limit of 10 exceeded, found 42.' },
    ]);
    // And the server keeps serving.
    const next = await server.run('{ question(id: 2) { id } }');
    expect(next.body).toEqual({ data: { question: { id: '2' } } });
  });

  it('counts list sizes from first (literal or variable), the schema default, else defaultListSize', async () => {
    // questions(first: 2): 1 + 2 × (nodes 1 + text 1 + choices (1 + 10 × (1 + voters (1 + 10 × 1)))) = 247.
    const exact = createServer({ maxCost: 247 });
    expect((await exact.run(README_QUERY, { n: 2 })).body.errors).toBeUndefined();
    const below = createServer({ maxCost: 246 });
    const refused = await below.run(README_QUERY, { n: 2 });
    expect(refused.status).toBe(400);
    expect(refused.body.errors?.[0]).toMatchObject({
      message:
        'Query cost 247 exceeds the maximum of 246: ask for smaller pages (first) or fewer nested lists',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', cost: 247, maxCost: 246 },
    });
    expect(below.calls).toBe(0);
    // first: 100 costs 1 + 100 × 123: under the default 20,000.
    const defaults = createServer();
    expect((await defaults.run(README_QUERY, { n: 100 })).body.errors).toBeUndefined();
    const literal = createServer({ maxCost: 12_300 });
    expect(
      (await literal.run(README_QUERY.replace('query($n: Int)', '').replace('$n', '100'))).body.errors?.[0]
        ?.extensions?.cost,
    ).toBe(12_301);
    // No first: the argument's schema default (20); voters(first: 3) counts 3, not 10.
    const byDefault = createServer({ maxCost: 1 });
    const costOf = async (query: string) =>
      (await byDefault.run(query)).body.errors?.[0]?.extensions?.cost as number;
    expect(await costOf('{ questions { nodes { id } } }')).toBe(1 + 20 * (1 + 1));
    expect(await costOf('{ question(id: 1) { choices { voters(first: 3) { id } } } }')).toBe(
      1 + (1 + 10 * (1 + 3 * 1)),
    );
    // edges and nodes of a connection are the page, not another list.
    expect(await costOf('{ questions(first: 5) { edges { node { id } } } }')).toBe(1 + 5 * (1 + (1 + 1)));
    expect(byDefault.calls).toBe(0);
  });

  it('refuses a wide query within the depth limit by its cost, before any resolver runs', async () => {
    const server = createServer();
    const { status, body } = await server.run(alternating(8));
    expect(status).toBe(400);
    expect(body.errors?.[0]?.message).toMatch(/^Query cost \d+ exceeds the maximum of 20000/);
    expect(server.calls).toBe(0);
    // Validated, then refused before execution.
    expect(server.stages).toEqual(['validated']);
    expect(server.refusals.map((r) => r.limit)).toEqual(['cost']);
  });

  it('leaves invalid variables to Apollo (BAD_USER_INPUT naming the variable), still before any resolver', async () => {
    const server = createServer();
    const { status, body } = await server.run(README_QUERY, { n: 'many' });
    expect(status).toBe(400);
    expect(body.errors?.[0]).toMatchObject({
      message: expect.stringContaining('Variable "$n" got invalid value "many"'),
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(server.calls).toBe(0);
  });

  it('refuses a fragment bomb it cannot estimate, and does not count introspection', async () => {
    const server = createServer({ maxDepth: Number.POSITIVE_INFINITY });
    const fragments = Array.from(
      { length: 12 },
      (_, i) => `fragment F${i} on Question { id choices { question { ...F${i + 1} ...F${i + 1} } } }`,
    ).join('\n');
    const bomb = `{ question(id: 1) { ...F0 } }\n${fragments}\nfragment F12 on Question { id }`;
    const { status, body } = await server.run(bomb);
    expect(status).toBe(400);
    expect(body.errors?.[0]?.message).toMatch(/^Query too large to estimate: /);
    expect(server.calls).toBe(0);
    const introspection = await createServer().run(
      '{ __schema { types { name fields { name args { name type { name ofType { name ofType { name ofType { name } } } } } } } } }',
    );
    expect(introspection.body.errors).toBeUndefined();
  });

  it('Infinity turns a limit off; bad options fail at once, naming the option', async () => {
    const open = createServer({ maxDepth: Number.POSITIVE_INFINITY, maxCost: Number.POSITIVE_INFINITY });
    expect(open.limits.validationRules).toHaveLength(0);
    expect((await open.run(alternating(12))).body.errors).toBeUndefined();
    expect(createQueryLimits().options).toEqual({
      maxDepth: 10,
      maxCost: 20_000,
      defaultListSize: 10,
      listSizeArgument: 'first',
    });
    expect(() => createQueryLimits({ maxDepth: 0 })).toThrow(
      'createQueryLimits: options.maxDepth must be a positive integer or Infinity, got 0',
    );
    expect(() => createQueryLimits({ maxCost: 1.5 })).toThrow(/options\.maxCost must be a positive integer/);
    expect(() => createQueryLimits({ defaultListSize: -1 })).toThrow(/options\.defaultListSize/);
    expect(() => createQueryLimits({ listSizeArgument: '' })).toThrow(/options\.listSizeArgument/);
  });
});
