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
