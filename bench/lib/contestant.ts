import type { Outcome, QueryName } from './apollo.js';
import type { BenchDatabase, SqlCounter } from './databases.js';

/** One way of answering the benchmark's queries. Every contestant lives in the benchmark's one process. */
export interface Contestant {
  /** Stable id: `--only`, latest.json and the targets refer to it. Keep it across versions of the bench. */
  readonly id: string;
  readonly label: string;
  /** Where it reads from. */
  readonly database: 'sqlite' | 'postgres' | 'none';
  /** Its shared cache, if any. */
  readonly store: string;
  /** What a reader must know to read its numbers. */
  readonly notes: string;
  /** Its own database's SQL counter (`undefined`: it reads no database). */
  readonly sql?: SqlCounter;
  /** Its database, for the mixed workload's end check (`undefined`: it has none). */
  readonly db?: BenchDatabase;
  /** The prefix of every Redis key and channel it uses (for MONITOR counts and cleanup); none without Redis. */
  readonly redisPrefix?: string;
  /** It caches records or responses: its warm-up reads every question once, so Q2 is warm too. */
  readonly caches: boolean;
  /** Too slow for the full warm-up (the naive resolvers): it gets fewer warm-up requests, as the report says. */
  readonly slow?: boolean;
  /** One query through its Apollo server (cache-control on or off), context creation included. */
  request(query: QueryName, variables: Record<string, unknown>, cacheControl: boolean): Promise<Outcome>;
  /**
   * The mixed workload's write, through its own write path: `vote` or `unvote` as a GraphQL
   * mutation; resolves once the write committed AND its invalidation finished. Absent: it does
   * not take part in the mixed workload (the floor).
   */
  vote?(choiceId: number, userId: number, voted: boolean): Promise<void>;
  close(): Promise<void>;
}

/** Why a contestant is not in this run. */
export interface Skipped {
  readonly id: string;
  readonly reason: string;
}
