import pino, { Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'patron' }, redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] });
}
