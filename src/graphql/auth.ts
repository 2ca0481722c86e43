import type { AuthChecker } from 'type-graphql';
import { ErrorCode, PatronError } from '../errors';
import type { AccessService } from '../services/access';
import { Context, Identity, Role, rolesOf } from './context';

/**
 * What a 401 answers in `WWW-Authenticate` (RFC 6750): the scheme to use, and for a credential
 * that is not one, that it is not.
 */
export const BEARER_CHALLENGE = 'Bearer realm="patron"';
export const INVALID_TOKEN_CHALLENGE = `${BEARER_CHALLENGE}, error="invalid_token"`;

/** Reads `Authorization: Bearer <secret>` (or a bare value): an API key, else a customer token. */
export async function identify(access: AccessService, header: unknown): Promise<Identity> {
  if (typeof header !== 'string' || !header.trim()) return { kind: 'anonymous' };
  const secret = header.replace(/^Bearer\s+/i, '').trim();
  if (secret.length > 4096) throw new PatronError(ErrorCode.UNAUTHENTICATED, 'Invalid credentials');
  if (secret.startsWith('ptn_') || !secret.includes('.')) {
    const key = await access.authenticateKey(secret);
    if (!key) throw new PatronError(ErrorCode.UNAUTHENTICATED, 'Invalid or revoked API key');
    return { kind: 'key', ...key };
  }
  const customer = await access.verifyCustomerToken(secret);
  if (!customer) throw new PatronError(ErrorCode.UNAUTHENTICATED, 'Invalid or expired customer token');
  return { kind: 'customer', ...customer };
}

/** Every resolver names the roles that may call it; nobody else gets through. */
export const authChecker: AuthChecker<Context> = ({ context, info }, roles) => checkRoles(context, roles, info.fieldName);

const ROLE_NAMES: Record<Role, string> = {
  [Role.OPERATOR]: 'the operator key',
  [Role.ADMIN]: 'admin keys',
  [Role.SERVER]: 'server keys',
  [Role.CUSTOMER]: 'customer tokens',
};

/** Operations a customer token and an API key each have in their own form: a refusal names the caller's. */
const COUNTERPARTS: Record<string, string> = {
  balanceChanged: 'myBalance',
  myBalance: 'balanceChanged',
  tierChanged: 'myTier',
  myTier: 'tierChanged',
  me: 'member',
};

function caller(identity: Context['identity']): string {
  if (identity.kind !== 'key') return 'This request';
  return identity.role === 'server' ? 'A server key' : 'An admin key';
}

/** Refuses whoever holds none of `roles`, naming the operation (`field`) and who may use it. */
export function checkRoles(context: Context, roles: readonly string[], field?: string): true {
  const mine = rolesOf(context.identity);
  // 401, as for a key that is not one: an operation needing a credential was sent none.
  if (mine.length === 0) {
    throw new PatronError(ErrorCode.UNAUTHENTICATED, 'Send an API key or customer token: Authorization: Bearer …')
      .withHttpStatus(401, { 'www-authenticate': BEARER_CHALLENGE });
  }
  if (roles.length > 0 && !roles.some((r) => mine.includes(r as never))) {
    if (!field) throw new PatronError(ErrorCode.FORBIDDEN, 'Your key or token may not do this');
    const hint = COUNTERPARTS[field] ? `; use ${COUNTERPARTS[field]} instead` : '';
    // Customers' apps are not told which keys exist, only where their own form of an operation is.
    if (context.identity.kind === 'customer') throw new PatronError(ErrorCode.FORBIDDEN, `A customer token may not use ${field}${hint}`);
    const allowed = roles.map((r) => ROLE_NAMES[r as Role] ?? r);
    const who = allowed.length > 1 && allowed.every((a) => a.endsWith(' keys')) ? `${allowed.map((a) => a.slice(0, -5)).join(' or ')} keys` : allowed.join(' or ');
    throw new PatronError(ErrorCode.FORBIDDEN, `${caller(context.identity)} may not use ${field}, which is for ${who}${hint}`);
  }
  return true;
}

export function programOf(ctx: Context): string {
  if (ctx.identity.kind === 'anonymous') throw new PatronError(ErrorCode.UNAUTHENTICATED, 'Not authenticated');
  return ctx.identity.programId;
}
