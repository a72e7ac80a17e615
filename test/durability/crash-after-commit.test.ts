import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PollCacheRecords } from '../../examples/poll/context.js';
import { Question } from '../../examples/poll/entities.js';
import { createPollOrm } from '../../examples/poll/orm.js';
import { seedPoll } from '../../examples/poll/seed.js';
import { createPollStrategy } from '../../examples/poll/strategy.js';
import { InstanceCache } from '../../src/index.js';
import { CacheJournal, CacheJournalEntry } from '../../src/mikro-orm/index.js';
import { createRedisStore, type RedisStore } from '../../src/redis.js';
import { REDIS_URL, redisAvailable } from '../support/redis.js';
import { POSTGRES_URL, servicesAvailable } from '../support/services.js';

// A server process killed between COMMIT and its refresh (the failure the durability issue
// reproduced: the question kept its old text on every server, in both versions, for good). The
// writer is a real child process on a real database and the shared Redis; it stops at the chosen
// point and is killed with SIGKILL. This process is "the other server": it reads the stale
// record first (the failure is real), then its journal recovery applies the entry the dead
// process left behind, and every version reads the committed text.

type Stop = 'before-refresh' | 'after-mark';
type Message = { ready?: true; stopped?: Stop; flushed?: true };

const databases = [
  'sqlite' as const,
  ...((await servicesAvailable('postgres')) ? (['postgres'] as const) : []),
];

describe.runIf(redisAvailable).each(databases)('a writer killed after COMMIT, on %s', (kind) => {
  let dir: string;
  let database: string;
  let orm: MikroORM;
  let store: RedisStore;
  const namespace = `test-crash-${kind}-${process.pid}-${Date.now().toString(36)}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gci-crash-'));
    database =
      kind === 'sqlite'
        ? join(dir, 'poll.sqlite')
        : POSTGRES_URL.replace(/\/[^/]*$/, `/gci_crash_${process.pid}_${Date.now().toString(36)}`);
    orm = await createPollOrm({ database });
    await seedPoll(orm.em.fork(), { questions: 3, choicesPerQuestion: 2, users: 4, votesPerChoice: 1 });
    store = await createRedisStore({ url: REDIS_URL, namespace });
  });
  afterAll(async () => {
    await store?.deleteByPrefix('');
    await store?.close();
    if (kind === 'postgres') await orm?.schema.dropDatabase();
    await orm?.close(true);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The question's text as `cache` serves it, in v1 (`questionText`) and v2 (`text`). */
  async function texts(cache: InstanceCache<PollCacheRecords>, id: number): Promise<unknown[]> {
    const [v1] = (await cache.getInstances('Question', [id], { version: 'v1' })) as {
      questionText: string;
    }[];
    const [v2] = (await cache.getInstances('Question', [id], { version: 'v2' })) as { text: string }[];
    return [v1?.questionText, v2?.text];
  }

  it.each(['before-refresh', 'after-mark'] as const)(
    'stopped %s and killed: stale until the journal entry is recovered, then fresh in every version',
    async (stopAt: Stop) => {
      const id = stopAt === 'before-refresh' ? 1 : 2;
      const reader = new InstanceCache(createPollStrategy(orm), { store });
      const before = (await orm.em.fork().findOneOrFail(Question, id)).questionText;
      // Both versions cached with the text of before the write.
      expect(await texts(reader, id)).toEqual([before, before]);

      const writer: ChildProcess = fork(
        new URL('../support/processes/poll-writer.ts', import.meta.url).pathname,
        [database, REDIS_URL, namespace, stopAt],
        { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      );
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        writer.once('exit', (_code, signal) => resolve(signal)),
      );
      const messages: Message[] = [];
      const next = (match: (m: Message) => boolean) =>
        new Promise<Message>((resolve, reject) => {
          const on = (m: Message) => {
            messages.push(m);
            if (match(m)) {
              writer.off('message', on);
              resolve(m);
            }
          };
          writer.on('message', on);
          writer.once('exit', (code) =>
            reject(new Error(`the writer exited (${code}) before the expected message`)),
          );
        });
      await next((m) => m.ready === true);
      const text = `renamed before a crash (${stopAt})`;
      const stopped = next((m) => m.stopped !== undefined);
      writer.send({ rename: { id, text } });
      expect((await stopped).stopped).toBe(stopAt);
      writer.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      expect(messages.some((m) => m.flushed)).toBe(false);

      // The write committed, with its journal entry; no refresh ever finished.
      const em = orm.em.fork();
      expect((await em.findOneOrFail(Question, id)).questionText).toBe(text);
      const entries = await em.find(CacheJournalEntry, { appliedAt: null });
      expect(entries).toHaveLength(1);
      expect(JSON.parse(entries[0]!.refs)).toContainEqual({ model: 'Question', pk: id });

      // What this other server serves until recovery: the old text, in both versions.
      const other = new InstanceCache(createPollStrategy(orm), { store });
      expect(await texts(other, id)).toEqual([before, before]);

      // Recovery (grace 1 ms here; 10 s by default) applies what the dead process left behind.
      const journal = new CacheJournal(orm, other, { grace: 1 });
      const report = await journal.recover();
      expect(report).toMatchObject({ applied: 1, storeWentBack: false, droppedAll: false });
      await journal.close();
      expect(await texts(other, id)).toEqual([text, text]);
      expect(await texts(reader, id)).toEqual([text, text]);
      expect(await orm.em.fork().count(CacheJournalEntry, { appliedAt: null })).toBe(0);
      // Applying it again changes nothing.
      expect((await other.update([{ model: 'Question', pk: id }])).refreshed).toBe(0);
    },
  );
});
