import { Entity, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';

/** What happens when earned points are taken back (an order cancelled or returned) after they were spent. */
export enum NegativeBalancePolicy {
  /** The account owes the rest as debt; points that become available repay it first. */
  ALLOW_DEBT = 'allow_debt',
  /** Only what the account still has is taken; the rest is forgiven. */
  TAKE_AVAILABLE = 'take_available',
}

/** A loyalty program: one shop (tenant) with its own members, keys, rules and settings. */
@Entity({ tableName: 'program' })
export class Program {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text' })
  name!: string;

  /** ISO 4217 code of the shop's money. */
  @Property({ type: 'text' })
  currency: string = 'RUB';

  /** Money value of one point in minor units (100 = one point is one ruble). */
  @Property({ type: 'integer' })
  pointValueMinor: number = 100;

  /** Lifetime of accrued points when an accrual names none; null = points never expire. */
  @Property({ type: 'integer', nullable: true })
  defaultLifetimeDays: number | null = null;

  /** Days accrued points stay pending (e.g. the return window) when an accrual names none. */
  @Property({ type: 'integer' })
  pendingDays: number = 0;

  /** Largest share of an order (percent of the eligible amount) payable with points. */
  @Property({ type: 'integer' })
  maxRedeemPercent: number = 100;

  /** IANA time zone the shop lives in: birthdays, days and hours in rules. */
  @Property({ type: 'text' })
  timeZone: string = 'Europe/Moscow';

  /** The birthday bonus is raised this many days before the birthday (0 = on the day). */
  @Property({ type: 'integer' })
  birthdayDaysBefore: number = 0;

  /** Seconds an authorization (reserved points) lives before it releases itself. */
  @Property({ type: 'integer' })
  authorizationTtlSeconds: number = 900;

  /** Sale items cannot be paid with points (S4). */
  @Property({ type: 'boolean' })
  excludeOnSale: boolean = true;

  /** Gift cards cannot be paid with points: that would turn points into money. */
  @Property({ type: 'boolean' })
  excludeGiftCards: boolean = true;

  /** Delivery can be paid with points. */
  @Property({ type: 'boolean' })
  deliveryEligible: boolean = false;

  /** Orders earn on the part paid with points too. */
  @Property({ type: 'boolean' })
  earnOnPointsPaidPart: boolean = false;

  @Property({ type: 'text' })
  negativeBalancePolicy: NegativeBalancePolicy = NegativeBalancePolicy.TAKE_AVAILABLE;

  /** The member's referral link: `{code}` is replaced by their code. */
  @Property({ type: 'text' })
  referralLinkTemplate: string = 'https://shop.example/?ref={code}';

  /** How many levels a referral tree may have below its top member (1 to 10). */
  @Property({ type: 'integer' })
  referralMaxDepth: number = 10;

  /** Days a customer may return an order: referrers' awards for it stay pending until then. null = pendingDays. */
  @Property({ type: 'integer', nullable: true })
  returnWindowDays: number | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  constructor(name: string) {
    this.name = name;
  }
}
