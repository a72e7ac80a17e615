/**
 * The subscriber suites' fixture: a private poll database (better-sqlite or Postgres) with a
 * CacheSubscriber that reports to a recording target instead of a cache, reseeded before each test.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { Choice, type IChoice } from '../../examples/poll/entities.js';
import { type SeededPoll, seedPoll } from '../../examples/poll/seed.js';
import { CacheSubscriber } from '../../src/mikro-orm/index.js';
import { createTestOrm, type TestDatabase, type TestOrm } from './mikro-orm.js';
import { createRecordingTarget } from './recording-target.js';

/** Registers the hooks of a subscriber suite (call inside `describe`) and returns its handles. */
export function useSubscriberFixture(database: TestDatabase, label: string) {
  let db: TestOrm | undefined;
  let seeded: SeededPoll | undefined;
  const target = createRecordingTarget({ lastStatement: () => db?.sql.statements.at(-1) });
  const errors: unknown[] = [];
  const subscriber = new CacheSubscriber(target, { onError: (error) => errors.push(error) });

  beforeAll(async () => {
    db = await createTestOrm(database, { label, subscribers: [subscriber] });
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await db!.orm.schema.clearDatabase();
    seeded = await seedPoll(db!.orm.em.fork(), {
      questions: 2,
      choicesPerQuestion: 2,
      users: 4,
      votesPerChoice: 2,
    });
    target.reset();
    errors.length = 0;
    db!.sql.reset();
  });

  const fixture = {
    target,
    errors,
    /** The test database (set once `beforeAll` ran). */
    get db(): TestOrm {
      return db!;
    },
    /** What was seeded for the current test. */
    get seeded(): SeededPoll {
      return seeded!;
    },
    /** A choice (default: the first seeded), with its voters loaded unless `populate` is false. */
    async choiceWith(em = db!.orm.em.fork(), id = seeded!.choiceIds[0]!, populate = true) {
      return {
        em,
        choice: await em.findOneOrFail(Choice, id, { populate: populate ? ['voters'] : [] }),
      } as const;
    },
    /** The choice's loaded voters as `User:pk` refs. */
    votersOf(choice: IChoice): string[] {
      return choice.voters.getItems().map((u) => `User:${u.id}`);
    },
  };
  return fixture;
}
