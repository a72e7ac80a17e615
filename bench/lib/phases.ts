/**
 * The phases every contestant goes through before and while it is timed: verification against the
 * floor, warm-up, the timed scenarios in interleaved rounds, and the Redis MONITOR sample.
 */
import { createRandom } from '../../examples/poll/seed.js';
import { type Outcome, Q1_VARIABLES, type QueryName } from './apollo.js';
import type { Contestant } from './contestant.js';
import { type Chunk, runChunk, type Summary, summarize } from './measure.js';
import type { RedisMonitor } from './redis-monitor.js';
import type { RequestCounts } from './targets.js';

/** The floor's answers: what every contestant must return, byte for byte. */
export interface Reference {
  readonly q1: string;
  /** Q2 answers of the verification ids. */
  readonly q2: ReadonlyMap<number, string>;
}

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
  const from = Math.max(0, i - 60);
  return `at character ${i}:\n  expected …${a.slice(from, i + 80)}…\n  got      …${b.slice(from, i + 80)}…`;
}

/** Throws unless the outcome has no errors and its data serializes exactly to `expected`. */
export function checkAnswer(contestant: Contestant, outcome: Outcome, expected: string, what: string): void {
  if (outcome.errors && outcome.errors.length > 0) {
    throw new Error(
      `bench: ${contestant.id} (${what}) returned errors: ${JSON.stringify(outcome.errors).slice(0, 500)}`,
    );
  }
  const json = JSON.stringify(outcome.data);
  if (json !== expected) {
    const whom = contestant.id === 'floor' ? 'the answer computed from the data' : 'the floor';
    throw new Error(
      `bench: ${contestant.id} (${what}) does not answer like ${whom} ${firstDifference(expected, json)}`,
    );
  }
}

/**
 * Asks Q1 and every verification Q2 in both cache-control modes and checks each answer against
 * the floor's. Returns the cache misses the library reported over these requests.
 */
export async function verify(contestant: Contestant, reference: Reference, when: string): Promise<number> {
  let misses = 0;
  for (const cacheControl of [false, true]) {
    const mode = `${when}, cache-control ${cacheControl ? 'on' : 'off'}`;
    const q1 = await contestant.request('q1', Q1_VARIABLES, cacheControl);
    checkAnswer(contestant, q1, reference.q1, `Q1, ${mode}`);
    misses += q1.misses ?? 0;
    for (const [id, expected] of reference.q2) {
      const q2 = await contestant.request('q2', { id: String(id) }, cacheControl);
      checkAnswer(contestant, q2, expected, `Q2 id ${id}, ${mode}`);
      misses += q2.misses ?? 0;
    }
  }
  return misses;
}

/** Draws Q2 ids uniformly from every question, from a seeded PRNG (the same sequence for every contestant). */
export function q2Ids(questionIds: readonly number[], seed: number): () => Record<string, unknown> {
  const random = createRandom(seed);
  return () => ({ id: String(questionIds[Math.floor(random() * questionIds.length)]!) });
}

/** How much warming a contestant gets. */
export interface WarmupPlan {
  readonly q1: number;
  readonly q2: number;
  readonly seconds: number;
  /** Timed cache-control modes: a caching contestant reads every question once in each. */
  readonly modes: readonly boolean[];
}

/**
 * Warms a contestant: a caching one first reads every question once per timed mode (so Q2 on
 * random ids is warm, response cache included); then one Q1 and ten Q2 at a time, modes
 * alternating, until both counts and the time are reached. Returns what it sent.
 */
export async function warmUp(
  contestant: Contestant,
  questionIds: readonly number[],
  plan: WarmupPlan,
): Promise<{ q1: number; q2: number; seconds: number }> {
  const start = performance.now();
  let q1 = 0;
  let q2 = 0;
  const send = async (query: QueryName, variables: Record<string, unknown>, cacheControl: boolean) => {
    const outcome = await contestant.request(query, variables, cacheControl);
    if (outcome.errors && outcome.errors.length > 0) {
      throw new Error(
        `bench: ${contestant.id} failed while warming up: ${JSON.stringify(outcome.errors).slice(0, 300)}`,
      );
    }
    if (query === 'q1') q1 += 1;
    else q2 += 1;
  };
  if (contestant.caches) {
    for (const cacheControl of plan.modes) {
      for (const id of questionIds) await send('q2', { id: String(id) }, cacheControl);
    }
  }
  const next = q2Ids(questionIds, 99);
  // One Q1 then ten Q2 per step (their costs differ by about that much), modes alternating.
  for (let i = 0; q1 < plan.q1 || q2 < plan.q2 || performance.now() - start < plan.seconds * 1000; i += 1) {
    const cacheControl = plan.modes[i % plan.modes.length]!;
    await send('q1', Q1_VARIABLES, cacheControl);
    for (let j = 0; j < 10; j += 1) await send('q2', next(), cacheControl);
  }
  return { q1, q2, seconds: (performance.now() - start) / 1000 };
}

/** One timed scenario. */
export interface Scenario {
  readonly id: string;
  readonly query: QueryName;
  readonly concurrency: number;
  readonly cacheControl: boolean;
}

/**
 * Times every contestant in one scenario: `rounds` rounds, each running one chunk per contestant
 * (a GC first, then `chunkMs` of requests), the order rotating by one each round so that no
 * contestant always follows the same one. Q2 ids come from one seeded sequence per contestant.
 */
export async function timeScenario(
  contestants: readonly Contestant[],
  scenario: Scenario,
  rounds: number,
  chunkMs: number,
  questionIds: readonly number[],
  seed: number,
): Promise<Map<string, Summary>> {
  const chunks = new Map<string, Chunk[]>(contestants.map((c) => [c.id, []]));
  const variables = new Map(
    contestants.map((c) => [
      c.id,
      scenario.query === 'q1' ? () => ({ ...Q1_VARIABLES }) : q2Ids(questionIds, seed),
    ]),
  );
  for (let round = 0; round < rounds; round += 1) {
    for (let i = 0; i < contestants.length; i += 1) {
      const contestant = contestants[(i + round) % contestants.length]!;
      const chunk = await runChunk(contestant, {
        query: scenario.query,
        cacheControl: scenario.cacheControl,
        concurrency: scenario.concurrency,
        durationMs: chunkMs,
        variables: variables.get(contestant.id)!,
      });
      chunks.get(contestant.id)!.push(chunk);
    }
  }
  return new Map(contestants.map((c) => [c.id, summarize(chunks.get(c.id)!, c.sql !== undefined)]));
}

/** Counts Redis commands and keys of `requests` sequential requests of one query (cache-control off). */
export async function sampleRedis(
  monitor: RedisMonitor,
  contestant: Contestant,
  query: QueryName,
  variables: () => Record<string, unknown>,
  requests: number,
): Promise<{ redis: NonNullable<RequestCounts['redis']>; libraryRoundTrips: number | null }> {
  let library: number | null = null;
  const sample = await monitor.sample(contestant.redisPrefix!, async () => {
    for (let i = 0; i < requests; i += 1) {
      const outcome = await contestant.request(query, variables(), false);
      if (outcome.storeRoundTrips !== undefined) library = (library ?? 0) + outcome.storeRoundTrips;
    }
  });
  return { redis: { ...sample, requests }, libraryRoundTrips: library };
}
