import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger';

/**
 * One access log line per HTTP request (pino-http), under the request id the router put on the
 * response's `x-request-id` header, so it matches the operation's own log lines. The URL is
 * logged without its query string: GET queries carry variables (e-mails, phones) there.
 */
export function accessLog(logger: Logger) {
  return pinoHttp({
    logger: logger.child({ module: 'http' }),
    genReqId: (_req: IncomingMessage, res: ServerResponse) => res.getHeader('x-request-id') as string,
    customAttributeKeys: { reqId: 'requestId' },
    // Binds the request id to the line itself (not only inside `req`), as the operations' logs do.
    quietReqLogger: true,
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    wrapSerializers: false,
    serializers: {
      req: (req: IncomingMessage & { id?: unknown }) => ({
        method: req.method,
        path: (req.url ?? '/').split('?')[0],
        remoteAddress: req.socket?.remoteAddress,
        userAgent: req.headers['user-agent'],
      }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode, contentLength: res.getHeader?.('content-length') }),
    },
  });
}
