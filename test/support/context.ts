import pino from 'pino';
import type { RequestContext } from '../../src/services/shared';

const silent = pino({ level: 'silent' });

/** A service context for tests: a key of the program (server by default), a quiet logger. */
export function testContext(programId: string, kind: RequestContext['kind'] = 'server', id = `test-${kind}`): RequestContext {
  return { programId, kind, id, requestId: `test-${Math.random().toString(36).slice(2, 10)}`, logger: silent, clientAddress: null, userAgent: null };
}
