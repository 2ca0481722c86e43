import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { ErrorCode, PatronError } from '../errors';
import { checkRoles, programOf } from '../graphql/auth';
import type { Context } from '../graphql/context';
import { Role } from '../graphql/context';
import { Account, BalanceChange, type LedgerEntry } from '../graphql/types/ledger';
import type { EntryRecord } from '../services/ledger';
import { BALANCE_CHANGED } from '../services/ledger';
import type { DeliveredBalanceChange } from '../services/realtime';
import { MemberRefInput } from '../graphql/types/common';
import { memberScope, requestContext } from './scope';
import { customerEntryMapper, ledgerEntryMapper, toAccount, toLedgerEntry, type AccountValue } from './mappers';

/** Checked when the subscription starts, not per event: a refused subscription never opens. */
async function subscribeToMember(data: SubscribeResolverData<unknown, { memberId?: string }, Context>, roles: Role[]) {
  const ctx = data.context;
  checkRoles(ctx, roles, data.info.fieldName);
  const memberId = ctx.identity.kind === 'customer' ? ctx.identity.memberId : String(data.args.memberId);
  const member = await ctx.services.members.find(requestContext(ctx), { id: memberId });
  if (!member) throw new PatronError(ErrorCode.NOT_FOUND, 'Member not found', { memberId });
  // Events are published under the member's id as stored (lower case); the id may be sent in any case.
  return ctx.pubsub.subscribe(BALANCE_CHANGED, member.id);
}

/** Events travel as JSON between instances: dates arrive as strings. */
function toBalanceChange(event: DeliveredBalanceChange, toEntry: (e: EntryRecord) => LedgerEntry = toLedgerEntry): BalanceChange {
  const entry: EntryRecord = { ...event.entry, createdAt: new Date(event.entry.createdAt) };
  return {
    memberId: event.memberId,
    ...event.balances,
    entry: toEntry(entry),
    sequence: Number(event.sequence),
    occurredAt: new Date(event.occurredAt),
  };
}

@Resolver()
export class SubscriptionResolver {
  @Authorized(Role.ADMIN, Role.SERVER, Role.CUSTOMER)
  @Query(() => [BalanceChange], {
    description: 'A member\'s balance changes after a sequence number, oldest first, as subscribers received them (kept 7 days): what a client that saw a gap missed. Customers read their own.',
  })
  async balanceChanges(
    @Ctx() ctx: Context,
    @Arg('afterSequence', () => Int) afterSequence: number,
    @Arg('member', () => MemberRefInput, { nullable: true }) member: MemberRefInput | null,
    @Arg('first', () => Int, { defaultValue: 100 }) first: number,
  ): Promise<BalanceChange[]> {
    const request = requestContext(ctx);
    const found = await ctx.services.members.get(request, await memberScope(ctx, member));
    const events = await ctx.services.missedEvents.balanceChanges(request, found.id, afterSequence, first);
    const toEntry = await ledgerEntryMapper(ctx, found.id, events.map((e) => e.entry));
    return events.map((event) => toBalanceChange(event, toEntry));
  }

  @Authorized(Role.ADMIN, Role.SERVER)
  @Subscription(() => BalanceChange, {
    description: 'Every change of one member\'s balance, after it committed, on any instance.',
    subscribe: (data) => subscribeToMember(data as never, [Role.ADMIN, Role.SERVER]),
  })
  balanceChanged(@Root() event: DeliveredBalanceChange, @Arg('memberId', () => ID) _memberId: string): BalanceChange {
    return toBalanceChange(event);
  }

  @Authorized(Role.CUSTOMER)
  @Subscription(() => BalanceChange, {
    description: 'The customer token\'s own balance changes.',
    subscribe: (data) => subscribeToMember(data as never, [Role.CUSTOMER]),
  })
  async myBalance(@Root() event: DeliveredBalanceChange, @Ctx() ctx: Context): Promise<BalanceChange> {
    return toBalanceChange(event, await customerEntryMapper(ctx, event.entry.memberId, [event.entry]));
  }
}

@Resolver(() => BalanceChange)
export class BalanceChangeResolver {
  /**
   * The changed account itself, so a normalised cache (keyed by `Account.id`) updates every
   * watched query from the event alone. Read when the event is delivered — not through the
   * request's DataLoader, which a subscription keeps for its whole life — so it is at least as
   * new as this change; only subscribers that select it pay the read.
   */
  @FieldResolver(() => Account, { description: 'The account as it is when the event is delivered: at least as new as this change.' })
  async account(@Root() change: BalanceChange, @Ctx() ctx: Context): Promise<AccountValue> {
    const programId = programOf(ctx);
    return toAccount(await ctx.services.ledgerQueries.account(requestContext(ctx), { id: change.memberId }), programId);
  }
}
