import { BigIntType, Entity, Enum, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';

export enum AuthorizationStatus {
  OPEN = 'open',
  CAPTURED = 'captured',
  RELEASED = 'released',
}

/** Points held at checkout: captured on payment, released on cancellation or after its TTL. */
@Entity({ tableName: 'authorization' })
export class Authorization {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'uuid' })
  accountId!: string;

  @Property({ type: new BigIntType('number') })
  amount!: number;

  @Property({ type: new BigIntType('number') })
  captured: number = 0;

  @Enum({ items: () => AuthorizationStatus, nativeEnumName: 'authorization_status' })
  status: AuthorizationStatus = AuthorizationStatus.OPEN;

  @Property({ type: 'text', nullable: true })
  reference: string | null = null;

  /** What owns the hold ('order'): it is captured or released only through its owner. */
  @Property({ type: 'text', nullable: true })
  ownerType: string | null = null;

  @Property({ type: 'text', nullable: true })
  ownerId: string | null = null;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  closedAt: Date | null = null;
}
