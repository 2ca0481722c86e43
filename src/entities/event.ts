import { Entity, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';

/** Something a member did that rules may reward, reported once per idempotency key. */
@Entity({ tableName: 'event' })
@Unique({ properties: ['programId', 'idempotencyKey'] })
export class TrackedEvent {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'uuid' })
  memberId!: string;

  /** 'registration', 'birthday', 'product_review' … or a custom type. */
  @Property({ type: 'text' })
  type!: string;

  @Property({ type: 'jsonb', defaultRaw: `'{}'` })
  payload: Record<string, unknown> = {};

  @Property({ type: 'timestamptz' })
  occurredAt!: Date;

  @Property({ type: 'text' })
  idempotencyKey!: string;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}
