import cors from 'cors';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Which browser origins may call Patron (`PATRON_CORS_ORIGINS`). Credentials travel in the
 * `Authorization` header, never in cookies, so CORS only decides which pages may read answers.
 * An empty list sends no CORS headers at all (server-to-server callers need none).
 */
export interface OriginPolicy {
  /** True when the list is set: browsers are told which origins may call. */
  enabled: boolean;
  allows(origin: string): boolean;
}

export function originPolicy(origins: readonly string[]): OriginPolicy {
  const any = origins.includes('*');
  const listed = new Set(origins);
  return { enabled: origins.length > 0, allows: (origin) => any || listed.has(origin) };
}

type CorsMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * HTTP, for the `cors` package: marks answers to allowed origins (the page may read them and
 * `x-request-id`) and answers their preflights (`OPTIONS`) itself with 204, reflecting the headers
 * the preflight asks for (Authorization, content-type, Apollo's and urql's). Other origins get no
 * CORS headers and go on as they are.
 *
 * Null when no origins are listed. Callers pass it only requests that carry `Origin`: for the
 * others (server-to-server, most of the traffic) `cors` would build its options for the request
 * just to call `next()`.
 */
export function corsMiddleware(policy: OriginPolicy): CorsMiddleware | null {
  if (!policy.enabled) return null;
  return cors({
    origin: (origin, callback) => callback(null, origin !== undefined && policy.allows(origin)),
    methods: ['GET', 'HEAD', 'POST'],
    exposedHeaders: ['x-request-id'],
    maxAge: 600,
  });
}

/**
 * WebSocket upgrades: browsers always send `Origin`, and CORS does not cover WebSockets, so an
 * origin not in the list is refused with 403 before the handshake. Requests without `Origin`
 * (server-to-server clients) pass, and with no list every origin passes.
 */
export function verifyWebSocketOrigin(policy: OriginPolicy) {
  return (info: { origin?: string; req: IncomingMessage }, callback: (ok: boolean, code?: number, message?: string) => void): void => {
    const origin = info.req.headers.origin;
    if (!policy.enabled || origin === undefined || policy.allows(origin)) return callback(true);
    callback(false, 403, 'Origin not allowed');
  };
}
