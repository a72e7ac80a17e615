import { DefaultLogger, type LogContext, type LoggerOptions } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Question } from '../../examples/poll/entities.js';
import { createPollOrm } from '../../examples/poll/orm.js';
import { createSqlCounter, runWithSqlCounter } from '../../src/apollo/index.js';
import { createSqlCountingLoggerFactory } from '../../src/mikro-orm/index.js';

// SQL counting without hand wiring, on a real MikroORM (better-sqlite): the logger factory counts
// each statement into the request scope it runs in, and still hands every call to the base logger.
describe('createSqlCountingLoggerFactory', () => {
  const seen: LogContext[] = [];
  class RecordingLogger extends DefaultLogger {
    override logQuery(context: { query: string } & LogContext): void {
      seen.push(context);
      super.logQuery(context);
    }
  }
  let orm: Awaited<ReturnType<typeof createPollOrm>>;

  beforeAll(async () => {
    orm = await createPollOrm({
      loggerFactory: createSqlCountingLoggerFactory((options: LoggerOptions) => new RecordingLogger(options)),
    });
  });
  afterAll(async () => {
    await orm?.close(true);
  });

  it('counts every statement a request runs into its own counter, failed ones not, and nothing outside a scope', async () => {
    const first = createSqlCounter();
    const second = createSqlCounter();
    const before = seen.length;
    await Promise.all([
      runWithSqlCounter(first, async () => {
        const em = orm.em.fork();
        await em.count(Question);
        await em.find(Question, {});
        await em
          .getConnection()
          .execute('select 1 from question_that_does_not_exist')
          .catch(() => undefined);
      }),
      runWithSqlCounter(second, () => orm.em.fork().count(Question)),
    ]);
    expect(first.queries).toBe(2);
    expect(second.queries).toBe(1);
    await orm.em.fork().count(Question); // no scope: counted nowhere
    expect([first.queries, second.queries]).toEqual([2, 1]);
    // The base logger saw every statement, the failed one included (level 'error').
    expect(seen.length - before).toBe(5);
    expect(seen.filter((context) => context.level === 'error')).toHaveLength(1);
  });

  it('checks its argument', () => {
    expect(() => createSqlCountingLoggerFactory(42 as never)).toThrow(
      'createSqlCountingLoggerFactory(base): base must be a MikroORM loggerFactory, got number',
    );
  });
});
