import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger';

/** The request as the access log line shows it: the path without the query string (GET queries carry e-mails and phones there). */
function requestFields(req: IncomingMessage) {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return {
    method: req.method,
    path: query < 0 ? url : url.slice(0, query),
    remoteAddress: req.socket?.remoteAddress,
    userAgent: req.headers['user-agent'],
  };
}

function responseFields(res: ServerResponse) {
  return { statusCode: res.statusCode, contentLength: res.getHeader('content-length') };
}

/** The client went away before the whole answer was sent. */
function aborted(req: IncomingMessage, res: ServerResponse): boolean {
  return req.readableAborted || !res.writableEnded;
}

/**
 * One access log line per HTTP request (pino-http), written when its response is done or the
 * client went away, under the request id the router put on `x-request-id`, so it matches the
 * operation's own log lines: 5xx at error, 4xx and aborted requests at warn, the rest at info.
 *
 * Configured for the least work per request: the request is serialized once, into the one child
 * logger pino-http always makes (neither quiet option, so it does not make a second one for the
 * id); the id is added to the line itself; serializers are ours, unwrapped; and a level the
 * logger does not write (the bench runs silent) skips building the line. Measured per request,
 * fake requests in a loop: about 4 µs with the line written and 2 µs at silent, against 13 µs
 * and 7 µs with `quietReqLogger` (a second child) — a line written by hand costs 3.5 µs.
 */
export function accessLog(logger: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  const log = logger.child({ module: 'http' });
  const withRequestId = (req: IncomingMessage, fields: Record<string, unknown>) => {
    fields.requestId = req.id;
    return fields;
  };
  const middleware = pinoHttp({
    logger: log,
    genReqId: (_req, res) => res.getHeader('x-request-id') as string,
    wrapSerializers: false,
    serializers: { req: requestFields, res: responseFields },
    customLogLevel: (req, res, error) => {
      const level = error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 || aborted(req, res) ? 'warn' : 'info';
      return log.isLevelEnabled(level) ? level : 'silent';
    },
    customSuccessObject: (req, _res, fields) => withRequestId(req, fields),
    // The cause of a 5xx is logged where it happened (operation log, router) under the same id;
    // pino-http's stand-in error ("failed with status code 500") would add only its own stack.
    customErrorObject: (req, _res, _error, { res, responseTime }) => ({ res, responseTime, requestId: req.id }),
  });
  // Every line it writes is at error, warn or info: a logger that writes none of them (silent,
  // fatal) skips pino-http, and the child logger it makes for every request, altogether.
  return (req, res) => {
    if (log.isLevelEnabled('error')) middleware(req, res);
  };
}
