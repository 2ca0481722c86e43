import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ArrayMaxSize, IsIn, IsInt, IsOptional, Length, Max, Min, ValidateNested } from 'class-validator';
import { JSONResolver, SafeIntResolver } from 'graphql-scalars';
import { RuleStatus } from '../../entities/rule';
import { MemberRefInput, PageInfo } from './common';
import { LedgerEntry } from './ledger';

registerEnumType(RuleStatus, {
  name: 'RuleStatus',
  description: 'Only ACTIVE rules award points. ARCHIVED is final.',
});

export enum RuleMismatchCode {
  INVALID = 'invalid',
  TRIGGER = 'trigger',
  INACTIVE = 'inactive',
  WINDOW = 'window',
  EXCLUDED = 'excluded',
  CONDITION = 'condition',
}
registerEnumType(RuleMismatchCode, { name: 'RuleMismatchCode', description: 'Why a rule did not match an event.' });

export enum AwardLimit {
  PER_MEMBER_PER_DAY = 'perMemberPerDay',
  PER_MEMBER_PER_WEEK = 'perMemberPerWeek',
  PER_MEMBER_PER_MONTH = 'perMemberPerMonth',
  PER_MEMBER_LIFETIME = 'perMemberLifetime',
  TOTAL_BUDGET = 'totalBudget',
  ONCE_PER_MEMBER = 'oncePerMember',
  NO_REFERRER = 'noReferrer',
}
registerEnumType(AwardLimit, { name: 'AwardLimit', description: 'What cut an award below what its rule asked for.' });

const DAYS = { min: 0, max: 36_500 };

@ObjectType({
  description: 'Limits in points; per-member windows are calendar days, ISO weeks and months in the program\'s time zone. '
    + 'What a cancelled order or returned lines took back no longer counts against them (nor against oncePerMember); points they forgave because the member had spent them still count.',
})
export class RuleCaps {
  @Field(() => SafeIntResolver, { nullable: true }) perMemberPerDay?: number | null;
  @Field(() => SafeIntResolver, { nullable: true }) perMemberPerWeek?: number | null;
  @Field(() => SafeIntResolver, { nullable: true }) perMemberPerMonth?: number | null;
  @Field(() => SafeIntResolver, { nullable: true }) perMemberLifetime?: number | null;
  @Field(() => SafeIntResolver, { nullable: true, description: 'Points all members together may get from this rule.' })
  totalBudget?: number | null;
}

@InputType()
export class RuleCapsInput {
  @Field(() => SafeIntResolver, { nullable: true }) @IsOptional() @IsInt() @Min(1) perMemberPerDay?: number;
  @Field(() => SafeIntResolver, { nullable: true }) @IsOptional() @IsInt() @Min(1) perMemberPerWeek?: number;
  @Field(() => SafeIntResolver, { nullable: true }) @IsOptional() @IsInt() @Min(1) perMemberPerMonth?: number;
  @Field(() => SafeIntResolver, { nullable: true }) @IsOptional() @IsInt() @Min(1) perMemberLifetime?: number;
  @Field(() => SafeIntResolver, { nullable: true }) @IsOptional() @IsInt() @Min(1) totalBudget?: number;
}

@ObjectType({ description: 'A catalogue action with its arguments.' })
export class RuleAction {
  @Field() code!: string;
  @Field(() => JSONResolver, { nullable: true }) args!: unknown;
}

@InputType({ description: 'An action of the catalogue (see ruleActions) and its arguments.' })
export class RuleActionInput {
  @Field() @Length(1, 64) code!: string;
  @Field(() => JSONResolver, { nullable: true, description: 'An object of the action\'s arguments.' }) @IsOptional() args?: unknown;
}

@ObjectType()
export class RuleDefinition {
  @Field({ description: 'The event type the rule waits for, e.g. order_paid, registration, birthday.' }) trigger!: string;
  @Field(() => JSONResolver, { nullable: true, description: 'A tree of { all: [...] }, { any: [...] }, { not: ... } and { condition: code, args }.' })
  condition!: unknown;
  @Field(() => [RuleAction]) actions!: RuleAction[];
  @Field(() => Int, { nullable: true, description: 'Days the points live; null = the program\'s default.' }) lifetimeDays!: number | null;
  @Field(() => Int, { nullable: true, description: 'Days the points stay pending; null = the program\'s default.' }) delayDays!: number | null;
  @Field(() => RuleCaps) caps!: RuleCaps;
  @Field(() => Int, { description: 'Higher runs first.' }) priority!: number;
  @Field({ description: 'When it matches, rules of lower priority are not applied.' }) exclusive!: boolean;
  @Field({ description: 'Awards each member at most once, ever (achievements).' }) oncePerMember!: boolean;
  @Field(() => Date, { nullable: true }) activeFrom!: Date | null;
  @Field(() => Date, { nullable: true, description: 'Excluded.' }) activeTo!: Date | null;
}

@InputType({ description: 'What a rule does. Checked against the catalogue when saved; errors name the node (extensions.errors[].path).' })
export class RuleDefinitionInput {
  @Field() @Length(1, 64) trigger!: string;
  @Field(() => JSONResolver, { nullable: true, description: 'e.g. { "all": [{ "condition": "orderTotal", "args": { "min": 100000 } }] }' })
  @IsOptional()
  condition?: unknown;
  @Field(() => [RuleActionInput]) @ArrayMaxSize(20) @ValidateNested() actions!: RuleActionInput[];
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(1) @Max(DAYS.max) lifetimeDays?: number;
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(DAYS.min) @Max(DAYS.max) delayDays?: number;
  @Field(() => RuleCapsInput, { nullable: true }) @IsOptional() @ValidateNested() caps?: RuleCapsInput;
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() priority?: number;
  @Field({ nullable: true }) @IsOptional() exclusive?: boolean;
  @Field({ nullable: true }) @IsOptional() oncePerMember?: boolean;
  @Field({ nullable: true }) @IsOptional() activeFrom?: Date;
  @Field({ nullable: true }) @IsOptional() activeTo?: Date;
}

@ObjectType({ description: 'One saved definition of a rule. Versions never change; ledger entries name the one that made them.' })
export class RuleVersion {
  @Field(() => ID) id!: string;
  @Field(() => Int) version!: number;
  @Field(() => RuleDefinition) definition!: RuleDefinition;
  @Field() createdAt!: Date;
  @Field(() => String, { nullable: true, description: 'Who saved it: the API key or job.' }) createdBy!: string | null;
}

@ObjectType({ description: 'An earning rule: a trigger, conditions and actions, versioned on every edit.' })
export class Rule {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => RuleStatus) status!: RuleStatus;
  @Field(() => Int, { description: 'The current version.' }) version!: number;
  @Field(() => ID) versionId!: string;
  @Field(() => RuleDefinition, { description: 'The current version\'s definition.' }) definition!: RuleDefinition;
  @Field(() => SafeIntResolver, {
    description: 'Points this rule gave against caps.totalBudget, less what cancelled orders and returned lines withdrew. Counted while the rule has a total budget: 0 for a rule that never had one.',
  })
  budgetUsed!: number;
  @Field() createdAt!: Date;
  @Field() updatedAt!: Date;
}

@ObjectType({ simpleResolvers: true })
export class RuleEdge {
  @Field({ description: 'Pass as `after` to read on from this rule.' }) cursor!: string;
  @Field(() => Rule) node!: Rule;
}

@ObjectType({ description: 'A page of rules, oldest first: `nodes` for the rules alone, `edges` with a cursor for each (Relay style).' })
export class RuleConnection {
  @Field(() => [Rule]) nodes!: Rule[];
  @Field(() => [RuleEdge]) edges!: RuleEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType({ description: 'The rule version that produced something.' })
export class RuleRef {
  @Field(() => ID, { description: 'The rule.' }) id!: string;
  @Field() name!: string;
  @Field(() => Int) version!: number;
  @Field(() => ID) versionId!: string;
}

@ObjectType({ description: 'One rule\'s part of an award or ledger entry: the rule version that gave it and its points.' })
export class AwardPart {
  @Field(() => RuleRef) rule!: RuleRef;
  @Field(() => SafeIntResolver) points!: number;
}

@InputType()
export class CreateRuleInput {
  @Field() @Length(1, 200) name!: string;
  @Field(() => RuleStatus, { nullable: true, description: 'Default DRAFT: it awards nothing until activated.' })
  @IsOptional()
  @IsIn([RuleStatus.DRAFT, RuleStatus.ACTIVE, RuleStatus.PAUSED])
  status?: RuleStatus;
  @Field(() => RuleDefinitionInput) @ValidateNested() definition!: RuleDefinitionInput;
}

@InputType()
export class UpdateRuleInput {
  @Field(() => ID) @Length(1, 64) id!: string;
  @Field({ nullable: true }) @IsOptional() @Length(1, 200) name?: string;
  @Field(() => RuleDefinitionInput, { nullable: true, description: 'A new definition makes a new version.' })
  @IsOptional()
  @ValidateNested()
  definition?: RuleDefinitionInput;
}

@InputType()
export class RuleFilter {
  @Field(() => RuleStatus, { nullable: true }) @IsOptional() status?: RuleStatus;
  @Field({ nullable: true }) @IsOptional() @Length(1, 64) trigger?: string;
}

@ObjectType({ description: 'A typed argument of a catalogue condition or action.' })
export class RuleArgument {
  @Field() name!: string;
  @Field({ description: 'int, decimal, string, string[], boolean, datetime, enum, json or table.' }) type!: string;
  @Field() required!: boolean;
  @Field() description!: string;
  @Field(() => [String], { nullable: true }) options?: string[];
  @Field(() => Float, { nullable: true }) min?: number;
  @Field(() => Float, { nullable: true }) max?: number;
  @Field(() => JSONResolver, { nullable: true }) default?: unknown;
  @Field(() => [RuleArgument], { nullable: true, description: 'The columns of a table argument.' }) columns?: RuleArgument[];
}

@ObjectType({ description: 'A condition rules can use: { "condition": code, "args": {...} }.' })
export class RuleConditionType {
  @Field() code!: string;
  @Field() description!: string;
  @Field({ description: 'Tests the paid order: only rules with trigger order_paid may use it.' }) readsOrder!: boolean;
  @Field(() => [RuleArgument]) args!: RuleArgument[];
}

@ObjectType({ description: 'An action rules can use: { "code": code, "args": {...} }.' })
export class RuleActionType {
  @Field() code!: string;
  @Field() description!: string;
  @Field({ description: 'award: with its rule; multiply: after every other matched rule, over what they awarded.' }) stage!: string;
  @Field({ description: 'Reads the paid order: only rules with trigger order_paid may use it. rewardReferrer reads it only with percent (false here).' })
  readsOrder!: boolean;
  @Field(() => [RuleArgument]) args!: RuleArgument[];
}

@InputType({ description: 'One line of a simulated paid order, as earning rules see it (checkout has OrderItemInput).' })
export class SimulatedOrderLineInput {
  @Field() @Length(1, 200) sku!: string;
  @Field({ nullable: true }) @IsOptional() @Length(1, 200) category?: string;
  @Field(() => SafeIntResolver) @IsInt() @Min(0) unitPriceMinor!: number;
  @Field(() => Int) @IsInt() @Min(1) quantity!: number;
  @Field({ defaultValue: false }) onSale!: boolean;
  @Field(() => SafeIntResolver, { description: 'What was paid with money for this line.' }) @IsInt() @Min(0) eligibleMoneyMinor!: number;
}

@InputType()
export class SimulatedOrderInput {
  @Field(() => SafeIntResolver) @IsInt() @Min(0) totalMinor!: number;
  @Field({ nullable: true }) @IsOptional() @Length(1, 64) paymentMethod?: string;
  @Field({ nullable: true }) @IsOptional() @Length(1, 64) channel?: string;
  @Field(() => [SimulatedOrderLineInput]) @ArrayMaxSize(500) @ValidateNested() lines!: SimulatedOrderLineInput[];
}

@InputType()
export class SimulateEventInput {
  @Field({ description: 'Any event type, including registration, birthday and order_paid.' }) @Length(1, 64) type!: string;
  @Field(() => MemberRefInput) @ValidateNested() member!: MemberRefInput;
  @Field(() => JSONResolver, { nullable: true }) @IsOptional() payload?: unknown;
  @Field({ nullable: true }) @IsOptional() occurredAt?: Date;
  @Field(() => SimulatedOrderInput, { nullable: true }) @IsOptional() @ValidateNested() order?: SimulatedOrderInput;
}

@ObjectType()
export class RuleMismatch {
  @Field(() => RuleMismatchCode) code!: RuleMismatchCode;
  @Field({ description: 'The node that failed, e.g. condition.all[1].' }) path!: string;
  @Field() message!: string;
}

@ObjectType()
export class SimulatedAward {
  @Field(() => SafeIntResolver, { description: 'What would be credited.' }) points!: number;
  @Field(() => SafeIntResolver, { description: 'What the rule asked for, before caps.' }) requestedPoints!: number;
  @Field(() => AwardLimit, { nullable: true }) limitedBy!: AwardLimit | null;
  @Field(() => ID, { nullable: true, description: 'Who would receive them; null when there is no referrer at that level.' })
  memberId!: string | null;
  @Field(() => Int, { nullable: true, description: 'null: the member; N: their referrer N levels up.' }) referrerLevel!: number | null;
}

@ObjectType()
export class RuleSimulation {
  @Field(() => RuleRef) rule!: RuleRef;
  @Field(() => RuleStatus) status!: RuleStatus;
  @Field() matched!: boolean;
  @Field(() => RuleMismatch, { nullable: true }) reason!: RuleMismatch | null;
  @Field(() => [SimulatedAward]) awards!: SimulatedAward[];
}

@ObjectType({ description: 'A dry run: nothing was written.' })
export class EventSimulation {
  @Field(() => [RuleSimulation]) rules!: RuleSimulation[];
  @Field(() => SafeIntResolver) memberPoints!: number;
  @Field(() => SafeIntResolver) referrerPoints!: number;
}

@InputType()
export class TrackEventInput {
  @Field({ description: 'newsletter_subscription, product_review, survey_answer, external_visit or a custom type.' })
  @Length(1, 64)
  type!: string;
  @Field(() => MemberRefInput) @ValidateNested() member!: MemberRefInput;
  @Field(() => JSONResolver, { nullable: true, description: 'survey_answer: { score: 0..10 }; product_review: { sku | productId, rating? }; external_visit: { utm?, referrer? }.' })
  @IsOptional()
  payload?: unknown;
  @Field({ nullable: true, description: 'Defaults to now.' }) @IsOptional() occurredAt?: Date;
  @Field({ description: 'The shop\'s id for the event: the same key is tracked once and replays the first result.' })
  @Length(1, 200)
  idempotencyKey!: string;
}

@ObjectType('Event', { description: 'Something a member did that rules may reward.' })
export class TrackedEvent {
  @Field(() => ID) id!: string;
  @Field(() => ID) memberId!: string;
  @Field() type!: string;
  @Field(() => JSONResolver) payload!: unknown;
  @Field() occurredAt!: Date;
  @Field() idempotencyKey!: string;
  @Field() createdAt!: Date;
}

@ObjectType({ description: 'Points a rule credited for an event.' })
export class RuleAward {
  @Field(() => RuleRef) rule!: RuleRef;
  @Field(() => ID, { description: 'Who received them.' }) memberId!: string;
  @Field(() => Int, { nullable: true, description: 'null: the member; N: their referrer N levels up.' }) referrerLevel!: number | null;
  @Field(() => SafeIntResolver) points!: number;
  @Field(() => LedgerEntry) entry!: LedgerEntry;
}

@ObjectType({ description: 'An award a rule\'s limits cut below what the rule asked for, to nothing included.' })
export class LimitedAward {
  @Field(() => RuleRef) rule!: RuleRef;
  @Field(() => ID, { nullable: true, description: 'Who would have received them; null when there is no referrer at that level.' }) memberId!: string | null;
  @Field(() => Int, { nullable: true, description: 'null: the member; N: their referrer N levels up.' }) referrerLevel!: number | null;
  @Field(() => SafeIntResolver, { description: 'What the rule asked for.' }) requestedPoints!: number;
  @Field(() => SafeIntResolver, { description: 'What was credited.' }) points!: number;
  @Field(() => AwardLimit) limitedBy!: AwardLimit;
}

@ObjectType()
export class TrackEventResult {
  @Field(() => TrackedEvent) event!: TrackedEvent;
  @Field(() => [RuleAward]) awards!: RuleAward[];
  @Field(() => SafeIntResolver, { description: 'Points credited to the member.' }) memberPoints!: number;
  @Field(() => [LimitedAward], { description: 'Awards a cap, a once-only rule or a total budget cut (or a missing referrer): why an event earned less than its rules say.' })
  limited!: LimitedAward[];
}
