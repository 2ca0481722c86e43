import { createLogger } from '../../src/logger';
import type { Actor, RequestContext } from '../../src/services/shared';

/** Logs nothing: tests read what services did from the database, not from their logs. */
export const testLogger = createLogger('silent');

let requests = 0;

/**
 * The context a service method takes first, with a request id of its own and no client: for an
 * actor, or for a key of the program (a server key unless `kind` says otherwise).
 */
export function testContext(actor: Actor): RequestContext;
export function testContext(programId: string, kind?: Actor['kind'], id?: string): RequestContext;
export function testContext(of: Actor | string, kind: Actor['kind'] = 'server', id = `test-${kind}`): RequestContext {
  const actor: Actor = typeof of === 'string' ? { programId: of, kind, id } : of;
  return { ...actor, requestId: `test-${++requests}`, logger: testLogger, clientAddress: null, userAgent: null };
}
