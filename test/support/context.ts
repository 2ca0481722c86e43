import { createLogger } from '../../src/logger';
import type { Actor, RequestContext } from '../../src/services/shared';

const logger = createLogger(process.env.LOG_LEVEL ?? 'silent');

/** The context a service method takes first, for a test acting as `kind` in the program. */
export function testContext(programId: string, kind: Actor['kind'] = 'admin', id = `test-${kind}`): RequestContext {
  return { programId, kind, id, requestId: `test:${kind}`, logger, clientAddress: null, userAgent: null };
}
