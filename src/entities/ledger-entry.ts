import { BigIntType, Entity, Enum, Index, PrimaryKey, Property } from '@mikro-orm/core';

export enum EntryKind {
  ACCRUAL = 'accrual',
  ACTIVATION = 'activation',
  REDEMPTION = 'redemption',
  AUTHORIZATION = 'authorization',
  CAPTURE = 'capture',
  RELEASE = 'release',
  EXPIRY = 'expiry',
  ADJUSTMENT = 'adjustment',
  REVERSAL = 'reversal',
  /** Available points paying off a debt (points taken back after they were spent). */
  DEBT_REPAYMENT = 'debt_repayment',
}

export enum CauseType {
  API = 'api',
  ADMIN = 'admin',
  RULE = 'rule',
  ORDER = 'order',
  COUPON = 'coupon',
  JOB = 'job',
}

/**
 * One immutable change to an account. `amount` is the change of the member's net points
 * (available + pending + reserved − debt); the deltas say which buckets moved. The database
 * refuses UPDATE and DELETE on this table; a mistake is undone by a reversing entry.
 */
@Entity({ tableName: 'ledger_entry' })
@Index({ properties: ['accountId', 'id'] })
export class LedgerEntry {
  @PrimaryKey({ type: new BigIntType('number'), autoincrement: true })
  id!: number;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'uuid' })
  accountId!: string;

  @Enum({ items: () => EntryKind, nativeEnumName: 'entry_kind' })
  kind!: EntryKind;

  @Property({ type: new BigIntType('number') })
  amount!: number;

  @Property({ type: new BigIntType('number') })
  deltaAvailable!: number;

  @Property({ type: new BigIntType('number') })
  deltaPending!: number;

  @Property({ type: new BigIntType('number') })
  deltaReserved!: number;

  /** Change of the debt (points owed): + when spent points are taken back, − when repaid. */
  @Property({ type: new BigIntType('number') })
  deltaDebt: number = 0;

  @Property({ type: new BigIntType('number') })
  availableAfter!: number;

  @Property({ type: new BigIntType('number') })
  pendingAfter!: number;

  @Property({ type: new BigIntType('number') })
  reservedAfter!: number;

  @Enum({ items: () => CauseType, nativeEnumName: 'cause_type' })
  causeType!: CauseType;

  /** What caused it, in the cause's own terms: an order id, a rule id, a key id, a job name. */
  @Property({ type: 'text', nullable: true })
  causeId: string | null = null;

  /** The rule version that produced the points, when a rule did. */
  @Property({ type: 'uuid', nullable: true })
  ruleVersionId: string | null = null;

  @Property({ type: 'text', nullable: true })
  reason: string | null = null;

  @Property({ type: 'text', nullable: true })
  idempotencyKey: string | null = null;

  /** The entry this one undoes; an entry is reversed at most once. */
  @Property({ type: new BigIntType('number'), nullable: true, unique: true })
  reversesEntryId: number | null = null;

  /** The entry this one undoes a part of (e.g. for an order's returned lines); many parts may name one entry. */
  @Property({ type: new BigIntType('number'), nullable: true })
  partlyReversesEntryId: number | null = null;

  @Property({ type: 'uuid', nullable: true })
  authorizationId: string | null = null;

  /** What owns the entry ('order'): it is undone only through its owner (cancelOrder, refundOrderLines). */
  @Property({ type: 'text', nullable: true })
  ownerType: string | null = null;

  /** The owner's id (the shop's order id). */
  @Property({ type: 'text', nullable: true })
  ownerId: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}
