import { BigIntType, Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * A domain event written by the transaction that caused it and published by the relay after
 * commit (typed SQL in src/db/outbox-store.ts). `sequence` numbers a member's events per topic.
 */
@Entity({ tableName: 'outbox' })
export class OutboxEvent {
  @PrimaryKey({ type: new BigIntType('number'), autoincrement: true })
  id!: number;

  @Property({ type: 'uuid' })
  eventId!: string;

  /** What happened: 'ledger.entry_posted', 'order.paid' … */
  @Property({ type: 'text' })
  type!: string;

  /** The live stream it belongs to (BALANCE_CHANGED …). */
  @Property({ type: 'text' })
  topic!: string;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'uuid', nullable: true })
  memberId: string | null = null;

  /** The member's number for this topic; null exactly when the event has no member. */
  @Property({ type: new BigIntType('number'), nullable: true })
  sequence: number | null = null;

  @Property({ type: 'jsonb' })
  payload!: unknown;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}

/** An event not yet published: the relay's queue, filled by a trigger on outbox inserts. */
@Entity({ tableName: 'outbox_unpublished' })
export class OutboxUnpublished {
  @PrimaryKey({ type: new BigIntType('number'), autoincrement: false })
  id!: number;
}

/** The last sequence number given to a member's events of one topic. */
@Entity({ tableName: 'outbox_sequence' })
export class OutboxSequence {
  @PrimaryKey({ type: 'uuid' })
  memberId!: string;

  @PrimaryKey({ type: 'text' })
  topic!: string;

  @Property({ type: new BigIntType('number') })
  lastSequence!: number;
}
