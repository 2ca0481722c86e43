import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IsOptional, Length, ValidateNested } from 'class-validator';
import { ReferralVia } from '../../entities/referral';
import { ReferralRefusal } from '../../services/referrals';
import { MemberRefInput, PageInfo } from './common';

registerEnumType(ReferralVia, {
  name: 'ReferralVia',
  description: 'How a member was bound to their referrer.',
  valuesConfig: {
    REGISTRATION: { description: 'upsertMember with referrerExternalId.' },
    CHECKOUT: { description: 'A referral code given with placeOrder.' },
    WEBSITE: { description: 'A visit reported from the referrer\'s verified website.' },
    LINK: { description: 'attributeReferral with the referrer\'s code.' },
    MANUAL: { description: 'attributeReferral naming the referrer.' },
  },
});

registerEnumType(ReferralRefusal, {
  name: 'ReferralRefusal',
  description: 'Why an attribution was refused.',
  valuesConfig: {
    SELF_REFERRAL: { description: 'The member named themselves.' },
    SAME_EMAIL: { description: 'Same e-mail after normalisation (case, Gmail dots, +tags).' },
    SAME_PHONE: { description: 'Same phone number.' },
    SAME_DEVICE: { description: 'The shop reported the same device hash for both.' },
    SAME_IP: { description: 'The shop reported the same IP hash for both.' },
    CYCLE: { description: 'The referrer is in the member\'s own network.' },
    TOO_DEEP: { description: 'The tree would be deeper than the program\'s referralMaxDepth.' },
    ALREADY_REFERRED: { description: 'The member has a referrer already: the first valid attribution wins.' },
    AFTER_FIRST_ORDER: { description: 'The member paid an order before.' },
  },
});

@InputType({ description: 'Hashes the shop computed for the customer\'s request (never raw values): 8 to 128 characters.' })
export class ReferralSignalsInput {
  @Field({ nullable: true }) @IsOptional() @Length(8, 128) deviceHash?: string;
  @Field({ nullable: true }) @IsOptional() @Length(8, 128) ipHash?: string;
}

@InputType({ description: 'Who referred the member: exactly one of code, referrer.' })
export class ReferralViaInput {
  @Field({ nullable: true, description: 'The referrer\'s referral code (e.g. from their link).' }) @IsOptional() @Length(1, 32) code?: string;
  @Field(() => MemberRefInput, { nullable: true }) @IsOptional() @ValidateNested() referrer?: MemberRefInput;
}

@ObjectType({ description: 'What an attribution came to. A refusal is recorded for admins (referralAttempts).' })
export class AttributionResult {
  @Field() accepted!: boolean;
  @Field(() => ReferralRefusal, { nullable: true }) reason!: ReferralRefusal | null;
  @Field(() => ID) memberId!: string;
  @Field(() => ID, { description: 'The candidate referrer.' }) referrerId!: string;
  @Field(() => ReferralVia) via!: ReferralVia;
  @Field(() => ID, { nullable: true, description: 'The recorded attempt; null when the member had this referrer already.' })
  attemptId!: string | null;
}

@ObjectType({ description: 'An attribution tried, accepted or refused.' })
export class ReferralAttempt {
  @Field(() => ID) id!: string;
  @Field(() => ID) memberId!: string;
  @Field(() => ID, { nullable: true }) referrerId!: string | null;
  @Field(() => ReferralVia) via!: ReferralVia;
  @Field(() => String, { nullable: true, description: 'The code or referring URL it came with.' }) detail!: string | null;
  @Field() accepted!: boolean;
  @Field(() => ReferralRefusal, { nullable: true }) reason!: ReferralRefusal | null;
  @Field() createdAt!: Date;
}

@ObjectType()
export class ReferralAttemptConnection {
  @Field(() => [ReferralAttempt]) nodes!: ReferralAttempt[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType({ simpleResolvers: true, description: 'A member in a referral tree; level 0 is the tree\'s root.' })
export class ReferralNode {
  @Field(() => ID) memberId!: string;
  @Field(() => String, { nullable: true, description: 'The shop\'s customer id; null for customer tokens.' }) externalId!: string | null;
  @Field(() => String, { nullable: true }) name!: string | null;
  @Field(() => Int) level!: number;
  @Field(() => ID, { nullable: true }) referrerId!: string | null;
  @Field(() => ReferralVia, { nullable: true }) via!: ReferralVia | null;
  @Field(() => Date, { nullable: true }) referredAt!: Date | null;
  @Field(() => [ReferralNode], { description: 'Direct referees, within the tree\'s depth.' }) children!: ReferralNode[];
}

@ObjectType({ simpleResolvers: true })
export class ReferralTree {
  @Field(() => ReferralNode) root!: ReferralNode;
  @Field(() => Int) depth!: number;
  @Field(() => Int, { description: 'Members below the root within depth.' }) size!: number;
  @Field(() => [ReferralNode], { description: 'Every member below the root, level by level (each names its referrerId): the whole tree without nesting.' })
  nodes!: ReferralNode[];
}

@ObjectType({ simpleResolvers: true })
export class ReferralLevelStats {
  @Field(() => Int, { description: '1 = direct referrals.' }) level!: number;
  @Field(() => Int) members!: number;
  @Field(() => Int, { description: 'Paid orders of that level\'s members, not cancelled or wholly returned.' }) paidOrders!: number;
  @Field(() => Int, { description: 'Points earned from that level, less what was taken back.' }) pointsEarned!: number;
}

@ObjectType({ simpleResolvers: true })
export class ReferralStats {
  @Field(() => Int) directReferrals!: number;
  @Field(() => Int, { description: 'Members in the whole network, every level.' }) networkSize!: number;
  @Field(() => Int) paidOrders!: number;
  @Field(() => Int) pointsEarned!: number;
  @Field(() => [ReferralLevelStats]) levels!: ReferralLevelStats[];
}

@ObjectType({ simpleResolvers: true, description: 'A member of one\'s network with their own figures.' })
export class Referee {
  @Field(() => ID) memberId!: string;
  @Field(() => String, { nullable: true, description: 'null for customer tokens.' }) externalId!: string | null;
  @Field(() => String, { nullable: true }) name!: string | null;
  @Field(() => Int) level!: number;
  @Field(() => ID, { nullable: true }) referrerId!: string | null;
  @Field(() => ReferralVia, { nullable: true }) via!: ReferralVia | null;
  @Field(() => Date, { nullable: true }) referredAt!: Date | null;
  @Field(() => Int) paidOrders!: number;
  @Field(() => Int, { description: 'Points the member earned from this referee.' }) pointsEarned!: number;
}

@ObjectType()
export class RefereeConnection {
  @Field(() => [Referee]) nodes!: Referee[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType({ description: 'A website a member declared as theirs.' })
export class ReferralSite {
  @Field(() => ID) id!: string;
  @Field(() => ID) memberId!: string;
  @Field() origin!: string;
  @Field() host!: string;
  @Field({ description: 'Serve this line at verificationUrl, then call verifyReferralSite.' }) token!: string;
  @Field() verificationUrl!: string;
  @Field() verified!: boolean;
  @Field(() => Date, { nullable: true }) verifiedAt!: Date | null;
  @Field(() => Date, { nullable: true }) checkedAt!: Date | null;
  @Field(() => String, { nullable: true, description: 'Why the last check failed.' }) lastError!: string | null;
  @Field() createdAt!: Date;
}

@ObjectType()
export class VisitResult {
  @Field({ description: 'The visitor is bound to the site\'s owner.' }) bound!: boolean;
  @Field(() => ID, { nullable: true, description: 'The verified site\'s owner.' }) referrerId!: string | null;
  @Field(() => String, { nullable: true, description: 'no_verified_site, already_referred, or a ReferralRefusal value.' })
  reason!: string | null;
}

@InputType()
export class AttributeReferralInput {
  @Field(() => MemberRefInput, { description: 'The referred member.' }) @ValidateNested() member!: MemberRefInput;
  @Field(() => ReferralViaInput) @ValidateNested() via!: ReferralViaInput;
  @Field(() => ReferralSignalsInput, { nullable: true }) @IsOptional() @ValidateNested() signals?: ReferralSignalsInput;
}

@InputType()
export class ReportVisitInput {
  @Field(() => MemberRefInput, { description: 'The visitor.' }) @ValidateNested() member!: MemberRefInput;
  @Field({ description: 'The page the visitor came from (the Referer).' }) @Length(1, 2000) referringUrl!: string;
  @Field(() => ReferralSignalsInput, { nullable: true }) @IsOptional() @ValidateNested() signals?: ReferralSignalsInput;
}
