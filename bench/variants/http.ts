/**
 * The library over HTTP: `serveVersions` (the example server's setup: express 5 with Apollo's
 * express integration, cache-control disabled, no stats plugin) on a loopback port, asked by a keep-alive `node:http`
 * client in the same process. Adds body parsing, JSON serialization and the socket round trip
 * to the executeOperation number; the client's own work is in the number too.
 *
 * `countSql: true` (opt-in; the example server turns it on) runs every request inside an AsyncLocalStorage scope.
 * On Node 20 an enabled AsyncLocalStorage slows EVERY promise of the process from then on, so the
 * variant with it is measured last (phase 2).
 */

import type { IncomingMessage } from 'node:http';
import { Agent, request } from 'node:http';
import type { PollContext } from '../../examples/poll/context.js';
import { type HttpContextArgs, serveVersions } from '../../examples/poll/http.js';
import { resolversV1 } from '../../examples/poll/resolvers-v1.js';
import { BENCH_QUERY, typeDefsV1 } from '../lib/graphql.js';
import type { BenchDatabase } from '../lib/services.js';
import type { BenchVariables, RequestCounters, Variant } from '../lib/variant.js';
import { createPollCache } from './cached-instances.js';

function post(agent: Agent, url: URL, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        agent,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200)
            reject(new Error(`bench: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
          else resolve(text);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The library's memory-store variant served over HTTP (see the file comment). */
export async function createHttpVariant(
  db: BenchDatabase,
  variables: BenchVariables,
  countSql: boolean,
): Promise<Variant> {
  const setup = await createPollCache(db, 'memory');
  let last: PollContext | undefined;
  const running = await serveVersions<PollContext>({
    port: 0,
    host: '127.0.0.1',
    countSql,
    versions: [
      {
        path: '/graphql/v1',
        server: { typeDefs: typeDefsV1, resolvers: resolversV1 },
        context: async (_raw: HttpContextArgs) => {
          last = await setup.context();
          return last;
        },
      },
    ],
  });
  // The variant sits idle while the others are timed; a server closing the idle keep-alive socket
  // (5 s by default) would race the next request into ECONNRESET.
  running.httpServer.keepAliveTimeout = 600_000;
  const url = new URL(running.urls[0]!);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const body = JSON.stringify({ query: BENCH_QUERY, variables });
  return {
    id: countSql ? 'http-gci-memory-countsql' : 'http-gci-memory',
    label: `graphql-cached-instances over HTTP, memory store (${db.kind}), countSql: ${countSql}`,
    transport: 'http',
    database: db.kind,
    store: 'memory (keyv over a Map, strings)',
    baseline: `dataloader-${db.kind}`,
    phase: countSql ? 2 : 1,
    notes: countSql
      ? 'opt-in SQL counting, as the example server runs; measured last because its AsyncLocalStorage slows every later promise; compare with http-gci-memory@als-on/off'
      : 'serveVersions (express 5) + keep-alive client in the same process (the client is in the number)',
    async request() {
      const text = await post(agent, url, body);
      // Parsed only when the data is read (verification), so the timed loop does not pay the
      // client's JSON.parse; a response with errors is still caught without parsing it.
      let parsed: { data?: unknown; errors?: unknown[] } | undefined;
      const parse = () => {
        parsed ??= JSON.parse(text) as { data?: unknown; errors?: unknown[] };
        return parsed;
      };
      const stats = last?.cacheStats;
      const counters: RequestCounters | undefined = stats
        ? {
            storeRoundTrips: stats.storeRoundTrips,
            hits: stats.hits,
            misses: stats.misses,
            memoHits: stats.memoHits,
          }
        : undefined;
      return {
        get data() {
          return parse().data;
        },
        get errors() {
          return text.includes('"errors":') ? parse().errors : undefined;
        },
        ...(counters ? { counters } : {}),
      };
    },
    async close() {
      agent.destroy();
      await running.stop();
      await setup.close();
    },
  };
}
