import type { Logger } from '../logger';
import type { ApiKeyRole } from '../entities/api-key';
import type { Services } from '../services';
import type { Loaders } from './loaders';
import type { PubSub } from 'type-graphql';
import type { JobRunner } from '../jobs/runner';

export enum Role {
  /** The installation's first admin key: may also create programs. */
  OPERATOR = 'OPERATOR',
  ADMIN = 'ADMIN',
  SERVER = 'SERVER',
  CUSTOMER = 'CUSTOMER',
}

export type Identity =
  | { kind: 'anonymous' }
  | { kind: 'key'; programId: string; keyId: string; role: ApiKeyRole; operator: boolean }
  | { kind: 'customer'; programId: string; memberId: string; expiresAt: Date };

/** Where a request came from. */
export interface ClientInfo {
  address: string | null;
  userAgent: string | null;
}

export interface Context {
  requestId: string;
  identity: Identity;
  client: ClientInfo;
  services: Services;
  loaders: Loaders;
  logger: Logger;
  pubsub: PubSub;
  jobs: JobRunner;
}

export function rolesOf(identity: Identity): Role[] {
  if (identity.kind === 'customer') return [Role.CUSTOMER];
  if (identity.kind !== 'key') return [];
  if (identity.role === 'server') return [Role.SERVER];
  return identity.operator ? [Role.ADMIN, Role.OPERATOR] : [Role.ADMIN];
}

/**
 * A request's context, as a class rather than an object literal: Apollo copies the context of
 * every operation with Object.assign, which calls an object's own getters — the logger's would
 * make the child it is there to put off — while a getter on the prototype survives the copy.
 * (An accessor in an object literal is also slow to build: a few µs per object.)
 */
export class RequestScope implements Context {
  /** Made on first use: pino's child() serializes its bindings, and most requests log nothing of their own. */
  private requestLogger: Logger | undefined = undefined;

  constructor(
    readonly requestId: string,
    readonly identity: Identity,
    readonly client: ClientInfo,
    readonly services: Services,
    readonly loaders: Loaders,
    readonly pubsub: PubSub,
    readonly jobs: JobRunner,
    private readonly serverLogger: Logger,
  ) {}

  get logger(): Logger {
    return (this.requestLogger ??= this.serverLogger.child({ requestId: this.requestId }));
  }
}
