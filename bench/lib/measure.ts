/**
 * Timing: chunks of requests, one contestant at a time, sequential or with N requests in flight,
 * a full GC before each chunk, heap sampled while it runs.
 */
import { getHeapStatistics } from 'node:v8';
import type { Outcome, QueryName } from './apollo.js';
import type { Contestant } from './contestant.js';

/** A full, synchronous garbage collection (the process runs with --expose-gc; see bench/run.ts). */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') throw new Error('bench: run me through bench/run.ts (it passes --expose-gc)');
  gc();
}

/** V8's used heap in bytes. */
export const heapUsed = () => getHeapStatistics().used_heap_size;

/** The heap left after a full GC (what is retained). */
export function retainedHeap(): number {
  collectGarbage();
  return heapUsed();
}

/** What one chunk measured. */
export interface Chunk {
  /** Per-request wall time (ms), in completion order. */
  readonly latencies: number[];
  /** From the chunk's first request sent to its last answer (ms). */
  readonly wallMs: number;
  /** SQL statements of the contestant's database during the chunk. */
  readonly sql: number;
  /** Cache misses the library reported (0 for others). */
  readonly misses: number;
  /** Largest heap seen during the chunk minus the heap after the GC before it (bytes). */
  readonly peakHeapGrowth: number;
}

/** How one chunk runs. */
export interface ChunkPlan {
  readonly query: QueryName;
  readonly cacheControl: boolean;
  /** Requests in flight (1: sequential). */
  readonly concurrency: number;
  /** Requests are started until this much time has passed (ms); those in flight then finish. */
  readonly durationMs: number;
  /** The next request's variables (Q2 draws a random id). */
  readonly variables: () => Record<string, unknown>;
}

function failOn(contestant: Contestant, outcome: Outcome, what: string): void {
  if (outcome.errors && outcome.errors.length > 0) {
    throw new Error(
      `bench: ${contestant.id} returned errors (${what}): ${JSON.stringify(outcome.errors).slice(0, 300)}`,
    );
  }
}

/**
 * Runs one chunk: a full GC, then `concurrency` workers that each send one request after another
 * until `durationMs` has passed. The heap is sampled after a request at most every 2 ms (a timer
 * would not fire while a CPU-bound contestant keeps the microtask queue busy).
 */
export async function runChunk(contestant: Contestant, plan: ChunkPlan): Promise<Chunk> {
  collectGarbage();
  const base = heapUsed();
  let peak = base;
  let lastSample = 0;
  let misses = 0;
  const latencies: number[] = [];
  const sqlBefore = contestant.sql?.statements ?? 0;
  const start = performance.now();
  const deadline = start + plan.durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const variables = plan.variables();
      const t0 = performance.now();
      const outcome = await contestant.request(plan.query, variables, plan.cacheControl);
      const t1 = performance.now();
      latencies.push(t1 - t0);
      failOn(contestant, outcome, `timed ${plan.query}`);
      misses += outcome.misses ?? 0;
      if (t1 - lastSample >= 2) {
        lastSample = t1;
        const heap = heapUsed();
        if (heap > peak) peak = heap;
      }
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  return {
    latencies,
    wallMs: performance.now() - start,
    sql: (contestant.sql?.statements ?? sqlBefore) - sqlBefore,
    misses,
    peakHeapGrowth: peak - base,
  };
}

/** Latency and throughput of a contestant in one scenario, over all its chunks. */
export interface Summary {
  readonly requests: number;
  /** Requests ÷ the chunks' wall time. */
  readonly rps: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly sqlPerRequest: number | null;
  readonly missesPerRequest: number;
  /** Largest heap growth over its chunks, in MB. */
  readonly peakHeapGrowthMB: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** Sums the chunks of one contestant in one scenario. */
export function summarize(chunks: readonly Chunk[], countsSql: boolean): Summary {
  const latencies = chunks.flatMap((c) => c.latencies).sort((a, b) => a - b);
  const requests = latencies.length;
  const wallMs = chunks.reduce((sum, c) => sum + c.wallMs, 0);
  return {
    requests,
    rps: (requests * 1000) / wallMs,
    meanMs: latencies.reduce((sum, x) => sum + x, 0) / requests,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    sqlPerRequest: countsSql ? chunks.reduce((sum, c) => sum + c.sql, 0) / requests : null,
    missesPerRequest: chunks.reduce((sum, c) => sum + c.misses, 0) / requests,
    peakHeapGrowthMB: Math.max(...chunks.map((c) => c.peakHeapGrowth)) / 2 ** 20,
  };
}
