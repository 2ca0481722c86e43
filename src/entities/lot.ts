import { BigIntType, Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * Points from one accrual. Spending takes from the lots that expire first; a lot past
 * `expiresAt` is never spent. A lot is pending until `activatedAt` is set (at `availableAt`).
 */
@Entity({ tableName: 'lot' })
export class Lot {
  @PrimaryKey({ type: new BigIntType('number'), autoincrement: true })
  id!: number;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'uuid' })
  accountId!: string;

  @Property({ type: new BigIntType('number') })
  sourceEntryId!: number;

  @Property({ type: new BigIntType('number') })
  amount!: number;

  @Property({ type: new BigIntType('number') })
  remaining!: number;

  @Property({ type: 'timestamptz' })
  availableAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  activatedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  expiresAt: Date | null = null;

  /** Points a take-back forgave (already spent or held elsewhere); returned points repay them first. */
  @Property({ type: new BigIntType('number') })
  forgiven: number = 0;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}

/** Which lots an entry took points from (negative) or gave them back to (positive); append-only. */
@Entity({ tableName: 'lot_allocation' })
export class LotAllocation {
  @PrimaryKey({ type: new BigIntType('number') })
  entryId!: number;

  @PrimaryKey({ type: new BigIntType('number') })
  lotId!: number;

  @Property({ type: new BigIntType('number') })
  amount!: number;
}
