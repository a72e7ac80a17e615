/**
 * Several schema versions on one port, served the standard way: express 5 and Apollo's express
 * integration (`@as-integrations/express5`), one `ApolloServer` per version at its own path
 * (`/graphql/v1`, `/graphql/v2`), graceful shutdown through Apollo's drain plugin, and Apollo's
 * implicit cache-control plugin disabled. The poll server and the benchmark use it; the README
 * shows the same wiring inline for your own app.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApolloServer,
  type ApolloServerOptionsWithStaticSchema,
  type BaseContext,
  type ContextFunction,
} from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type NextFunction, type Request, type Response } from 'express';
import { type ErrorLogger, sqlCounterMiddleware } from '../../src/apollo/index.js';

/** The request and response a version's context function receives (express's, which extend node's). */
export interface HttpContextArgs {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/** One schema version: its path, its Apollo server options and its context function. */
export interface VersionRoute<Context extends BaseContext> {
  /** The exact path served, e.g. `/graphql/v1` (a trailing slash is tolerated). */
  readonly path: string;
  /** `typeDefs` + `resolvers` (or `schema`), plugins, limits, `formatError`… */
  readonly server: ApolloServerOptionsWithStaticSchema<Context>;
  /** Builds a request's context, usually `cachedContext(cache, base, { version })`. */
  readonly context: ContextFunction<[HttpContextArgs], Context>;
}

/** Options of {@link serveVersions}. */
export interface ServeVersionsOptions<Context extends BaseContext> {
  readonly versions: readonly VersionRoute<Context>[];
  /** TCP port. Default 4000; `0` picks a free one. */
  port?: number;
  /** Interface. Default `'127.0.0.1'`. */
  host?: string;
  /** Largest JSON body accepted (larger: 413). Default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * Give each request its own SQL counter (`sqlCounterMiddleware`), so `extensions.cache.sql`
   * reports its statements. Default `false` (it costs CPU on every promise of the process).
   */
  countSql?: boolean;
  /**
   * Keep Apollo's cache-control plugin. Default `false`: Apollo installs it implicitly and it wraps
   * every resolver to compute cache hints; on a nested query served from this cache, disabling it
   * made resolution 1.9–2.6× faster. Turn it on only if you use `@cacheControl` hints.
   */
  cacheControl?: boolean;
  /** How long `stop()` lets in-flight requests finish before closing their sockets. Default 10 000 ms. */
  stopGracePeriodMillis?: number;
  /** Where HTTP-level internal errors are logged (never sent). Default: stderr. */
  logger?: ErrorLogger;
}

/** A running {@link serveVersions} server. */
export interface VersionsServer<Context extends BaseContext> {
  /** `http://host:port`. */
  readonly origin: string;
  /** The URL of each version, in `versions` order. */
  readonly urls: readonly string[];
  readonly httpServer: Server;
  /** The started Apollo servers, in `versions` order. */
  readonly servers: readonly ApolloServer<Context>[];
  /** Graceful shutdown: stop accepting, let in-flight requests finish, stop every Apollo server. */
  stop(): Promise<void>;
}

const stderrLogger: ErrorLogger = {
  error: (message, details) => process.stderr.write(`${message} ${String(details.error ?? '')}\n`),
};

function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
}

/**
 * Starts one HTTP server answering every version at its path. Each `ApolloServer` gets
 * `ApolloServerPluginDrainHttpServer` (graceful shutdown) and, unless `cacheControl`,
 * `ApolloServerPluginCacheControlDisabled`; nothing else is added (no stats plugin: add it to
 * `server.plugins` yourself, once). HTTP-level failures are JSON errors without stack traces:
 * malformed JSON 400, too large 413, unknown path 404, anything else 500 (logged with an id).
 */
export async function serveVersions<Context extends BaseContext>(
  options: ServeVersionsOptions<Context>,
): Promise<VersionsServer<Context>> {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const logger = options.logger ?? stderrLogger;
  const httpServer = createServer();
  const servers = options.versions.map(
    (version) =>
      new ApolloServer<Context>({
        // Shutdown belongs to the application (it owns the HTTP server, the ORM and the cache).
        stopOnTerminationSignals: false,
        ...version.server,
        plugins: [
          ...(version.server.plugins ?? []),
          ApolloServerPluginDrainHttpServer({
            httpServer,
            stopGracePeriodMillis: options.stopGracePeriodMillis ?? 10_000,
          }),
          ...(options.cacheControl ? [] : [ApolloServerPluginCacheControlDisabled()]),
        ],
      }),
  );
  await Promise.all(servers.map((server) => server.start()));

  const app = express();
  app.disable('x-powered-by');
  const json = express.json({ limit: maxBodyBytes });
  const counter = options.countSql ? [sqlCounterMiddleware()] : [];
  options.versions.forEach((version, i) => {
    app.all(version.path, json, ...counter, expressMiddleware(servers[i]!, { context: version.context }));
  });
  const paths = options.versions.map((version) => version.path).join(', ');
  app.use((req: Request, res: Response) => {
    sendError(res, 404, 'NOT_FOUND', `No GraphQL endpoint at ${req.path}; the endpoints are ${paths}`);
  });
  app.use((error: { type?: string; status?: number }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error?.type === 'entity.parse.failed') {
      sendError(res, 400, 'BAD_REQUEST', 'Request body is not valid JSON');
    } else if (error?.type === 'entity.too.large') {
      res.setHeader('connection', 'close');
      sendError(res, 413, 'PAYLOAD_TOO_LARGE', `Request body larger than ${maxBodyBytes} bytes`);
    } else if (typeof error?.status === 'number' && error.status >= 400 && error.status < 500) {
      sendError(res, error.status, 'BAD_REQUEST', 'Bad request');
    } else {
      const errorId = randomUUID();
      logger.error(`HTTP internal error ${errorId}`, { errorId, error });
      sendError(res, 500, 'INTERNAL_SERVER_ERROR', `Internal server error (error id ${errorId})`);
    }
  });
  httpServer.on('request', app);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= Promise.all(servers.map((server) => server.stop())).then(() => {});
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
  const origin = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  return {
    origin,
    urls: options.versions.map((version) => origin + version.path),
    httpServer,
    servers,
    stop,
  };
}
