import { BigIntType, Entity, Index, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';

/** One version of a program's tier structure; the newest version is in force. Never edited. */
@Entity({ tableName: 'tier_structure' })
@Unique({ properties: ['programId', 'version'] })
export class TierStructure {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'integer' })
  version!: number;

  /** 'spend' (minor units of money paid) or 'points' (points earned). */
  @Property({ type: 'text' })
  metric!: string;

  /** 'lifetime', 'calendar_year' or 'rolling_months'. */
  @Property({ type: 'text' })
  windowKind!: string;

  @Property({ type: 'integer', nullable: true })
  windowMonths: number | null = null;

  /** 'none', 'one_level' or 'to_earned'. */
  @Property({ type: 'text' })
  downgradePolicy!: string;

  @Property({ type: 'integer' })
  graceDays!: number;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  @Property({ type: 'text', nullable: true })
  createdBy: string | null = null;
}

/** A level of a structure with its threshold and benefits; rank 0 is the lowest. */
@Entity({ tableName: 'tier_level' })
@Unique({ properties: ['structureId', 'rank'] })
@Unique({ properties: ['structureId', 'code'] })
export class TierLevel {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  structureId!: string;

  @Property({ type: 'integer' })
  rank!: number;

  @Property({ type: 'text' })
  code!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: new BigIntType('number') })
  threshold!: number;

  @Property({ type: 'decimal', precision: 6, scale: 3 })
  earnMultiplier!: string;

  @Property({ type: 'integer', nullable: true })
  maxRedeemPercent: number | null = null;

  @Property({ type: 'decimal', precision: 5, scale: 2 })
  discountPercent!: string;

  @Property({ type: 'text[]' })
  perks!: string[];
}

/** What one paid order counts for in qualification now (lowered by cancels and returns). */
@Entity({ tableName: 'tier_qualification' })
@Index({ properties: ['memberId', 'qualifiedAt'] })
export class TierQualification {
  /** The order (shop_order.id). */
  @PrimaryKey({ type: 'uuid' })
  orderId!: string;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'uuid' })
  memberId!: string;

  /** When the order was paid: the date windows count it at. */
  @Property({ type: 'timestamptz' })
  qualifiedAt!: Date;

  @Property({ type: new BigIntType('number') })
  moneyMinor!: number;

  @Property({ type: new BigIntType('number') })
  points!: number;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;
}

/** A member's tier: earned by qualification, granted (VIP), and the one in force. */
@Entity({ tableName: 'member_tier' })
@Index({ properties: ['programId', 'tierCode'] })
export class MemberTier {
  @PrimaryKey({ type: 'uuid' })
  memberId!: string;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'text', nullable: true })
  earnedCode: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  earnedSince: Date | null = null;

  @Property({ type: 'text', nullable: true })
  grantCode: string | null = null;

  /** 'manual' or 'paid'. */
  @Property({ type: 'text', nullable: true })
  grantKind: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  grantUntil: Date | null = null;

  @Property({ type: 'text', nullable: true })
  tierCode: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  tierSince: Date | null = null;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;
}

/** One change of a member's tier in force, with its reason. */
@Entity({ tableName: 'tier_history' })
@Index({ properties: ['memberId', 'changedAt'] })
export class TierHistory {
  @PrimaryKey({ type: new BigIntType('number'), autoincrement: true })
  id!: number;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'uuid' })
  memberId!: string;

  @Property({ type: 'text', nullable: true })
  fromCode: string | null = null;

  @Property({ type: 'text', nullable: true })
  toCode: string | null = null;

  @Property({ type: 'text' })
  reason!: string;

  @Property({ type: 'text', nullable: true })
  detail: string | null = null;

  @Property({ type: 'integer' })
  structureVersion!: number;

  @Property({ type: 'timestamptz' })
  changedAt!: Date;
}
