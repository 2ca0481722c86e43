import {
  Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription, type SubscribeResolverData,
} from 'type-graphql';
import { ErrorCode, PatronError } from '../errors';
import { checkRoles, programOf } from '../graphql/auth';
import type { Context } from '../graphql/context';
import { Role } from '../graphql/context';
import { toMemberRef } from '../graphql/types/common';
import { Member } from '../graphql/types/member';
import {
  AssignTierInput, PurchaseTierMembershipInput, SaveTierStructureResult, TierChange, TierMembership, TierStatus, TierStructure,
  TierStructureInput, TierStructurePreview,
} from '../graphql/types/tiers';
import { TIER_CHANGED, type TierChangedEvent, type TierStructure as TierStructureRecord } from '../services/tiers';
import { actorOf, requestContext } from './scope';

const KEYS = [Role.ADMIN, Role.SERVER];

const toStructure = (s: TierStructureRecord): TierStructure =>
  ({ ...s, window: s.window.kind, windowMonths: s.window.months }) as unknown as TierStructure;

const toInput = (input: TierStructureInput) => ({ ...input, levels: input.levels.map((l) => ({ ...l })) });

/** Events travel as JSON between instances: dates arrive as strings. */
const toChange = (e: TierChangedEvent): TierChange => ({ ...e, changedAt: new Date(e.changedAt) }) as TierChange;

/** Checked when the subscription starts: a refused subscription never opens. */
async function subscribeToTier(data: SubscribeResolverData<unknown, { memberId?: string }, Context>, roles: Role[]) {
  const ctx = data.context;
  checkRoles(ctx, roles, data.info.fieldName);
  const memberId = ctx.identity.kind === 'customer' ? ctx.identity.memberId : String(data.args.memberId);
  const member = await ctx.services.members.find(requestContext(ctx), { id: memberId });
  if (!member) throw new PatronError(ErrorCode.NOT_FOUND, 'Member not found', { memberId });
  // Events are published under the member's id as stored (lower case); the id may be sent in any case.
  return ctx.pubsub.subscribe(TIER_CHANGED, member.id);
}

@Resolver()
export class TierResolver {
  @Authorized(Role.ADMIN, Role.SERVER, Role.CUSTOMER)
  @Query(() => TierStructure, { nullable: true, description: 'The program\'s tier structure in force; null before the first save.' })
  async tierStructure(@Ctx() ctx: Context): Promise<TierStructure | null> {
    const structure = await ctx.services.tiers.structure(programOf(ctx));
    return structure && toStructure(structure);
  }

  @Authorized(Role.ADMIN)
  @Query(() => TierStructurePreview, { description: 'A dry run of a structure over today\'s members: how many would move up or down, per tier. Writes nothing.' })
  previewTierStructure(@Arg('input') input: TierStructureInput, @Ctx() ctx: Context): Promise<TierStructurePreview> {
    return ctx.services.tiers.previewStructure(actorOf(ctx), toInput(input));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => SaveTierStructureResult, { description: 'Saves the structure as a new version and requalifies every member under it; each change is in tierHistory.' })
  async saveTierStructure(@Arg('input') input: TierStructureInput, @Ctx() ctx: Context): Promise<SaveTierStructureResult> {
    const { structure, changed } = await ctx.services.tiers.saveStructure(actorOf(ctx), toInput(input));
    return { structure: toStructure(structure), changed };
  }

  @Authorized(...KEYS)
  @Mutation(() => TierStatus, { description: 'Puts a member in a tier until a date (VIP), replacing any running paid or assigned membership. Afterwards they hold what they earned.' })
  async assignTier(@Arg('input') input: AssignTierInput, @Ctx() ctx: Context): Promise<TierStatus> {
    return (await ctx.services.tiers.assignTier(actorOf(ctx), { ...input, member: toMemberRef(input.member) })) as TierStatus;
  }

  @Authorized(...KEYS)
  @Mutation(() => TierMembership, {
    description:
      'A paid membership of a tier for some months; idempotent. The same tier bought again renews from its end; a higher tier replaces a running membership from now. A tier below a running paid or assigned one is refused (INVALID_STATE: it would end that one), and so is the base tier every member has (BAD_USER_INPUT).',
  })
  purchaseTierMembership(@Arg('input') input: PurchaseTierMembershipInput, @Ctx() ctx: Context): Promise<TierMembership> {
    return ctx.services.tiers.purchaseTierMembership(actorOf(ctx), { ...input, member: toMemberRef(input.member) });
  }

  @Authorized(...KEYS)
  @Subscription(() => TierChange, {
    description: 'Every change of one member\'s tier, after it committed, on any instance.',
    subscribe: (data) => subscribeToTier(data as never, KEYS),
  })
  tierChanged(@Root() event: TierChangedEvent, @Arg('memberId', () => ID) _memberId: string): TierChange {
    return toChange(event);
  }

  @Authorized(Role.CUSTOMER)
  @Subscription(() => TierChange, {
    description: 'The customer token\'s own tier changes.',
    subscribe: (data) => subscribeToTier(data as never, [Role.CUSTOMER]),
  })
  myTier(@Root() event: TierChangedEvent): TierChange {
    return toChange(event);
  }
}

/** A member's tier fields; whoever may read the member may read them (customers: their own). */
@Resolver(() => Member)
export class MemberTierResolver {
  @FieldResolver(() => TierStatus, { nullable: true, description: 'Tier, since, until, progress to the next and the downgrade risk; null without a structure.' })
  async tierStatus(@Root() member: Member, @Ctx() ctx: Context): Promise<TierStatus | null> {
    return (await ctx.services.tiers.tierStatus(programOf(ctx), { id: member.id })) as TierStatus | null;
  }

  @FieldResolver(() => [TierChange], { description: 'Changes of the member\'s tier, newest first, each with its reason.' })
  async tierHistory(
    @Root() member: Member,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
  ): Promise<TierChange[]> {
    return (await ctx.services.tiers.tierHistory(programOf(ctx), { id: member.id }, first)) as TierChange[];
  }
}
