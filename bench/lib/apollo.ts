/**
 * The two benchmark queries and the one Apollo configuration every contestant gets, in its two
 * cache-control modes.
 */
import { readFileSync } from 'node:fs';
import {
  ApolloServer,
  type ApolloServerOptionsWithTypeDefs,
  type ApolloServerPlugin,
  type BaseContext,
} from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';

/** The v1 schema of the poll API, exactly as the example server serves it. */
export const typeDefsV1 = readFileSync(new URL('../../schema/v1/poll.graphql', import.meta.url), 'utf8');

/** The queries of the benchmark. */
export type QueryName = 'q1' | 'q2';

/** Q1: one page of questions → their choices → the first N voters of each (about 2,480 fields). */
export const Q1 = `query Q1($first: Int!, $voters: Int!) {
  questions(first: $first) {
    nodes {
      id
      questionText
      pubDate
      choices {
        id
        choiceText
        voters(first: $voters) {
          id
          username
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}`;

/** Q1's variables: 50 questions, 5 voters per choice. */
export const Q1_VARIABLES = { first: 50, voters: 5 } as const;

/** Q2: one question by id → its choices. */
export const Q2 = `query Q2($id: ID!) {
  question(id: $id) {
    id
    questionText
    pubDate
    choices {
      id
      choiceText
    }
  }
}`;

/** The mixed workload's writes: both return the choice's id only. */
export const VOTE =
  'mutation Vote($choiceId: ID!, $userId: ID!) { vote(choiceId: $choiceId, userId: $userId) { id } }';
export const UNVOTE =
  'mutation Unvote($choiceId: ID!, $userId: ID!) { unvote(choiceId: $choiceId, userId: $userId) { id } }';

/** How the Apollo servers are configured, for the report. */
export const APOLLO_CONFIG_NOTE =
  'every contestant: its resolvers + schema/v1, stopOnTerminationSignals: false, nothing else; "cache-control off" adds ' +
  'ApolloServerPluginCacheControlDisabled, "on" keeps Apollo\'s implicit cache-control plugin (which wraps every resolver); ' +
  'the response-cache contestant adds its two plugins to both';

/** A contestant's two servers: Apollo's cache-control plugin on (Apollo's default) and off. */
export interface ApolloPair<Context extends BaseContext> {
  readonly on: ApolloServer<Context>;
  readonly off: ApolloServer<Context>;
}

/** Creates and starts both servers with the common configuration (see {@link APOLLO_CONFIG_NOTE}). */
export async function startApolloPair<Context extends BaseContext>(
  resolvers: ApolloServerOptionsWithTypeDefs<Context>['resolvers'],
  extraPlugins: () => ApolloServerPlugin<Context>[] = () => [],
): Promise<ApolloPair<Context>> {
  const make = async (cacheControl: boolean) => {
    const server = new ApolloServer<Context>({
      typeDefs: typeDefsV1,
      resolvers,
      plugins: [...(cacheControl ? [] : [ApolloServerPluginCacheControlDisabled()]), ...extraPlugins()],
      stopOnTerminationSignals: false,
    });
    await server.start();
    return server;
  };
  return { on: await make(true), off: await make(false) };
}

/** What one request returned, and the library's own counters where it has them. */
export interface Outcome {
  readonly data: unknown;
  readonly errors?: readonly unknown[];
  /** Cache misses of this request (the library's `cacheStats.misses`); `undefined` for others. */
  readonly misses?: number;
  /** Store calls as the library counts them (cross-checked against Redis MONITOR). */
  readonly storeRoundTrips?: number;
}

/** Runs one operation through `executeOperation` (no HTTP) with a context made for this request. */
export async function execute<Context extends BaseContext>(
  server: ApolloServer<Context>,
  query: string,
  variables: Record<string, unknown>,
  contextValue: Context,
): Promise<Outcome> {
  const response = await server.executeOperation({ query, variables }, { contextValue });
  if (response.body.kind !== 'single') throw new Error('bench: expected a single (non-incremental) result');
  const { data, errors } = response.body.singleResult;
  return errors ? { data, errors } : { data };
}

/** Fails unless a mutation answered without errors. */
export function checkMutation(outcome: Outcome, what: string): void {
  if (outcome.errors && outcome.errors.length > 0) {
    throw new Error(`bench: ${what} failed: ${JSON.stringify(outcome.errors).slice(0, 300)}`);
  }
}

/** A JSON value (a cursor). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** The library's cursor encoding (base64url of the JSON), so every contestant returns equal cursors. */
export function encodeCursor(value: Json): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/**
 * A Relay connection for the contestants other than the library: `edges` is a getter, so cursors
 * are encoded only when asked for (Q1 does not). `end` is the last fetched row's cursor, as the
 * library reports it.
 */
export function connectionOf<T>(nodes: T[], cursors: readonly Json[], hasNextPage: boolean, end?: Json) {
  const last = end === undefined ? cursors[cursors.length - 1] : end;
  return {
    nodes,
    get edges() {
      return nodes.map((node, i) => ({ node, cursor: encodeCursor(cursors[i]!) }));
    },
    pageInfo: { hasNextPage, endCursor: last === undefined ? null : encodeCursor(last) },
  };
}

/** Counts the fields of a response (every key of every object, at every depth). */
export function countFields(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + countFields(item), 0);
  if (value !== null && typeof value === 'object') {
    let sum = 0;
    for (const child of Object.values(value)) sum += 1 + countFields(child);
    return sum;
  }
  return 0;
}
