import type { Logger } from '../../logger';

/** Who is acting: a key of the program (server or admin), a customer token, or a job. */
export interface Actor {
  programId: string;
  kind: 'server' | 'admin' | 'customer' | 'job';
  /** The API key's id, the customer's member id, or the job's name. */
  id: string;
}

/**
 * What every service method takes first: the program and actor, and what ties the work to the
 * request that asked for it (its id, a logger carrying that id, where it came from).
 */
export interface RequestContext extends Actor {
  requestId: string;
  logger: Logger;
  clientAddress: string | null;
  userAgent: string | null;
}

/** Who a write is about: our member id, or the shop's id, e-mail or phone. */
export type MemberRef = { id: string } | { externalId: string } | { email: string } | { phone: string };

/** The context a scheduled job works in, for one program. */
export function jobContext(programId: string, job: string, logger: Logger): RequestContext {
  return { programId, kind: 'job', id: job, requestId: `job:${job}`, logger: logger.child({ job }), clientAddress: null, userAgent: null };
}
