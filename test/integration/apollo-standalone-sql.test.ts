import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { DefaultLogger, type LogContext, type MikroORM } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPollRequestContext, type PollContext } from '../../examples/poll/context.js';
import { createPollOrm } from '../../examples/poll/orm.js';
import { resolversV2 } from '../../examples/poll/resolvers-v2.js';
import { type SeededPoll, seedPoll } from '../../examples/poll/seed.js';
import { createPollStrategy } from '../../examples/poll/strategy.js';
import {
  ApolloServerPluginCacheStats,
  cachedContext,
  type ResponseCacheStats,
} from '../../src/apollo/index.js';
import { InstanceCache, InvalidOptionError } from '../../src/index.js';
import { createSqlCountingLoggerFactory } from '../../src/mikro-orm/index.js';

const typeDefs = readFileSync(new URL('../../schema/v2/poll.graphql', import.meta.url), 'utf8');

/**
 * `ApolloServerPluginCacheStats({ countSql: true })` on Apollo's own `startStandaloneServer`,
 * which has no place for a per-request scope: each request's statements still land in its own
 * `extensions.cache.sql`, concurrent requests apart, and without the option `sql` stays 0.
 */
describe('countSql on startStandaloneServer', () => {
  let orm: MikroORM;
  let seeded: SeededPoll;
  /** Every statement MikroORM ran, whichever request ran it. */
  let statements = 0;
  const servers: { url: string; stop(): Promise<void> }[] = [];

  class CountingLogger extends DefaultLogger {
    override logQuery(context: { query: string } & LogContext): void {
      if (context.level !== 'error') statements += 1;
      super.logQuery(context);
    }
  }

  /** A v2 server on a free port with a cache of its own (every read starts cold). */
  async function serve(countSql: boolean) {
    const cache = new InstanceCache(createPollStrategy(orm));
    const server = new ApolloServer<PollContext>({
      typeDefs,
      resolvers: resolversV2,
      plugins: [
        ApolloServerPluginCacheStats<PollContext>({ enabled: true, countSql }),
        ApolloServerPluginCacheControlDisabled(),
      ],
    });
    const { url } = await startStandaloneServer(server, {
      listen: { port: 0, host: '127.0.0.1' },
      context: cachedContext(cache, createPollRequestContext(orm), { version: 'v2' }),
    });
    const handle = { url, stop: () => server.stop() };
    servers.push(handle);
    return handle;
  }

  async function ask(url: string, id: number): Promise<{ text: string; cache: ResponseCacheStats }> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `{ question(id: ${id}) { text choices { choiceText voteCount voters { username } } } }`,
      }),
    });
    const body = (await response.json()) as {
      data?: { question: { text: string } };
      errors?: unknown[];
      extensions: { cache: ResponseCacheStats };
    };
    if (!body.data) throw new Error(`no data: ${JSON.stringify(body.errors)}`);
    return { text: body.data.question.text, cache: body.extensions.cache };
  }

  beforeAll(async () => {
    orm = await createPollOrm({
      loggerFactory: createSqlCountingLoggerFactory((o) => new CountingLogger(o)),
    });
    seeded = await seedPoll(orm.em.fork(), {
      questions: 4,
      choicesPerQuestion: 3,
      users: 6,
      votesPerChoice: 2,
    });
  });
  afterAll(async () => {
    for (const server of servers) await server.stop();
    await orm?.close(true);
  });

  it('a cold request reports the statements it ran; the same request warm reports none', async () => {
    const { url } = await serve(true);
    const id = seeded.questionIds[0]!;
    const before = statements;
    const cold = await ask(url, id);
    expect(cold.cache.misses).toBeGreaterThan(0);
    expect(cold.cache.sql).toBeGreaterThan(0);
    expect(cold.cache.sql).toBe(statements - before);
    const warm = await ask(url, id);
    expect(warm.text).toBe(cold.text);
    expect(warm.cache).toMatchObject({ sql: 0, misses: 0 });
  });

  it('requests in flight together each count their own statements', async () => {
    const { url } = await serve(true);
    const [a, b] = [seeded.questionIds[1]!, seeded.questionIds[2]!];
    const before = statements;
    const answers = await Promise.all([ask(url, a), ask(url, b)]);
    for (const answer of answers) expect(answer.cache.sql).toBeGreaterThan(0);
    expect(answers[0]!.cache.sql + answers[1]!.cache.sql).toBe(statements - before);
  });

  it('without countSql there is no scope, and sql stays 0 while the statements run', async () => {
    const { url } = await serve(false);
    const before = statements;
    const cold = await ask(url, seeded.questionIds[3]!);
    expect(statements - before).toBeGreaterThan(0);
    expect(cold.cache.sql).toBe(0);
  });

  it('refuses a countSql that is not a boolean', () => {
    expect(() => ApolloServerPluginCacheStats({ countSql: 'yes' as never })).toThrow(InvalidOptionError);
    expect(() => ApolloServerPluginCacheStats({ countSql: 'yes' as never })).toThrow(
      'ApolloServerPluginCacheStats: options.countSql must be a boolean, got yes',
    );
  });
});
