import type { ApolloServer, BaseContext } from '@apollo/server';
import { BENCH_QUERY } from './graphql.js';

/** Cache figures of one request, where a variant can tell them. */
export interface RequestCounters {
  /** Calls to the shared store (MGET, MULTI…EXEC): the library's `storeRoundTrips`, or counted on the client. */
  storeRoundTrips?: number;
  hits?: number;
  misses?: number;
  memoHits?: number;
}

/** What one request returned. */
export interface RequestOutcome {
  readonly data: unknown;
  readonly errors?: readonly unknown[];
  readonly counters?: RequestCounters;
}

/** One way of answering the benchmark query. */
export interface Variant {
  /** Stable id (used by `--only` and in latest.json; keep it stable across versions of the bench). */
  readonly id: string;
  readonly label: string;
  readonly transport: 'executeOperation' | 'http';
  /** Where the root list (and, for DataLoader variants, everything) is read from. */
  readonly database: 'sqlite' | 'postgres' | 'none';
  /** The shared cache, if any. */
  readonly store: string;
  /** The id of the per-request DataLoader + MikroORM variant this one is compared with. */
  readonly baseline: string;
  /** 1: measured with the others; 2: measured last (it changes the process for everything after it). */
  readonly phase: 1 | 2;
  /** What a reader must know to read the number. */
  readonly notes: string;
  /** One request, context creation included. */
  request(): Promise<RequestOutcome>;
  close(): Promise<void>;
}

/** The query's variables. */
export interface BenchVariables extends Record<string, unknown> {
  first: number;
}

/** Runs the benchmark query through `executeOperation` with a context made for this request. */
export async function executeBenchQuery<Context extends BaseContext>(
  server: ApolloServer<Context>,
  variables: BenchVariables,
  contextValue: Context,
): Promise<RequestOutcome> {
  const response = await server.executeOperation({ query: BENCH_QUERY, variables }, { contextValue });
  if (response.body.kind !== 'single') throw new Error('bench: expected a single (non-incremental) result');
  const { data, errors } = response.body.singleResult;
  return { data, ...(errors ? { errors } : {}) };
}
