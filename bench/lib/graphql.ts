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

/**
 * The benchmark query: one page of questions, each with its choices, each with its voters
 * (questions → choices → voters, three levels below the root list).
 */
export const BENCH_QUERY = `query BenchQuestions($first: Int!) {
  questions(first: $first) {
    nodes {
      id
      questionText
      pubDate
      choices {
        id
        choiceText
        voters {
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

/**
 * What every executeOperation variant's Apollo server gets, so they differ only in resolvers and
 * context: Apollo's implicit cache-control plugin is replaced by
 * `ApolloServerPluginCacheControlDisabled` (it wraps every resolver; DESIGN §7), and Apollo's own
 * signal handlers are off. Nothing else is configured.
 */
export const SERVER_OPTIONS_NOTE =
  'every Apollo server: ApolloServerPluginCacheControlDisabled, stopOnTerminationSignals: false, nothing else (the response-cache variant adds its two plugins)';

/** Creates and starts an Apollo server with the common options (see {@link SERVER_OPTIONS_NOTE}). */
export async function startApollo<Context extends BaseContext>(
  resolvers: ApolloServerOptionsWithTypeDefs<Context>['resolvers'],
  extraPlugins: ApolloServerPlugin<Context>[] = [],
): Promise<ApolloServer<Context>> {
  const server = new ApolloServer<Context>({
    typeDefs: typeDefsV1,
    resolvers,
    plugins: [ApolloServerPluginCacheControlDisabled(), ...extraPlugins],
    stopOnTerminationSignals: false,
  });
  await server.start();
  return server;
}

/** A JSON value (a cursor). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** The same cursor encoding as the library (base64url of the JSON), so every variant returns equal cursors. */
export function encodeCursor(value: Json): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/**
 * A Relay connection for the variants other than the library's own: `edges` is a getter, so its
 * cursors are encoded only when a query asks for edges (the benchmark query does not). `end` is the
 * cursor value of the last row fetched (default: the last node's), as the library reports it.
 */
export function connectionOf<T>(
  nodes: T[],
  cursors: readonly Json[],
  hasNextPage: boolean,
  end: Json | undefined = cursors[cursors.length - 1],
) {
  return {
    nodes,
    get edges() {
      return nodes.map((node, i) => ({ node, cursor: encodeCursor(cursors[i]!) }));
    },
    pageInfo: { hasNextPage, endCursor: end === undefined ? null : encodeCursor(end) },
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
