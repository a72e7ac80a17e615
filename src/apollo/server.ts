import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerOptionsWithStaticSchema } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { InvalidOptionError } from '../errors.js';
import {
  createGraphQLHttpHandler,
  type GraphQLHttpHandlerOptions,
  graphqlRoute,
  type HttpContextArgs,
} from './http-handler.js';
import {
  ApolloServerPluginCacheStats,
  type CacheStatsContext,
  type CacheStatsPluginOptions,
  type CacheStatsTotals,
  createCacheStatsTotals,
} from './stats-plugin.js';

/** One schema version served by {@link startGraphQLServer}. */
export interface GraphQLVersion<Context extends CacheStatsContext> {
  /** Its endpoint, e.g. `/graphql/v1`. */
  readonly path: string;
  /** The Apollo server options (`typeDefs` + `resolvers`, or `schema`; more plugins if you like). */
  readonly server: ApolloServerOptionsWithStaticSchema<Context>;
  /** Builds a request's context, usually `cachedContext(cache, base, { version })`. */
  context(raw: HttpContextArgs): Promise<Context>;
}

/** Options of {@link startGraphQLServer}. */
export interface StartGraphQLServerOptions<Context extends CacheStatsContext>
  extends GraphQLHttpHandlerOptions {
  /** The schema versions, each at its own path, all on one HTTP server. */
  readonly versions: readonly GraphQLVersion<Context>[];
  /** TCP port. Default 4000; `0` picks a free one (read it from `url`). */
  port?: number;
  /** Interface to listen on. Default `'127.0.0.1'` (loopback only). */
  host?: string;
  /**
   * Keep Apollo's cache-control plugin. Default `false`: it is replaced by
   * `ApolloServerPluginCacheControlDisabled`. Apollo installs that plugin implicitly and it wraps
   * EVERY resolver to compute cache hints; on a nested query served from this cache, disabling it
   * made resolution 1.9–2.6× faster (DESIGN §7). Enable it only if you use `@cacheControl` hints.
   */
  cacheControl?: boolean;
  /**
   * Options of the `ApolloServerPluginCacheStats` added to every version, or `false` for none.
   * Default `{}`: figures on requests sending `x-cache-stats: 1`.
   */
  cacheStats?: CacheStatsPluginOptions | false;
  /** How long `stop()` lets in-flight requests finish before closing their sockets. Default 10 000 ms. */
  stopGracePeriodMillis?: number;
}

/** A running server from {@link startGraphQLServer}. */
export interface RunningGraphQLServer {
  /** `http://host:port`, without a path. */
  readonly origin: string;
  /** The full URL of each version, in `versions` order. */
  readonly urls: readonly string[];
  readonly httpServer: Server;
  /** Totals of the stats plugin over all versions (zeros when `cacheStats: false`). */
  readonly stats: Readonly<CacheStatsTotals>;
  /**
   * Graceful shutdown: stops accepting connections, lets in-flight requests finish (closing idle
   * keep-alive sockets at once), then stops every Apollo server. Safe to call twice.
   */
  stop(): Promise<void>;
}

/**
 * Serves several schema versions from one `node:http` server — `/graphql/v1` and `/graphql/v2`,
 * each with its own Apollo server, context and cache version — with the defaults this library
 * recommends: `ApolloServerPluginDrainHttpServer` on every version (graceful shutdown),
 * `ApolloServerPluginCacheControlDisabled` (see {@link StartGraphQLServerOptions.cacheControl}),
 * `ApolloServerPluginCacheStats`, a capped JSON body parser and JSON errors
 * ({@link createGraphQLHttpHandler}). Resolves once it listens.
 */
export async function startGraphQLServer<Context extends CacheStatsContext>(
  options: StartGraphQLServerOptions<Context>,
): Promise<RunningGraphQLServer> {
  if (!Array.isArray(options.versions) || options.versions.length === 0) {
    throw new InvalidOptionError(
      'startGraphQLServer: options.versions must list at least one { path, server, context }',
    );
  }
  const httpServer = createServer();
  const servers = options.versions.map((version) => {
    const stats =
      options.cacheStats === false ? null : ApolloServerPluginCacheStats<Context>(options.cacheStats);
    const plugins = [
      ...(version.server.plugins ?? []),
      ApolloServerPluginDrainHttpServer({
        httpServer,
        stopGracePeriodMillis: options.stopGracePeriodMillis ?? 10_000,
      }),
      ...(options.cacheControl ? [] : [ApolloServerPluginCacheControlDisabled()]),
      ...(stats ? [stats] : []),
    ];
    // Shutdown belongs to the application (it owns the HTTP server and the other resources):
    // Apollo's own SIGINT/SIGTERM handlers would stop each version separately and re-raise the
    // signal. Pass `stopOnTerminationSignals: true` to get them back.
    const server = new ApolloServer<Context>({ stopOnTerminationSignals: false, ...version.server, plugins });
    return { version, stats, server };
  });
  await Promise.all(servers.map(({ server }) => server.start()));
  const handler = createGraphQLHttpHandler(
    servers.map(({ version, server }) => graphqlRoute(version.path, server, version.context)),
    options,
  );
  httpServer.on('request', (req, res) => void handler(req, res));
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= Promise.all(servers.map(({ server }) => server.stop())).then(() => {});
    return stopping;
  };
  try {
    httpServer.listen(options.port ?? 4000, options.host ?? '127.0.0.1');
    await once(httpServer, 'listening');
  } catch (error) {
    await stop();
    throw error;
  }
  const { address, port } = httpServer.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const origin = `http://${host}:${port}`;
  return {
    origin,
    urls: servers.map(({ version }) => origin + version.path),
    httpServer,
    get stats() {
      const sum = createCacheStatsTotals();
      for (const { stats } of servers) {
        if (!stats) continue;
        for (const key of Object.keys(sum) as (keyof CacheStatsTotals)[]) sum[key] += stats.totals[key];
      }
      return sum;
    },
    stop,
  };
}
