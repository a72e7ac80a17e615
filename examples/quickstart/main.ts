/**
 * A walk-through of the core API on the in-memory store: a batched miss, hits, a write and the
 * cascade it triggers, and a stale fill that is never served. Run it with `npm run quickstart`.
 *
 * The "database" here is two arrays, so the walk-through needs nothing but Node; the MikroORM
 * integration (`graphql-cached-instances/mikro-orm`) does the same against real SQL.
 */
import {
  codecs,
  createLoaders,
  createStats,
  defineModel,
  defineStrategy,
  InstanceCache,
  type Pk,
} from '../../src/index.js';

const questions = [
  { id: 1, text: 'Best color?', pubDate: new Date('2024-05-01T10:00:00Z') },
  { id: 2, text: 'Best pet?', pubDate: new Date('2024-05-02T10:00:00Z') },
];
const choices = [
  { id: 1, text: 'Red', questionId: 1 },
  { id: 2, text: 'Blue', questionId: 1 },
  { id: 3, text: 'Cat', questionId: 2 },
];
let queries = 0;
// Step 4 pauses a load, like a slow query: `entered` resolves once the load has read its rows.
let hold: { entered: () => void; until: Promise<void> } | undefined;

// 1. Declare, per model, a batched loader, a serializer to a JSON-safe record (related instances
//    as pk lists) and an invalidator naming what else changes when this instance does.
const Question = defineModel('Question', {
  async load(pks: readonly Pk[]) {
    queries += 1; // one "SELECT … WHERE id IN (…)" for the whole batch
    const rows = questions
      .filter((q) => pks.includes(q.id))
      .map((q) => ({ ...q, choiceIds: choices.filter((c) => c.questionId === q.id).map((c) => c.id) }));
    if (hold) {
      // The rows were read before the wait: they may be stale by the end.
      const { entered, until } = hold;
      hold = undefined;
      entered();
      await until;
    }
    return rows;
  },
  serialize: (q) => ({ id: q.id, text: q.text, pubDate: q.pubDate, choiceIds: q.choiceIds }),
  codecs: { pubDate: codecs.datetime, choiceIds: codecs.pkList },
  invalidate: () => [],
});
const Choice = defineModel('Choice', {
  load(pks: readonly Pk[]) {
    queries += 1;
    return choices.filter((c) => pks.includes(c.id));
  },
  serialize: (c) => ({ id: c.id, text: c.text, questionId: c.questionId }),
  codecs: { questionId: codecs.pk },
  // A choice's question lists it: name the new parent and the previous one (a move refreshes both).
  invalidate: (choice, previous) =>
    [choice?.questionId, previous?.questionId].flatMap((pk) =>
      pk === undefined ? [] : [{ model: 'Question', pk }],
    ),
});

const strategy = defineStrategy({ versions: ['v1'], models: [Question, Choice] });
const cache = new InstanceCache(strategy); // in-memory store by default; createRedisStore() for production

function show(step: string, stats: ReturnType<typeof createStats>, extra = '') {
  console.log(
    `${step.padEnd(46)} store round trips ${stats.storeRoundTrips}, hits ${stats.hits}, misses ${stats.misses}, loads ${stats.loads}, queries so far ${queries}${extra}`,
  );
}

// 2. A request: per-request DataLoaders batch every load of a tick into one cache read.
async function request(label: string) {
  const stats = createStats();
  const loaders = createLoaders(cache, { stats });
  const qs = (await loaders.Question.loadMany([1, 2])) as { text: string; choiceIds: number[] }[];
  const cs = await Promise.all(qs.flatMap((q) => q.choiceIds.map((id) => loaders.Choice.load(id))));
  show(label, stats);
  return { questions: qs, choices: cs };
}

console.log('graphql-cached-instances quickstart (in-memory store)\n');
await request('1. cold request: batched misses');
await request('2. same request again: all hits');

// 3. A write: move Choice 2 from Question 1 to Question 2, then tell the cache (the MikroORM
//    subscriber does this for you after the commit).
choices[1]!.questionId = 2;
const summary = await cache.update([{ model: 'Choice', pk: 2 }]);
console.log(`\n3. write: Choice 2 moves to Question 2; update() → ${JSON.stringify(summary)}`);
const after = await request('   next request');
console.log(
  `   Question 1 choices ${JSON.stringify(after.questions[0]!.choiceIds)}, Question 2 choices ${JSON.stringify(after.questions[1]!.choiceIds)}`,
);

// 4. A race: a reader loads the old row, a write commits and is refreshed, then the reader tries
//    to fill. The key no longer holds the marker the reader saw before loading, so the store
//    refuses the fill: what the reader loaded is never served.
let release!: () => void;
const entered = new Promise<void>((resolve) => {
  hold = {
    entered: resolve,
    until: new Promise<void>((go) => {
      release = go;
    }),
  };
});
await cache.deleteAllVersions('Question', 1); // make the next read a miss
const reader = cache.getInstances('Question', [1]);
await entered; // the reader is now inside load(), holding the old row
questions[0]!.text = 'Favourite color?';
await cache.update([{ model: 'Question', pk: 1 }]); // the write and its refresh
const fills = cache.stats.fills;
release();
const [raced] = await reader;
const loads = cache.stats.loads;
const [next] = await cache.getInstances('Question', [1]);
console.log(`\n4. race: the reader that started before the write got "${(raced as { text: string }).text}";`);
console.log(
  `   its late fill was refused (fills landed: ${cache.stats.fills - fills}); the next read got "${(next as { text: string }).text}" with ${cache.stats.loads - loads} loads`,
);
console.log(`\nprocess totals: ${JSON.stringify(cache.stats)}`);
