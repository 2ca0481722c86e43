import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { SafeIntResolver } from 'graphql-scalars';
import { ArrayMaxSize, IsOptional, Length, ValidateNested } from 'class-validator';
import { MemberRefInput } from './common';

export enum TierMetricValue { SPEND = 'spend', POINTS = 'points' }
export enum TierWindowValue { LIFETIME = 'lifetime', CALENDAR_YEAR = 'calendar_year', ROLLING_MONTHS = 'rolling_months' }
export enum DowngradePolicyValue { NONE = 'none', ONE_LEVEL = 'one_level', TO_EARNED = 'to_earned' }
export enum TierSourceValue { EARNED = 'earned', MANUAL = 'manual', PAID = 'paid' }
export enum TierChangeReasonValue {
  QUALIFIED = 'qualified', RETURNED = 'returned', GRACE_ENDED = 'grace_ended', ASSIGNED = 'assigned', ASSIGNMENT_ENDED = 'assignment_ended',
  PURCHASED = 'purchased', MEMBERSHIP_LAPSED = 'membership_lapsed', STRUCTURE_CHANGED = 'structure_changed',
}

registerEnumType(TierMetricValue, {
  name: 'TierMetric',
  valuesConfig: {
    SPEND: { description: 'Money paid for goods, minor units, net of points, refunds and cancellations.' },
    POINTS: { description: 'Points earned from orders, net of take-backs. Never the balance.' },
  },
});
registerEnumType(TierWindowValue, {
  name: 'TierWindow',
  description: 'Which qualifying orders count, in the program\'s time zone.',
  valuesConfig: {
    LIFETIME: { description: 'All of them.' },
    CALENDAR_YEAR: { description: 'Those paid since the local New Year.' },
    ROLLING_MONTHS: { description: 'Those paid in the last windowMonths months.' },
  },
});
registerEnumType(DowngradePolicyValue, {
  name: 'TierDowngradePolicy',
  description: 'What the requalify-tiers job does to a member who has not qualified for their tier during the grace period.',
  valuesConfig: {
    NONE: { description: 'Nothing: an earned tier is kept (cancels and returns still take back what they earned).' },
    ONE_LEVEL: { description: 'One level down, then another grace period.' },
    TO_EARNED: { description: 'Down to the level the member qualified for during the grace period.' },
  },
});
registerEnumType(TierSourceValue, { name: 'TierSource', description: 'Where the tier in force comes from.' });
registerEnumType(TierChangeReasonValue, { name: 'TierChangeReason' });

@ObjectType({ simpleResolvers: true, description: 'A level of the structure and its benefits.' })
export class TierLevel {
  @Field(() => Int, { description: '0 = the lowest level.' }) rank!: number;
  @Field() code!: string;
  @Field() name!: string;
  @Field(() => SafeIntResolver, { description: 'What qualifies, in the structure\'s metric.' }) threshold!: number;
  @Field(() => Float, { description: 'Multiplies what the rules award the member.' }) earnMultiplier!: number;
  @Field(() => Int, { nullable: true, description: 'Share of an order payable with points; null = the program\'s maxRedeemPercent.' })
  maxRedeemPercent!: number | null;
  @Field(() => Float, { description: 'The member\'s discount on an order that takes it instead of points.' }) discountPercent!: number;
  @Field(() => [String], { description: 'Labels an app shows: free wrapping, priority service.' }) perks!: string[];
}

@ObjectType({ simpleResolvers: true })
export class TierStructure {
  @Field(() => Int) version!: number;
  @Field(() => TierMetricValue) metric!: TierMetricValue;
  @Field(() => TierWindowValue) window!: TierWindowValue;
  @Field(() => Int, { nullable: true }) windowMonths!: number | null;
  @Field(() => DowngradePolicyValue) downgradePolicy!: DowngradePolicyValue;
  @Field(() => Int) graceDays!: number;
  @Field(() => [TierLevel], { description: 'Lowest first.' }) levels!: TierLevel[];
  @Field() createdAt!: Date;
}

@InputType()
export class TierLevelInput {
  @Field() @Length(1, 40) code!: string;
  @Field() @Length(1, 100) name!: string;
  @Field(() => SafeIntResolver) threshold!: number;
  @Field(() => Float, { nullable: true, description: 'Default 1.' }) earnMultiplier?: number;
  @Field(() => Int, { nullable: true }) maxRedeemPercent?: number;
  @Field(() => Float, { nullable: true, description: 'Default 0.' }) discountPercent?: number;
  @Field(() => [String], { nullable: true }) @IsOptional() @ArrayMaxSize(20) perks?: string[];
}

@InputType({ description: 'A whole structure: saving it writes a new version and requalifies every member.' })
export class TierStructureInput {
  @Field(() => TierMetricValue) metric!: TierMetricValue;
  @Field(() => TierWindowValue) window!: TierWindowValue;
  @Field(() => Int, { nullable: true, description: 'ROLLING_MONTHS only: 1 to 120.' }) windowMonths?: number;
  @Field(() => DowngradePolicyValue) downgradePolicy!: DowngradePolicyValue;
  @Field(() => Int, { nullable: true, description: 'Days a tier is kept after the member stops qualifying; default 0.' }) graceDays?: number;
  @Field(() => [TierLevelInput], { description: 'Lowest first, thresholds rising; a first threshold of 0 is everyone\'s base level.' })
  @ValidateNested({ each: true })
  @ArrayMaxSize(20)
  levels!: TierLevelInput[];
}

@ObjectType({ simpleResolvers: true })
export class SaveTierStructureResult {
  @Field(() => TierStructure) structure!: TierStructure;
  @Field(() => Int, { description: 'Members whose tier changed.' }) changed!: number;
}

@ObjectType({ simpleResolvers: true })
export class TierPreviewRow {
  @Field({ description: 'Empty: no tier (when the lowest threshold is above 0).' }) code!: string;
  @Field(() => String, { nullable: true }) name!: string | null;
  @Field(() => Int, { description: 'Members in this tier now.' }) before!: number;
  @Field(() => Int, { description: 'Members in it once saved.' }) after!: number;
  @Field(() => Int, { description: 'Members who would land here from a lower tier.' }) movingUp!: number;
  @Field(() => Int, { description: 'Members who would land here from a higher tier.' }) movingDown!: number;
}

@ObjectType({ simpleResolvers: true, description: 'What saving the structure would do to today\'s members.' })
export class TierStructurePreview {
  @Field(() => Int) members!: number;
  @Field(() => Int) movingUp!: number;
  @Field(() => Int) movingDown!: number;
  @Field(() => Int) unchanged!: number;
  @Field(() => [TierPreviewRow]) tiers!: TierPreviewRow[];
}

@ObjectType({ simpleResolvers: true })
export class TierDowngradeRisk {
  @Field(() => String, { nullable: true, description: 'The tier the member falls to; null = none.' }) toCode!: string | null;
  @Field({ description: 'When, unless they qualify again by then.' }) at!: Date;
}

@ObjectType({ simpleResolvers: true, description: 'Why the member holds their tier, until when, and what the next one takes.' })
export class TierStatus {
  @Field(() => Int) structureVersion!: number;
  @Field(() => TierMetricValue) metric!: TierMetricValue;
  @Field(() => TierLevel, { nullable: true }) tier!: TierLevel | null;
  @Field(() => TierSourceValue, { nullable: true }) source!: TierSourceValue | null;
  @Field(() => Date, { nullable: true }) since!: Date | null;
  @Field(() => Date, { nullable: true, description: 'null: kept as long as the member keeps qualifying the way they do.' }) validUntil!: Date | null;
  @Field(() => TierLevel, { nullable: true, description: 'The tier held by qualification (differs under a VIP grant).' }) earnedTier!: TierLevel | null;
  @Field(() => SafeIntResolver, { description: 'Money (minor units) or points counted in the window now.' }) qualifyingAmount!: number;
  @Field(() => Date, { nullable: true, description: 'Where the window starts; null = lifetime.' }) windowStart!: Date | null;
  @Field(() => TierLevel, { nullable: true }) nextTier!: TierLevel | null;
  @Field(() => SafeIntResolver, { description: 'Still needed for nextTier.' }) amountToNext!: number;
  @Field(() => Float, { description: '0..1 for a progress bar to nextTier; 1 at the top.' }) progress!: number;
  @Field(() => TierDowngradeRisk, { nullable: true }) downgradeRisk!: TierDowngradeRisk | null;
}

@ObjectType({ simpleResolvers: true })
export class TierChange {
  @Field(() => ID) memberId!: string;
  @Field(() => String, { nullable: true }) fromCode!: string | null;
  @Field(() => String, { nullable: true }) toCode!: string | null;
  @Field(() => TierChangeReasonValue) reason!: TierChangeReasonValue;
  @Field(() => String, { nullable: true }) detail!: string | null;
  @Field(() => Int) structureVersion!: number;
  @Field() changedAt!: Date;
}

@InputType()
export class AssignTierInput {
  @Field(() => MemberRefInput) @ValidateNested() member!: MemberRefInput;
  @Field() tierCode!: string;
  @Field({ description: 'When the assignment ends; afterwards the member holds what they earned.' }) until!: Date;
  @Field(() => String, { nullable: true }) reason?: string;
}

@InputType()
export class PurchaseTierMembershipInput {
  @Field(() => MemberRefInput) @ValidateNested() member!: MemberRefInput;
  @Field() tierCode!: string;
  @Field(() => Int, { description: '1 to 36; buying the running membership\'s tier again renews it from its end.' }) months!: number;
  @Field() idempotencyKey!: string;
}

@ObjectType({ simpleResolvers: true })
export class TierMembership {
  @Field(() => ID) memberId!: string;
  @Field() tierCode!: string;
  @Field() validUntil!: Date;
  @Field({ description: 'True when it extended a running membership of the same tier.' }) renewed!: boolean;
}
