import { Entity, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';

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

  /** Seconds an authorization (reserved points) lives before it releases itself. */
  @Property({ type: 'integer' })
  authorizationTtlSeconds: number = 900;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  constructor(name: string) {
    this.name = name;
  }
}
