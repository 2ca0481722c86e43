import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * The generation a member's customer tokens must carry; raising it revokes every token issued
 * before. Written and read by the access module's store (src/services/access/access-store.ts).
 */
@Entity({ tableName: 'customer_token_revocation' })
export class CustomerTokenRevocation {
  @PrimaryKey({ type: 'uuid' })
  memberId!: string;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'integer' })
  generation!: number;

  @Property({ type: 'timestamptz' })
  revokedAt!: Date;

  /** The id of the key that revoked them. */
  @Property({ type: 'text' })
  revokedBy!: string;
}
