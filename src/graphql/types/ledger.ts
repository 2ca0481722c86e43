import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IsIn, IsInt, IsOptional, Length, Max, Min, ValidateNested, ArrayMaxSize } from 'class-validator';
import { SafeIntResolver } from 'graphql-scalars';
import { AuthorizationStatus } from '../../entities/authorization';
import { CauseType, EntryKind } from '../../entities/ledger-entry';
import { MAX_POINTS } from '../../services/ledger';
import { MemberRefInput, Money, PageInfo } from './common';

registerEnumType(EntryKind, { name: 'EntryKind' });
registerEnumType(CauseType, { name: 'CauseType' });
registerEnumType(AuthorizationStatus, { name: 'AuthorizationStatus' });

export enum LotStatus {
  PENDING = 'pending',
  AVAILABLE = 'available',
  SPENT = 'spent',
  EXPIRED = 'expired',
}
registerEnumType(LotStatus, { name: 'LotStatus' });

@ObjectType({ simpleResolvers: true, description: 'A member\'s points. Money values use the program\'s point value.' })
export class Account {
  @Field(() => ID, {
    description: 'The member\'s id: a member has one account, so caches (Apollo Client, urql Graphcache) key the account by it.',
  })
  id!: string;
  @Field(() => ID) memberId!: string;
  @Field(() => SafeIntResolver, { description: 'Spendable now.' }) available!: number;
  @Field(() => SafeIntResolver, { description: 'Earned, not spendable yet.' }) pending!: number;
  @Field(() => SafeIntResolver, { description: 'Held by open authorizations at checkout.' }) reserved!: number;
  @Field(() => SafeIntResolver, {
    description: 'Points owed: earned points taken back after they were spent (policy ALLOW_DEBT). Points that become available repay it first.',
  })
  debt!: number;
  @Field(() => SafeIntResolver) lifetimeEarned!: number;
  @Field(() => SafeIntResolver) lifetimeRedeemed!: number;
  @Field(() => SafeIntResolver) lifetimeExpired!: number;
  @Field(() => Money, { description: 'What the available points are worth.' }) availableMoney!: Money;
  @Field(() => Money, { description: 'What the pending points will be worth.' }) pendingMoney!: Money;
  @Field(() => Money, { description: 'What the reserved points are worth.' }) reservedMoney!: Money;
}

@ObjectType({ simpleResolvers: true, description: 'One immutable change to an account.' })
export class LedgerEntry {
  @Field(() => ID) id!: string;
  @Field(() => ID) memberId!: string;
  @Field(() => EntryKind) kind!: EntryKind;
  @Field(() => SafeIntResolver, { description: 'Change of the member\'s net points (available + pending + reserved − debt).' })
  amount!: number;
  @Field(() => SafeIntResolver, { description: 'Change of the debt: positive when spent points were taken back, negative when repaid.' })
  debtChange!: number;
  @Field(() => SafeIntResolver, { description: 'Available points right after this entry.' }) balanceAfter!: number;
  @Field(() => SafeIntResolver) pendingAfter!: number;
  @Field(() => SafeIntResolver) reservedAfter!: number;
  @Field(() => CauseType) causeType!: CauseType;
  @Field(() => String, { nullable: true, description: 'An order id, rule id, key id or job name; customers see no key id (null for API and admin causes) and no order of someone else\'s.' }) causeId!: string | null;
  @Field(() => ID, { nullable: true, description: 'The rule version that produced the points.' }) ruleVersionId!: string | null;
  @Field(() => String, { nullable: true }) reason!: string | null;
  @Field(() => String, { nullable: true, description: 'The key the write was sent with; null to customers.' }) idempotencyKey!: string | null;
  @Field(() => ID, { nullable: true, description: 'The entry this one undoes.' }) reversesEntryId!: string | null;
  @Field(() => ID, {
    nullable: true,
    description: 'The entry this one undoes a part of: an accrual or capture (returned order lines, forgiven points taken after all), or a take-back whose cover came back.',
  })
  partlyReversesEntryId!: string | null;
  @Field(() => ID, { nullable: true }) authorizationId!: string | null;
  @Field(() => ID, { nullable: true, description: 'The lot an accrual created (its first, when its parts live differently and it created one per lifetime).' }) lotId!: string | null;
  @Field(() => String, { nullable: true, description: 'The shop\'s order this entry belongs to — the points it held or spent, what it earned (the member\'s and referrers\' awards), their take-backs — or null. Customers see their own orders\' ids only.' })
  orderId!: string | null;
  @Field() createdAt!: Date;
}

@ObjectType({ simpleResolvers: true, description: 'Points from one accrual, spent nearest-expiry first.' })
export class Lot {
  @Field(() => ID) id!: string;
  @Field(() => SafeIntResolver) amount!: number;
  @Field(() => SafeIntResolver) remaining!: number;
  @Field(() => LotStatus) status!: LotStatus;
  @Field() availableAt!: Date;
  @Field(() => Date, { nullable: true }) expiresAt!: Date | null;
  @Field() createdAt!: Date;
}

@ObjectType()
export class Authorization {
  @Field(() => ID) id!: string;
  @Field(() => ID) memberId!: string;
  @Field(() => SafeIntResolver) amount!: number;
  @Field(() => SafeIntResolver) captured!: number;
  @Field(() => AuthorizationStatus) status!: AuthorizationStatus;
  @Field(() => String, { nullable: true }) reference!: string | null;
  @Field() expiresAt!: Date;
  @Field() createdAt!: Date;
  @Field(() => Date, { nullable: true }) closedAt!: Date | null;
}

@ObjectType({ description: 'The entry a write made and the account right after it.' })
export class LedgerResult {
  @Field(() => LedgerEntry) entry!: LedgerEntry;
  @Field(() => Account) account!: Account;
}

@ObjectType()
export class AuthorizationResult extends LedgerResult {
  @Field(() => Authorization) authorization!: Authorization;
}

@ObjectType({ simpleResolvers: true })
export class LedgerEntryEdge {
  @Field({ description: 'Pass as `after` to read on from this entry.' }) cursor!: string;
  @Field(() => LedgerEntry) node!: LedgerEntry;
}

@ObjectType({ description: 'A page of entries: `nodes` for the entries alone, `edges` with a cursor for each (Relay style).' })
export class LedgerEntryConnection {
  @Field(() => [LedgerEntry]) nodes!: LedgerEntry[];
  @Field(() => [LedgerEntryEdge]) edges!: LedgerEntryEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType({ simpleResolvers: true })
export class LotEdge {
  @Field({ description: 'Pass as `after` to read on from this lot.' }) cursor!: string;
  @Field(() => Lot) node!: Lot;
}

@ObjectType({ description: 'A page of lots: `nodes` for the lots alone, `edges` with a cursor for each (Relay style).' })
export class LotConnection {
  @Field(() => [Lot]) nodes!: Lot[];
  @Field(() => [LotEdge]) edges!: LotEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType()
export class LedgerDiscrepancy {
  @Field(() => ID) accountId!: string;
  @Field(() => ID) memberId!: string;
  @Field() check!: string;
  @Field(() => SafeIntResolver) expected!: number;
  @Field(() => SafeIntResolver) actual!: number;
}

@ObjectType()
export class LedgerVerification {
  @Field() ok!: boolean;
  @Field(() => Int) accountsChecked!: number;
  @Field(() => [LedgerDiscrepancy]) discrepancies!: LedgerDiscrepancy[];
}

@ObjectType({ description: 'A balance change, published after the transaction that made it committed.' })
export class BalanceChange {
  @Field(() => ID) memberId!: string;
  @Field(() => SafeIntResolver) available!: number;
  @Field(() => SafeIntResolver) pending!: number;
  @Field(() => SafeIntResolver) reserved!: number;
  @Field(() => LedgerEntry) entry!: LedgerEntry;
  @Field(() => Int, { description: 'This member\'s balance changes are numbered 1, 2, 3 …: a gap means one was missed; read it with balanceChanges(afterSequence).' })
  sequence!: number;
  @Field({ description: 'When the change committed.' }) occurredAt!: Date;
  // `account` is a field resolver (BalanceChangeResolver): it reads the account when the event is delivered.
}

const points = { min: 1, max: MAX_POINTS };

@InputType()
class LedgerWriteInput {
  @Field(() => MemberRefInput) @ValidateNested() member!: MemberRefInput;
  @Field({ description: 'Retries with the same key and input return the first result; other input is IDEMPOTENCY_CONFLICT.' })
  @Length(1, 200)
  idempotencyKey!: string;
  @Field({ nullable: true }) @IsOptional() @Length(1, 500) reason?: string;
}

@InputType()
export class AccrueInput extends LedgerWriteInput {
  @Field(() => Int) @IsInt() @Min(points.min) @Max(points.max) points!: number;
  @Field(() => Int, { nullable: true, description: 'Days the points live after they become available.' })
  @IsOptional() @IsInt() @Min(1) @Max(36_500) lifetimeDays?: number;
  @Field({ nullable: true, description: 'Instead of lifetimeDays.' }) @IsOptional() expiresAt?: Date;
  @Field(() => Int, { nullable: true, description: 'Days the points stay pending.' })
  @IsOptional() @IsInt() @Min(0) @Max(36_500) delayDays?: number;
  @Field({ nullable: true, description: 'Instead of delayDays.' }) @IsOptional() availableAt?: Date;
}

@InputType()
export class RedeemInput extends LedgerWriteInput {
  @Field(() => Int) @IsInt() @Min(points.min) @Max(points.max) points!: number;
}

@InputType()
export class AuthorizeRedemptionInput extends RedeemInput {
  @Field({ nullable: true, description: 'The shop\'s reference, e.g. its order id.' }) @IsOptional() @Length(1, 200) reference?: string;
  @Field(() => Int, { nullable: true, description: 'Seconds before uncaptured points can no longer be captured; the release job (every minute) then gives them back.' })
  @IsOptional() @IsInt() @Min(10) @Max(604_800) ttlSeconds?: number;
}

@InputType()
export class AdjustInput extends LedgerWriteInput {
  @Field(() => Int, { description: 'Signed: positive credits, negative debits.' })
  @IsInt() @Min(-points.max) @Max(points.max) points!: number;
  @Field({ description: 'Why: shown in the member\'s history.' }) @Length(1, 500) declare reason: string;
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(1) @Max(36_500) lifetimeDays?: number;
}

@InputType()
export class CaptureRedemptionInput {
  @Field(() => ID) @Length(1, 64) authorizationId!: string;
  @Field(() => Int, { nullable: true, description: 'Points to spend; the rest is released. Defaults to all.' })
  @IsOptional() @IsInt() @Min(points.min) @Max(points.max) points?: number;
  @Field() @Length(1, 200) idempotencyKey!: string;
}

@InputType()
export class ReleaseRedemptionInput {
  @Field(() => ID) @Length(1, 64) authorizationId!: string;
  @Field() @Length(1, 200) idempotencyKey!: string;
}

/** What reverseEntry does with points of an accrual the member already spent (its values are the ledger's Shortfall). */
export enum IfSpent {
  REFUSE = 'refuse',
  FORGIVE = 'forgive',
  DEBT = 'debt',
}
registerEnumType(IfSpent, {
  name: 'IfSpent',
  description: 'What reversing an accrual does when the member already spent some of its points (or a checkout holds them) and their other available points do not cover them.',
  valuesConfig: {
    REFUSE: { description: 'Nothing is reversed: INSUFFICIENT_POINTS.' },
    FORGIVE: { description: 'What is left is taken and the rest forgiven; the reversal\'s reason says how many.' },
    DEBT: { description: 'The rest is owed as debt, which points that become available repay first.' },
  },
});

@InputType()
export class ReverseEntryInput {
  @Field(() => ID, { description: 'LedgerEntry.id as API keys read it (digits); not publicId, the id customers see.' }) @Length(1, 200) entryId!: string;
  @Field({ nullable: true }) @IsOptional() @Length(1, 500) reason?: string;
  @Field() @Length(1, 200) idempotencyKey!: string;
  @Field(() => IfSpent, {
    defaultValue: IfSpent.REFUSE,
    description: 'For an accrual whose points were spent: refuse (the default), forgive what cannot be taken, or book it as debt — whatever the program\'s negativeBalancePolicy says for orders.',
  })
  ifSpent!: IfSpent;
}

@InputType()
export class LedgerEntryFilter {
  @Field(() => [EntryKind], { nullable: true }) @IsOptional() @ArrayMaxSize(20) @IsIn(Object.values(EntryKind), { each: true }) kinds?: EntryKind[];
  @Field({ nullable: true, description: 'Entries at or after this time.' }) @IsOptional() from?: Date;
  @Field({ nullable: true, description: 'Entries before this time.' }) @IsOptional() to?: Date;
  @Field({ nullable: true, description: 'This member\'s entries of this order (the shop\'s order id): its points, its awards, their take-backs. Customers: their own orders only.' })
  @IsOptional() @Length(1, 200) orderId?: string;
}
