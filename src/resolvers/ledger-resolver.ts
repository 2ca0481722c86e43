import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../graphql/context';
import { Role } from '../graphql/context';
import { ErrorCode, PatronError } from '../errors';
import { MemberRefInput, Money, toMemberRef } from '../graphql/types/common';
import {
  Account, AccrueInput, LedgerEntry, AdjustInput, AuthorizationResult, AuthorizeRedemptionInput, CaptureRedemptionInput,
  LedgerEntryConnection, LedgerEntryFilter, LedgerResult, LotConnection, RedeemInput, ReleaseRedemptionInput,
  ReverseEntryInput,
} from '../graphql/types/ledger';
import { ledgerCursor, type AuthorizationResult as AuthorizationRecordResult, type LedgerResult as LedgerRecordResult } from '../services/ledger';
import {
  AccountValue, customerEntryMapper, fromCustomerCursor, toAccount, toCustomerLot, toLedgerEntry, toLot, toPage, type LedgerEntryValue,
} from './mappers';
import { memberScope, requestContext, writerContext } from './scope';

const KEYS = [Role.ADMIN, Role.SERVER];
const EVERYONE = [Role.ADMIN, Role.SERVER, Role.CUSTOMER];

function toResult(r: LedgerRecordResult, programId: string) {
  return { entry: toLedgerEntry(r.entry), account: toAccount(r.account, programId) };
}

function toAuthorizationResult(r: AuthorizationRecordResult, programId: string) {
  return { ...toResult(r, programId), authorization: r.authorization };
}

/** Points in the program's money (S2): the point value is configurable per program. */
async function worth(points: number, programId: string, ctx: Context): Promise<Money> {
  const program = await ctx.loaders.program.load(programId);
  return { amountMinor: points * program.pointValueMinor, currency: program.currency };
}

@Resolver(() => Account)
export class AccountResolver {
  @FieldResolver(() => Money)
  availableMoney(@Root() account: AccountValue, @Ctx() ctx: Context): Promise<Money> {
    return worth(account.available, account.programId, ctx);
  }

  @FieldResolver(() => Money)
  pendingMoney(@Root() account: AccountValue, @Ctx() ctx: Context): Promise<Money> {
    return worth(account.pending, account.programId, ctx);
  }

  @FieldResolver(() => Money)
  reservedMoney(@Root() account: AccountValue, @Ctx() ctx: Context): Promise<Money> {
    return worth(account.reserved, account.programId, ctx);
  }
}

@Resolver()
export class LedgerResolver {
  @Authorized(...EVERYONE)
  @Query(() => Account, { description: 'A member\'s balances. Customers may leave `member` out (or name their own member).' })
  async account(@Ctx() ctx: Context, @Arg('member', { nullable: true }) member?: MemberRefInput): Promise<AccountValue> {
    const request = requestContext(ctx);
    return toAccount(await ctx.services.ledgerQueries.account(request, await memberScope(ctx, member)), request.programId);
  }

  @Authorized(...EVERYONE)
  @Query(() => LedgerEntryConnection, { description: 'A member\'s history, newest first.' })
  async ledgerEntries(
    @Ctx() ctx: Context,
    @Arg('member', { nullable: true }) member?: MemberRefInput,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', { nullable: true }) after?: string,
    @Arg('filter', { nullable: true }) filter?: LedgerEntryFilter,
  ): Promise<LedgerEntryConnection> {
    const request = requestContext(ctx);
    const memberId = await ctx.services.ledgerQueries.memberId(request, await memberScope(ctx, member));
    if (ctx.identity.kind !== 'customer') {
      return toPage(await ctx.services.ledgerQueries.entries(request, memberId, { first, after, filter }), toLedgerEntry, (id) => ledgerCursor('entries', memberId, id));
    }
    // Customers page with customer-facing ids as cursors (mappers.ts), and filter by their own orders only.
    const ids = await ctx.services.access.customerIds();
    const page = filter?.orderId != null && !(await ctx.services.orders.ownOrderIds(request, memberId, [filter.orderId])).has(filter.orderId)
      ? { nodes: [], hasNextPage: false, endCursor: null }
      : await ctx.services.ledgerQueries.entries(request, memberId, { first, after: fromCustomerCursor(ids, 'entry', memberId, after), filter });
    return toPage(page, await customerEntryMapper(ctx, memberId, page.nodes), (id) => ids.encode('entry', memberId, id));
  }

  @Authorized(...EVERYONE)
  @Query(() => LotConnection, { description: 'A member\'s lots, newest first: what expires when.' })
  async lots(
    @Ctx() ctx: Context,
    @Arg('member', { nullable: true }) member?: MemberRefInput,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', { nullable: true }) after?: string,
    @Arg('openOnly', { nullable: true, description: 'Only lots with points left.' }) openOnly?: boolean,
  ): Promise<LotConnection> {
    const request = requestContext(ctx);
    const memberId = await ctx.services.ledgerQueries.memberId(request, await memberScope(ctx, member));
    if (ctx.identity.kind !== 'customer') return toPage(await ctx.services.ledgerQueries.lots(request, memberId, { first, after, openOnly }), toLot, (id) => ledgerCursor('lots', memberId, id));
    const ids = await ctx.services.access.customerIds();
    const page = await ctx.services.ledgerQueries.lots(request, memberId, { first, after: fromCustomerCursor(ids, 'lot', memberId, after), openOnly });
    return toPage(page, toCustomerLot(ids, memberId), (id) => ids.encode('lot', memberId, id));
  }

  @Authorized(...KEYS)
  @Mutation(() => LedgerResult, { description: 'Credits points as a new lot (pending until availableAt, expiring at expiresAt).' })
  async accrue(@Arg('input') input: AccrueInput, @Ctx() ctx: Context) {
    const actor = writerContext(ctx);
    return toResult(await ctx.services.ledger.accrue(actor, { ...input, member: toMemberRef(input.member) }), actor.programId);
  }

  @Authorized(...KEYS)
  @Mutation(() => LedgerResult, { description: 'Spends available points at once, nearest-expiry lots first.' })
  async redeem(@Arg('input') input: RedeemInput, @Ctx() ctx: Context) {
    const actor = writerContext(ctx);
    return toResult(await ctx.services.ledger.redeem(actor, { ...input, member: toMemberRef(input.member) }), actor.programId);
  }

  @Authorized(...KEYS)
  @Mutation(() => AuthorizationResult, { description: 'Reserves points at checkout; capture on payment, release on cancellation.' })
  async authorizeRedemption(@Arg('input') input: AuthorizeRedemptionInput, @Ctx() ctx: Context) {
    const actor = writerContext(ctx);
    const r = await ctx.services.ledger.authorizeRedemption(actor, { ...input, member: toMemberRef(input.member) });
    return toAuthorizationResult(r, actor.programId);
  }

  @Authorized(...KEYS)
  @Mutation(() => AuthorizationResult, { description: 'Spends reserved points; a partial capture releases the rest.' })
  async captureRedemption(@Arg('input') input: CaptureRedemptionInput, @Ctx() ctx: Context) {
    const actor = writerContext(ctx);
    return toAuthorizationResult(await ctx.services.ledger.captureRedemption(actor, input), actor.programId);
  }

  @Authorized(...KEYS)
  @Mutation(() => AuthorizationResult)
  async releaseRedemption(@Arg('input') input: ReleaseRedemptionInput, @Ctx() ctx: Context) {
    const actor = writerContext(ctx);
    return toAuthorizationResult(await ctx.services.ledger.releaseRedemption(actor, input), actor.programId);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => LedgerResult, { description: 'A manual correction with a reason: positive credits a lot, negative debits.' })
  async adjust(@Arg('input') input: AdjustInput, @Ctx() ctx: Context) {
    const actor = writerContext(ctx);
    return toResult(await ctx.services.ledger.adjust(actor, { ...input, member: toMemberRef(input.member) }), actor.programId);
  }

  @Authorized(...KEYS)
  @Mutation(() => LedgerResult, {
    description:
      "Undoes an accrual, redemption, adjustment or capture with a reversing entry. A rule's award reversed stops counting against the rule's caps, once-only limit and budget, for what the reversal took back. An order's entries are undone through the order (cancelOrder, refundOrderLines).",
  })
  async reverseEntry(@Arg('input') input: ReverseEntryInput, @Ctx() ctx: Context) {
    const actor = writerContext(ctx);
    // Not an id the ledger could have given: no such entry, named as it was sent.
    if (!/^\d{1,15}$/.test(input.entryId)) {
      throw new PatronError(ErrorCode.NOT_FOUND, 'Ledger entry not found: entryId takes LedgerEntry.id as API keys read it (digits), not publicId', {
        entryId: input.entryId,
      });
    }
    const entryId = Number(input.entryId);
    return toResult(await ctx.services.ledger.reverseEntry(actor, { ...input, entryId }), actor.programId);
  }
}


@Resolver(() => LedgerEntry)
export class LedgerEntryIdResolver {
  @FieldResolver(() => ID, {
    description: 'The entry\'s id as its member sees it (customer tokens get it as `id`, and the same kind of id in reversesEntryId, '
      + 'partlyReversesEntryId and lotId): stable, and it says nothing of how many entries the program has.',
  })
  async publicId(@Root() entry: LedgerEntryValue, @Ctx() ctx: Context): Promise<string> {
    return (await ctx.services.access.customerIds()).encode('entry', entry.memberId, entry.serial);
  }
}
