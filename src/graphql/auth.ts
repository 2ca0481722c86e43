import type { AuthChecker } from 'type-graphql';
import { ErrorCode, PatronError } from '../errors';
import type { AccessService } from '../services/access';
import { Context, Identity, rolesOf } from './context';

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
export const authChecker: AuthChecker<Context> = ({ context }, roles) => checkRoles(context, roles);

export function checkRoles(context: Context, roles: readonly string[]): true {
  const mine = rolesOf(context.identity);
  if (mine.length === 0) throw new PatronError(ErrorCode.UNAUTHENTICATED, 'Send an API key or customer token: Authorization: Bearer …');
  if (roles.length > 0 && !roles.some((r) => mine.includes(r as never))) {
    throw new PatronError(ErrorCode.FORBIDDEN, 'Your key or token may not do this');
  }
  return true;
}

export function programOf(ctx: Context): string {
  if (ctx.identity.kind === 'anonymous') throw new PatronError(ErrorCode.UNAUTHENTICATED, 'Not authenticated');
  return ctx.identity.programId;
}
