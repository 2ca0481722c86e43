import { ErrorCode, PatronError, badInput } from '../errors';
import type { Context } from '../graphql/context';
import { MemberRefInput, toMemberRef } from '../graphql/types/common';

import type { Actor, MemberRef, RequestContext } from '../services/shared';

/**
 * The context a service method takes first: program, actor, request id, logger, client.
 * `programId` names another program than the caller's own where the operator may (key management).
 */
export function requestContext(ctx: Context, programId?: string): RequestContext {
  const id = ctx.identity;
  if (id.kind === 'anonymous') throw new PatronError(ErrorCode.UNAUTHENTICATED, 'Credentials are required');
  return id.kind === 'customer'
    ? new ResolverRequest(ctx, programId ?? id.programId, 'customer', id.memberId)
    : new ResolverRequest(ctx, programId ?? id.programId, id.role === 'admin' ? 'admin' : 'server', id.keyId);
}

/**
 * A class rather than an object literal with a getter: a literal with an accessor (after a
 * spread, above all) is built on V8's slow path, microseconds per request; this takes nanoseconds.
 */
class ResolverRequest implements RequestContext {
  readonly #ctx: Context;
  readonly requestId: string;
  readonly clientAddress: string | null;
  readonly userAgent: string | null;

  constructor(
    ctx: Context,
    readonly programId: string,
    readonly kind: Actor['kind'],
    readonly id: string,
  ) {
    this.#ctx = ctx;
    this.requestId = ctx.requestId;
    this.clientAddress = ctx.client.address;
    this.userAgent = ctx.client.userAgent;
  }

  /** Read when a service logs, so the request's child logger is made only then (see RequestScope). */
  get logger() {
    return this.#ctx.logger;
  }
}

/** The context of a write: a key's; customers never write. */
export function writerContext(ctx: Context): RequestContext {
  if (ctx.identity.kind !== 'key') throw new PatronError(ErrorCode.FORBIDDEN, 'Only API keys may change the ledger');
  return requestContext(ctx);
}

/** The writer a key stands for; customers never write. */
export function actorOf(ctx: Context): Actor {
  const id = ctx.identity;
  if (id.kind !== 'key') throw new PatronError(ErrorCode.FORBIDDEN, 'Only API keys may change the ledger');
  return { programId: id.programId, kind: id.role === 'admin' ? 'admin' : 'server', id: id.keyId };
}

/**
 * The member a read is about. A customer token reads only its own member: it may leave the
 * argument out, or name the member any way the shop knows it (an external id, email or phone
 * is looked up and must be its own); keys must name one. Naming anyone else — or nobody — is
 * FORBIDDEN either way, so a token learns nothing about who else is a member.
 */
export async function memberScope(ctx: Context, given: MemberRefInput | null | undefined): Promise<MemberRef> {
  const id = ctx.identity;
  const input = given && Object.values(given).some((v) => v != null) ? given : null;
  if (id.kind === 'customer') {
    if (input && (await ownMemberId(ctx, toMemberRef(input))) !== id.memberId) {
      throw new PatronError(ErrorCode.FORBIDDEN, 'A customer token reads only its own member');
    }
    return { id: id.memberId };
  }
  if (!input) throw badInput('member is required', { field: 'member' });
  return toMemberRef(input);
}

/** The id a customer's member reference stands for: by id as given, otherwise looked up. */
async function ownMemberId(ctx: Context, ref: MemberRef): Promise<string | null> {
  if ('id' in ref) return ref.id;
  return (await ctx.services.members.find(requestContext(ctx), ref))?.id ?? null;
}

