import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { sqlCounter } from './services.js';
import type { RequestOutcome, Variant } from './variant.js';

/** Everything measured for one variant. */
export interface Measurement {
  /** Per-request wall time (ms), in the order taken. */
  readonly samples: number[];
  /** Sums over the timed requests. */
  sql: number;
  storeRoundTrips: number;
  hits: number;
  misses: number;
  memoHits: number;
  /** Timed requests that reported store round trips. */
  withCounters: number;
  /** Timed requests that reported hits, misses and memo hits (the library's variants). */
  withHits: number;
}

/** Summary statistics of one variant (ms unless stated). */
export interface Summary {
  readonly n: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly min: number;
  readonly max: number;
  /** Requests per second, one at a time: 1000 / mean. */
  readonly rps: number;
}

/** A full collection between timed batches, so one variant's garbage is not collected on another's clock. */
export const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  return typeof gc === 'function' ? gc : () => {};
})();

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
  const from = Math.max(0, i - 80);
  return `at character ${i}:\n  expected …${a.slice(from, i + 80)}…\n  got      …${b.slice(from, i + 80)}…`;
}

/**
 * Checks that a variant answers exactly like the reference: no errors, and the same JSON.
 * Throws with the first difference otherwise.
 */
export function checkOutcome(
  variant: Variant,
  outcome: RequestOutcome,
  reference: string,
  when: string,
): void {
  if (outcome.errors && outcome.errors.length > 0) {
    throw new Error(
      `bench: ${variant.id} (${when}) returned errors: ${JSON.stringify(outcome.errors).slice(0, 500)}`,
    );
  }
  const json = JSON.stringify(outcome.data);
  if (json !== reference) {
    throw new Error(
      `bench: ${variant.id} (${when}) does not return the same result as the floor ${firstDifference(reference, json)}`,
    );
  }
}

/**
 * Warms every variant: `count` untimed requests each, in turn. Returns each variant's mean time
 * over the second half of its warm-up (the first requests still compile), to size the timed runs.
 */
export async function warmUp(variants: readonly Variant[], count: number): Promise<Map<string, number>> {
  const speed = new Map<string, number>();
  for (const variant of variants) {
    const times: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const start = performance.now();
      await variant.request();
      times.push(performance.now() - start);
    }
    const tail = times.slice(Math.floor(times.length / 2));
    speed.set(variant.id, tail.length > 0 ? tail.reduce((a, b) => a + b, 0) / tail.length : 1);
  }
  return speed;
}

/** How many timed requests each variant gets: fixed, or what fits its time budget (clamped). */
export function planIterations(
  variants: readonly Variant[],
  warmMs: ReadonlyMap<string, number>,
  plan: { fixed: number | null; budgetMs: number; min: number; max: number },
): Map<string, number> {
  return new Map(
    variants.map((v) => {
      if (plan.fixed !== null) return [v.id, plan.fixed];
      const fits = Math.round(plan.budgetMs / Math.max(warmMs.get(v.id) ?? 1, 0.001));
      return [v.id, Math.min(plan.max, Math.max(plan.min, fits))];
    }),
  );
}

/**
 * Times `iterations.get(id)` requests per variant, one request at a time. Each variant's requests
 * are split into `rounds`; each round runs every variant's batch back to back, the order rotating
 * from round to round, with a full GC before each batch: slow drifts of a shared machine (other
 * load, heap growth, JIT) are spread over all variants instead of landing on whichever ran last.
 */
export async function timeVariants(
  variants: readonly Variant[],
  iterations: ReadonlyMap<string, number>,
  rounds: number,
  onRound?: (round: number) => void,
  beforeBatch?: (variant: Variant) => void,
): Promise<Map<string, Measurement>> {
  const results = new Map<string, Measurement>(
    variants.map((v) => [
      v.id,
      {
        samples: [],
        sql: 0,
        storeRoundTrips: 0,
        hits: 0,
        misses: 0,
        memoHits: 0,
        withCounters: 0,
        withHits: 0,
      },
    ]),
  );
  for (let round = 0; round < rounds; round += 1) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
    for (const variant of order) {
      const m = results.get(variant.id)!;
      const total = iterations.get(variant.id) ?? 1;
      const batch = Math.ceil((total * (round + 1)) / rounds) - Math.ceil((total * round) / rounds);
      beforeBatch?.(variant);
      collectGarbage();
      for (let i = 0; i < batch; i += 1) {
        const sqlBefore = sqlCounter.statements;
        const start = performance.now();
        const outcome = await variant.request();
        const elapsed = performance.now() - start;
        m.samples.push(elapsed);
        m.sql += sqlCounter.statements - sqlBefore;
        if (outcome.errors && outcome.errors.length > 0) {
          throw new Error(
            `bench: ${variant.id} returned errors while timed: ${JSON.stringify(outcome.errors).slice(0, 300)}`,
          );
        }
        const c = outcome.counters;
        if (c) {
          m.withCounters += 1;
          m.storeRoundTrips += c.storeRoundTrips ?? 0;
          if (c.hits !== undefined) {
            m.withHits += 1;
            m.hits += c.hits;
            m.misses += c.misses ?? 0;
            m.memoHits += c.memoHits ?? 0;
          }
        }
      }
    }
    onRound?.(round);
  }
  return results;
}

/** Mean, nearest-rank percentiles, extremes and throughput of the samples. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const rank = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  const mean = sorted.reduce((sum, x) => sum + x, 0) / n;
  return { n, mean, p50: rank(0.5), p95: rank(0.95), min: sorted[0]!, max: sorted[n - 1]!, rps: 1000 / mean };
}
