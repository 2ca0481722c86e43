import { Entity, Index, PrimaryKey, Property, Unique } from '@mikro-orm/core';

/**
 * The referral network's tables (migration Migration20261203110000_referrals). Services read
 * and write them through src/services/referrals/referral-store.ts; the entities keep the schema
 * described next to the other tables.
 */

/** How a member came to be bound to their referrer. */
export enum ReferralVia {
  /** `upsertMember(referrerExternalId)` when the member registered. */
  REGISTRATION = 'registration',
  /** A referral code given with `placeOrder`. */
  CHECKOUT = 'checkout',
  /** A visit reported from the referrer's verified website. */
  WEBSITE = 'website',
  /** `attributeReferral` with the referrer's code (e.g. from their link). */
  LINK = 'link',
  /** `attributeReferral` naming the referrer. */
  MANUAL = 'manual',
}

/** A member's referral code: 8 characters without 0/O/1/I, unique in the program. */
@Entity({ tableName: 'referral_code' })
@Unique({ properties: ['programId', 'code'] })
export class ReferralCode {
  @PrimaryKey({ type: 'uuid' })
  memberId!: string;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'text' })
  code!: string;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}

/** The edge of the tree: the member and their one referrer, bound once. */
@Entity({ tableName: 'referral' })
@Index({ properties: ['referrerId', 'createdAt', 'memberId'] })
export class Referral {
  @PrimaryKey({ type: 'uuid' })
  memberId!: string;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'uuid' })
  referrerId!: string;

  @Property({ type: 'text' })
  via!: ReferralVia;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}

/** The tree's closure: `ancestorId` is `depth` levels above `memberId` (1 = the direct referrer). */
@Entity({ tableName: 'referral_path' })
@Index({ properties: ['ancestorId', 'depth', 'memberId'] })
export class ReferralPath {
  @PrimaryKey({ type: 'uuid' })
  memberId!: string;

  @PrimaryKey({ type: 'smallint' })
  depth!: number;

  @Property({ type: 'uuid' })
  ancestorId!: string;

  @Property({ type: 'uuid' })
  programId!: string;
}

/** An attribution tried: accepted, or refused with the reason admins see. */
@Entity({ tableName: 'referral_attempt' })
export class ReferralAttempt {
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'uuid' })
  memberId!: string;

  @Property({ type: 'uuid', nullable: true })
  referrerId: string | null = null;

  @Property({ type: 'text' })
  via!: ReferralVia;

  /** The code or referring URL it came with. */
  @Property({ type: 'text', nullable: true })
  detail: string | null = null;

  @Property({ type: 'boolean' })
  accepted!: boolean;

  @Property({ type: 'text', nullable: true })
  reason: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}

/** A device or IP hash a shop reported for a member. */
@Entity({ tableName: 'referral_signal' })
export class ReferralSignal {
  @PrimaryKey({ type: 'uuid' })
  memberId!: string;

  @PrimaryKey({ type: 'text' })
  kind!: 'device' | 'ip';

  @PrimaryKey({ type: 'text' })
  hash!: string;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}

/** A website a member declared; verified when it serves its token at /.well-known/patron-verification.txt. */
@Entity({ tableName: 'referral_site' })
@Unique({ properties: ['memberId', 'host'] })
export class ReferralSite {
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'uuid' })
  memberId!: string;

  @Property({ type: 'text' })
  origin!: string;

  @Property({ type: 'text' })
  host!: string;

  @Property({ type: 'text' })
  token!: string;

  @Property({ type: 'timestamptz', nullable: true })
  verifiedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  checkedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}
