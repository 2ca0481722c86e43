import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ArrayMaxSize, IsOptional, Length, Matches, MaxLength } from 'class-validator';
import { JSONResolver } from 'graphql-scalars';
import { MemberStatus } from '../../entities/member';
import { MemberField } from '../../services/members';
import { MemberRefInput } from './common';
import { AttributionResult } from './referrals';

registerEnumType(MemberStatus, { name: 'MemberStatus', description: 'A frozen member cannot spend points.' });
registerEnumType(MemberField, { name: 'MemberField', description: 'A member\'s field upsertMember can empty (`clear`).' });

@ObjectType({ description: 'A customer of the shop in the program.' })
export class Member {
  @Field(() => ID) id!: string;
  @Field({ description: 'The shop\'s own customer id.' }) externalId!: string;
  @Field(() => String, { nullable: true }) email!: string | null;
  @Field(() => String, { nullable: true, description: 'E.164' }) phone!: string | null;
  @Field(() => String, { nullable: true }) name!: string | null;
  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD' }) birthday!: string | null;
  @Field(() => MemberStatus) status!: MemberStatus;
  @Field(() => [String]) tags!: string[];
  @Field() registeredAt!: Date;
  @Field(() => ID, { nullable: true, description: 'The member who referred this one, bound at registration.' }) referrerId!: string | null;
  @Field(() => JSONResolver, { description: 'The shop\'s facts about the member that rule conditions may compare.' }) attributes!: unknown;
}

@InputType()
export class UpsertMemberInput {
  @Field({ description: 'The shop\'s own customer id; upserting the same id again updates the member.' })
  @Length(1, 200)
  externalId!: string;
  @Field({ nullable: true }) @IsOptional() @MaxLength(254) email?: string;
  @Field({ nullable: true }) @IsOptional() @Length(3, 32) phone?: string;
  @Field({ nullable: true }) @IsOptional() @Length(1, 200) name?: string;
  @Field({ nullable: true, description: 'YYYY-MM-DD' }) @IsOptional() @Matches(/^\d{4}-\d{2}-\d{2}$/) birthday?: string;
  @Field(() => [String], { nullable: true }) @IsOptional() @ArrayMaxSize(50) @Length(1, 50, { each: true }) tags?: string[];
  @Field({ nullable: true, description: 'When the customer registered at the shop; defaults to now.' })
  @IsOptional()
  registeredAt?: Date;
  @Field({ nullable: true, description: 'The referring member\'s externalId; bound when the member registers, ignored afterwards.' })
  @IsOptional()
  @Length(1, 200)
  referrerExternalId?: string;
  @Field(() => JSONResolver, { nullable: true, description: 'A JSON object; replaces the member\'s attributes when given.' })
  @IsOptional()
  attributes?: Record<string, unknown>;
  @Field(() => [MemberField], {
    nullable: true,
    description:
      'Fields to empty on an existing member (a new one starts without them). A field left out, or null, keeps what it holds; one both given a value and cleared is refused. Tags and attributes are emptied with [] and {}.',
  })
  @IsOptional()
  @ArrayMaxSize(4)
  clear?: MemberField[];
}

@ObjectType()
export class UpsertMemberResult {
  @Field(() => Member) member!: Member;
  @Field({ description: 'True when this call registered the member.' }) created!: boolean;
  @Field(() => AttributionResult, {
    nullable: true,
    description: 'When the call names referrerExternalId: what the referrer named at the member\'s registration came to (bound, or refused and why; the member is registered either way), so a retried registration answers the same. null when the call names none or the member registered without one.',
  })
  referral?: AttributionResult | null;
}

@ObjectType()
export class CustomerToken {
  @Field({ description: 'A short-lived token for the member\'s app: `Authorization: Bearer <token>`.' }) token!: string;
  @Field(() => ID) memberId!: string;
  @Field() expiresAt!: Date;
}

@InputType()
export class IssueCustomerTokenInput {
  @Field(() => MemberRefInput) member!: MemberRefInput;
  @Field(() => Int, { nullable: true, description: 'Seconds, 60 to 86400.' }) @IsOptional() ttlSeconds?: number;
}
