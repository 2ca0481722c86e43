import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger';
import { accessLog } from './access-log';
import { corsMiddleware, type OriginPolicy } from './cors';
import { BodyError } from './json-body';

/** What the router tells a route about the request besides `req`. */
export interface RequestInfo {
  /** The caller's `x-request-id` when sensible, else a fresh UUID; every response carries it. */
  requestId: string;
  /** The query string with its `?`, or ''. */
  search: string;
}

export type Route = (req: IncomingMessage, res: ServerResponse, info: RequestInfo) => void | Promise<void>;

export interface RouterOptions {
  logger: Logger;
  origins: OriginPolicy;
  /** `GET /`: what this server is. */
  rootPage: Route;
  /** `GET /healthz`: resolves when the database answers. */
  healthCheck(): Promise<unknown>;
  /** GraphiQL's page and assets, when enabled: true when it answered the request. */
  graphiql: ((req: IncomingMessage, res: ServerResponse) => boolean) | null;
  /** Every method of `/graphql` (Apollo answers 405 to the ones it does not take). */
  graphql: Route;
}

const REQUEST_ID = /^[\w.:-]{1,100}$/;
const HEALTH_TIMEOUT_MS = 2000;

/**
 * The whole HTTP surface as one plain `node:http` request listener: request ids, the access log
 * (pino-http) and CORS (`cors`, for requests from browsers) for every request, then `/`, `/healthz`, GraphiQL, `/graphql`, and 404 for the rest.
 * Whatever a route throws is answered here with a GraphQL-shaped error, never a stack trace.
 */
export function createRouter(options: RouterOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { logger, origins, graphiql } = options;
  const logAccess = accessLog(logger);
  const cors = corsMiddleware(origins);
  const health = healthRoute(options.healthCheck);

  const route = (req: IncomingMessage, res: ServerResponse, path: string, info: RequestInfo): void | Promise<void> => {
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/' && readOnly) return options.rootPage(req, res, info);
    if (path === '/healthz' && readOnly) return health(req, res, info);
    if (graphiql?.(req, res)) return;
    if (path === '/graphql') return options.graphql(req, res, info);
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('Not found');
  };

  const dispatch = (req: IncomingMessage, res: ServerResponse, requestId: string): void => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const search = query < 0 ? '' : url.slice(query);
    try {
      const answered = route(req, res, path, { requestId, search });
      if (answered) answered.catch((error: unknown) => failed(logger, res, error));
    } catch (error) {
      failed(logger, res, error);
    }
  };

  return (req, res) => {
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    res.setHeader('x-request-id', requestId);
    logAccess(req, res);
    // cors answers preflights itself; otherwise it calls next, synchronously.
    if (cors && req.headers.origin !== undefined) cors(req, res, (error) => (error ? failed(logger, res, error) : dispatch(req, res, requestId)));
    else dispatch(req, res, requestId);
  };
}

/** A body that could not be read is the caller's mistake (400, 413, 415); anything else is ours (500, logged). */
function failed(logger: Logger, res: ServerResponse, error: unknown): void {
  if (!(error instanceof BodyError)) logger.error({ err: error, requestId: res.getHeader('x-request-id') }, 'request failed');
  // Half an answer cannot be mended: the client sees the connection drop.
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error instanceof BodyError) return sendJson(res, error.status, graphqlError(error.message, 'BAD_REQUEST'));
  sendJson(res, 500, graphqlError('Internal server error', 'INTERNAL_SERVER_ERROR'));
}

function graphqlError(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }] };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** For load balancers: 503 while the database does not answer within a couple of seconds. */
function healthRoute(check: () => Promise<unknown>): Route {
  return async (_req, res) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('health check timed out')), HEALTH_TIMEOUT_MS)));
    try {
      await Promise.race([check(), late]);
      sendJson(res, 200, { status: 'ok' });
    } catch {
      sendJson(res, 503, { status: 'unavailable', retryable: true });
    } finally {
      clearTimeout(timer);
    }
  };
}
