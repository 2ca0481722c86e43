import { createLogger } from '../../src/logger';
import type { Actor, RequestContext } from '../../src/services/shared';

/** Logs nothing: tests read what services did from the database, not from their logs. */
export const testLogger = createLogger('silent');

let requests = 0;

/** The context a service method takes first, for a test's actor: a request id of its own, no client. */
export function testContext(actor: Actor): RequestContext {
  return { ...actor, requestId: `test-${++requests}`, logger: testLogger, clientAddress: null, userAgent: null };
}
