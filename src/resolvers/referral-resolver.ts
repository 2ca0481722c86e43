import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../graphql/context';
import { Role } from '../graphql/context';
import { programOf } from '../graphql/auth';
import { badInput } from '../errors';
import { MemberRefInput, toMemberRef } from '../graphql/types/common';
import { Member } from '../graphql/types/member';
import {
  AttributeReferralInput, AttributionResult, RefereeConnection, ReferralAttemptConnection, ReferralSite, ReferralStats, ReferralTree,
  ReportVisitInput, VisitResult,
} from '../graphql/types/referrals';
import { buildTree, linkFor, type ReferralNodeRecord, type ReferralTreeNode } from '../services/referrals';
import { memberScope, requestContext } from './scope';

const KEYS = [Role.ADMIN, Role.SERVER];
const EVERYONE = [Role.ADMIN, Role.SERVER, Role.CUSTOMER];

/** Customers see their network's names, not the shop's customer ids. */
function shown<T extends ReferralNodeRecord>(ctx: Context, node: T): T {
  return ctx.identity.kind === 'customer' ? { ...node, externalId: null as unknown as string } : node;
}

function shownTree(ctx: Context, node: ReferralTreeNode): ReferralTreeNode {
  const visible = shown(ctx, node);
  visible.children = node.children.map((c) => shownTree(ctx, c));
  return visible;
}

/** The tree under a member, one statement per level through the request's DataLoader. */
async function tree(ctx: Context, memberId: string, depth: number): Promise<ReferralTree> {
  const root = await ctx.services.referrals.network.root(requestContext(ctx), memberId);
  const built = await buildTree(root, depth, (id) => ctx.loaders.referralChildren.load(id));
  if (ctx.identity.kind !== 'customer') return built;
  const top = shownTree(ctx, built.root);
  const nodes: ReferralTreeNode[] = [];
  for (let level = top.children; level.length > 0; level = level.flatMap((n) => n.children)) nodes.push(...level);
  return { root: top, depth: built.depth, size: built.size, nodes };
}

@Resolver()
export class ReferralResolver {
  @Authorized(...EVERYONE)
  @Query(() => ReferralTree, { description: 'The referral tree under a member to `depth` levels (1 to 10). Customers read their own (memberId may be left out).' })
  async referralTree(
    @Ctx() ctx: Context,
    @Arg('memberId', () => ID, { nullable: true }) memberId?: string,
    @Arg('depth', () => Int, { defaultValue: 3 }) depth?: number,
  ): Promise<ReferralTree> {
    if (memberId == null && ctx.identity.kind !== 'customer') throw badInput('memberId is required', { field: 'memberId' });
    const ref = await memberScope(ctx, memberId == null ? null : Object.assign(new MemberRefInput(), { id: memberId }));
    return tree(ctx, (ref as { id: string }).id, depth!);
  }

  @Authorized(Role.ADMIN)
  @Query(() => ReferralAttemptConnection, { description: 'Attributions tried, newest first: accepted, or refused with the reason.' })
  async referralAttempts(
    @Ctx() ctx: Context,
    @Arg('memberId', () => ID, { nullable: true }) memberId?: string,
    @Arg('refusedOnly', { nullable: true }) refusedOnly?: boolean,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', { nullable: true }) after?: string,
  ): Promise<ReferralAttemptConnection> {
    const page = await ctx.services.referrals.network.attempts(requestContext(ctx), { memberId, refusedOnly, first, after });
    return { nodes: page.nodes, pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor } };
  }

  @Authorized(...KEYS)
  @Mutation(() => AttributionResult, {
    description: 'Binds the member to a referrer (by code or by name) unless refused: the first valid attribution before the member\'s first paid order wins. A repeat answers the same.',
  })
  attributeReferral(@Arg('input') input: AttributeReferralInput, @Ctx() ctx: Context): Promise<AttributionResult> {
    return ctx.services.referrals.attribution.attribute(requestContext(ctx), {
      member: toMemberRef(input.member),
      code: input.via.code,
      referrer: input.via.referrer ? toMemberRef(input.via.referrer) : null,
      signals: input.signals,
    });
  }

  @Authorized(...KEYS)
  @Mutation(() => VisitResult, { description: 'A visit with its referring URL: from a verified referrer website, it binds the visitor to the site\'s owner.' })
  reportVisit(@Arg('input') input: ReportVisitInput, @Ctx() ctx: Context): Promise<VisitResult> {
    return ctx.services.referrals.sites.reportVisit(requestContext(ctx), { ...input, member: toMemberRef(input.member) });
  }

  @Authorized(...EVERYONE)
  @Mutation(() => ReferralSite, { description: 'Declares a website as the member\'s; serve its token at verificationUrl, then verifyReferralSite. Customers declare their own.' })
  async declareReferralSite(
    @Arg('url') url: string,
    @Ctx() ctx: Context,
    @Arg('member', () => MemberRefInput, { nullable: true }) member?: MemberRefInput,
  ): Promise<ReferralSite> {
    return ctx.services.referrals.sites.declare(requestContext(ctx), await memberScope(ctx, member), url);
  }

  @Authorized(...EVERYONE)
  @Mutation(() => ReferralSite, { description: 'Fetches the site\'s verification file now (short timeout, small size, public addresses only).' })
  verifyReferralSite(@Arg('siteId', () => ID) siteId: string, @Ctx() ctx: Context): Promise<ReferralSite> {
    const owner = ctx.identity.kind === 'customer' ? ctx.identity.memberId : undefined;
    return ctx.services.referrals.sites.verify(requestContext(ctx), siteId, owner);
  }
}

/** The member's referral fields (R1, R4); customers read them on `me`. */
@Resolver(() => Member)
export class MemberReferralResolver {
  @FieldResolver(() => String, { description: 'The member\'s referral code: 8 characters without 0/O/1/I.' })
  async referralCode(@Root() member: Member, @Ctx() ctx: Context): Promise<string> {
    return ctx.loaders.referralCode.load(member.id);
  }

  @FieldResolver(() => String, { description: 'The member\'s referral link, from the program\'s referralLinkTemplate.' })
  async referralLink(@Root() member: Member, @Ctx() ctx: Context): Promise<string> {
    const [code, program] = await Promise.all([ctx.loaders.referralCode.load(member.id), ctx.loaders.program.load(programOf(ctx))]);
    return linkFor(program.referralLinkTemplate, code);
  }

  @FieldResolver(() => ReferralStats, { description: 'Direct referrals, the whole network, and per level: members, paid orders, points earned from it.' })
  referralStats(@Root() member: Member, @Ctx() ctx: Context): Promise<ReferralStats> {
    return ctx.services.referrals.network.stats(requestContext(ctx), member.id);
  }

  @FieldResolver(() => RefereeConnection, { description: 'The member\'s referees at `level` (1 = direct), in the order they joined, with their figures.' })
  async referrals(
    @Root() member: Member,
    @Ctx() ctx: Context,
    @Arg('level', () => Int, { nullable: true }) level?: number,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', { nullable: true }) after?: string,
  ): Promise<RefereeConnection> {
    const page = await ctx.services.referrals.network.referees(requestContext(ctx), member.id, { level, first, after });
    return { nodes: page.nodes.map((n) => shown(ctx, n)), pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor } };
  }

  @FieldResolver(() => ReferralTree, { description: 'The tree under the member to `depth` levels (1 to 10).' })
  referralTree(@Root() member: Member, @Ctx() ctx: Context, @Arg('depth', () => Int, { defaultValue: 3 }) depth: number): Promise<ReferralTree> {
    return tree(ctx, member.id, depth);
  }

  @FieldResolver(() => [ReferralSite], { description: 'Websites the member declared.' })
  referralSites(@Root() member: Member, @Ctx() ctx: Context): Promise<ReferralSite[]> {
    return ctx.services.referrals.sites.sitesOf(member.id);
  }
}
