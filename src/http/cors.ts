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

const PREFLIGHT_MAX_AGE_SECONDS = '600';

/**
 * HTTP: marks responses for allowed origins (the page may read the answer and `x-request-id`)
 * and answers their preflights (`OPTIONS`) itself with 204, reflecting the headers the preflight
 * asks for (Authorization, content-type, Apollo's and urql's). Other origins, and requests
 * without `Origin`, get no CORS headers and go on as they are.
 *
 * @returns true when the request was a preflight and has been answered
 */
export function applyCors(policy: OriginPolicy, req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || !policy.allows(origin)) return false;
  res.setHeader('access-control-allow-origin', origin);
  if (req.method !== 'OPTIONS') {
    res.setHeader('vary', 'Origin');
    res.setHeader('access-control-expose-headers', 'x-request-id');
    return false;
  }
  const requested = req.headers['access-control-request-headers'];
  res.setHeader('vary', requested ? 'Origin, Access-Control-Request-Headers' : 'Origin');
  res.setHeader('access-control-allow-methods', 'GET,HEAD,POST');
  if (requested) res.setHeader('access-control-allow-headers', requested);
  res.setHeader('access-control-max-age', PREFLIGHT_MAX_AGE_SECONDS);
  res.setHeader('access-control-expose-headers', 'x-request-id');
  res.statusCode = 204;
  // Some clients wait for a body on a 204 without a length.
  res.setHeader('content-length', '0');
  res.end();
  return true;
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
