import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type ApolloServer,
  type BaseContext,
  HeaderMap,
  type HTTPGraphQLRequest,
  type HTTPGraphQLResponse,
} from '@apollo/server';
import { InvalidOptionError } from '../errors.js';
import { createSqlCounter, runWithSqlCounter } from './sql-scope.js';

/** The raw request and response, as a route's context function receives them. */
export interface HttpContextArgs {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/** One GraphQL endpoint: a path and the Apollo server that answers it. See {@link graphqlRoute}. */
export interface GraphQLRoute {
  /** The exact path served (a trailing slash is tolerated). */
  readonly path: string;
  /** Runs one parsed HTTP request through the route's Apollo server. */
  execute(request: HTTPGraphQLRequest, raw: HttpContextArgs): Promise<HTTPGraphQLResponse>;
}

/**
 * Binds an Apollo server and its context function to a path, e.g. `/graphql/v1`. The server must
 * be started (`await server.start()`) before requests arrive. Routes of different context types
 * mix freely in one handler.
 */
export function graphqlRoute<Context extends BaseContext>(
  path: string,
  server: ApolloServer<Context>,
  context: (raw: HttpContextArgs) => Promise<Context>,
): GraphQLRoute {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new InvalidOptionError(`graphqlRoute: path must start with "/", got ${JSON.stringify(path)}`);
  }
  if (typeof context !== 'function')
    throw new InvalidOptionError(`graphqlRoute(${path}): context must be a function`);
  return {
    path: trimSlashes(path),
    execute: (httpGraphQLRequest, raw) =>
      server.executeHTTPGraphQLRequest({ httpGraphQLRequest, context: () => context(raw) }),
  };
}

/** Options of {@link createGraphQLHttpHandler}. */
export interface GraphQLHttpHandlerOptions {
  /** Largest request body accepted; a larger one is answered 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * Run each request inside its own SQL counter scope (`runWithSqlCounter`), so `countSqlQuery()`
   * calls from an ORM logger land in `context.sql` (and `extensions.cache.sql`). Default `false`:
   * it enables Node's async context tracking, which costs CPU on every promise of the process
   * (0–8% per warm nested request in `npm run bench`, more under load). Turn it on where you want
   * per-request SQL counts (development, the example server, tests).
   */
  countSql?: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

function trimSlashes(path: string): string {
  return path.replace(/\/+$/, '') || '/';
}

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

// Reads the whole body, up to `max` bytes. Past the cap the rest is still drained (not buffered),
// so the client can read the 413 on a healthy connection; a client that keeps sending far beyond
// the cap is cut off.
async function readBody(req: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max * 16) {
      req.destroy();
      break;
    }
    if (size <= max) chunks.push(chunk);
  }
  if (size > max) throw new HttpError(413, `Request body larger than ${max} bytes`, 'PAYLOAD_TOO_LARGE');
  return Buffer.concat(chunks).toString('utf8');
}

function sendError(res: ServerResponse, error: HttpError, extraHeaders: Record<string, string> = {}): void {
  const body = JSON.stringify({ errors: [{ message: error.message, extensions: { code: error.code } }] });
  res
    .writeHead(error.status, { 'content-type': 'application/json; charset=utf-8', ...extraHeaders })
    .end(body);
}

/**
 * A plain `node:http` request handler serving several GraphQL endpoints from one server — one
 * per schema version (`/graphql/v1`, `/graphql/v2`), each with its own Apollo server and context.
 * Mount it with `http.createServer(handler)` or inside any framework that exposes the raw
 * request (express, fastify's `raw`). It never rejects.
 *
 * - Routing is exact (plus a trailing slash); other paths get a JSON 404.
 * - POST bodies with a JSON content type are parsed (at most `maxBodyBytes`, else 413; malformed
 *   JSON is a 400); other content types reach Apollo without a body, so its CSRF prevention and
 *   "POST body missing" answers apply unchanged. GET with `?query=` works as in Apollo.
 * - Every error this handler produces itself is a JSON body `{ errors: [{ message, extensions: { code } }] }`.
 */
export function createGraphQLHttpHandler(
  routes: readonly GraphQLRoute[],
  options: GraphQLHttpHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw new InvalidOptionError(
      `createGraphQLHttpHandler: options.maxBodyBytes must be a positive integer, got ${String(maxBodyBytes)}`,
    );
  }
  const table = new Map<string, GraphQLRoute>();
  for (const route of routes) {
    if (table.has(route.path))
      throw new InvalidOptionError(`createGraphQLHttpHandler: two routes serve ${route.path}`);
    table.set(route.path, route);
  }
  const paths = [...table.keys()].join(', ');
  const countSql = options.countSql ?? false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = table.get(trimSlashes(url.pathname));
    if (!route) {
      req.resume();
      throw new HttpError(
        404,
        `No GraphQL endpoint at ${url.pathname}; the endpoints are ${paths}`,
        'NOT_FOUND',
      );
    }
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    let body: unknown;
    if (req.method === 'POST') {
      const text = await readBody(req, maxBodyBytes);
      if (isJson(req.headers['content-type']) && text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          throw new HttpError(400, 'Request body is not valid JSON', 'BAD_REQUEST');
        }
      }
    } else {
      req.resume();
    }
    const response = await route.execute(
      { method: (req.method ?? 'GET').toUpperCase(), headers, search: url.search, body },
      { req, res },
    );
    for (const [name, value] of response.headers) res.setHeader(name, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) {
      if (!res.write(chunk)) await once(res, 'drain');
    }
    res.end();
  }

  return async (req, res) => {
    try {
      await (countSql ? runWithSqlCounter(createSqlCounter(), () => handle(req, res)) : handle(req, res));
    } catch (error) {
      if (res.headersSent) {
        res.destroy(error as Error);
        return;
      }
      const known =
        error instanceof HttpError
          ? error
          : new HttpError(500, 'Internal server error', 'INTERNAL_SERVER_ERROR');
      sendError(res, known, known.status === 413 ? { connection: 'close' } : {});
    }
  };
}
