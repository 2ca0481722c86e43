import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { MemberStatus } from '../entities/member';
import { ErrorCode, PatronError } from '../errors';
import type { Context } from '../graphql/context';
import { Role } from '../graphql/context';
import { programOf } from '../graphql/auth';
import { MemberRefInput, toMemberRef } from '../graphql/types/common';
import { Account } from '../graphql/types/ledger';
import { CustomerToken, IssueCustomerTokenInput, Member, UpsertMemberInput, UpsertMemberResult } from '../graphql/types/member';
import { AccountValue, toAccount } from './mappers';
import { memberScope, requestContext, writerContext } from './scope';

@Resolver(() => Member)
export class MemberResolver {
  @Authorized(Role.ADMIN, Role.SERVER, Role.CUSTOMER)
  @Query(() => Member, { nullable: true, description: 'A member by exactly one of id, externalId, email, phone.' })
  async member(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { nullable: true }) id?: string,
    @Arg('externalId', { nullable: true }) externalId?: string,
    @Arg('email', { nullable: true }) email?: string,
    @Arg('phone', { nullable: true }) phone?: string,
  ): Promise<Member | null> {
    const ref = await memberScope(ctx, Object.assign(new MemberRefInput(), { id, externalId, email, phone }));
    return ctx.services.members.find(requestContext(ctx), ref);
  }

  @Authorized(Role.CUSTOMER)
  @Query(() => Member, { description: 'The member a customer token speaks for.' })
  async me(@Ctx() ctx: Context): Promise<Member> {
    return ctx.services.members.get(requestContext(ctx), await memberScope(ctx, null));
  }

  @FieldResolver(() => Account)
  async account(@Root() member: Member, @Ctx() ctx: Context): Promise<AccountValue> {
    const account = await ctx.loaders.accountByMember.load(member.id);
    if (!account) throw new PatronError(ErrorCode.NOT_FOUND, 'Account not found');
    return toAccount(account, programOf(ctx));
  }

  @Authorized(Role.ADMIN, Role.SERVER)
  @Mutation(() => UpsertMemberResult, { description: 'Registers a member, or updates the one with this externalId.' })
  async upsertMember(@Arg('input') input: UpsertMemberInput, @Ctx() ctx: Context): Promise<UpsertMemberResult> {
    const rc = writerContext(ctx);
    const result = await ctx.services.members.upsert(rc, input);
    // Only a registration binds a referrer: what its attempt came to (one indexed row), also for
    // a retry of that registration, which finds the member registered.
    const referral = input.referrerExternalId ? await ctx.services.referrals.attribution.atRegistration(rc.programId, result.member.id) : null;
    return { ...result, referral: referral as UpsertMemberResult['referral'] };
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Member, { description: 'A frozen member keeps their points but cannot spend them.' })
  freezeMember(@Arg('member') member: MemberRefInput, @Ctx() ctx: Context): Promise<Member> {
    return ctx.services.members.setStatus(writerContext(ctx), toMemberRef(member), MemberStatus.FROZEN);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Member)
  unfreezeMember(@Arg('member') member: MemberRefInput, @Ctx() ctx: Context): Promise<Member> {
    return ctx.services.members.setStatus(writerContext(ctx), toMemberRef(member), MemberStatus.ACTIVE);
  }

  @Authorized(Role.ADMIN, Role.SERVER)
  @Mutation(() => CustomerToken, { description: 'A short-lived token for one member\'s app: it reads and subscribes to that member only.' })
  issueCustomerToken(@Arg('input') input: IssueCustomerTokenInput, @Ctx() ctx: Context): Promise<CustomerToken> {
    return ctx.services.access.issueCustomerToken(writerContext(ctx), toMemberRef(input.member), input.ttlSeconds);
  }
}
