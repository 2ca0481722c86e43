import { Entity, ManyToOne, PrimaryKey, Property, type Ref } from '@mikro-orm/core';
import { Program } from './program';

/** A storefront write's key, the hash of its input and its first result, replayed on retry (typed SQL). */
@Entity({ tableName: 'idempotency_record' })
export class IdempotencyRecord {
  // No foreign key: every write would lock the program's row to check it (see the hot-path keys migration).
  @ManyToOne(() => Program, { primary: true, ref: true, createForeignKeyConstraint: false })
  program!: Ref<Program>;

  @PrimaryKey({ type: 'text' })
  key!: string;

  @Property({ type: 'text' })
  operation!: string;

  @Property({ type: 'text' })
  requestHash!: string;

  /** json, not jsonb: a replay returns the first result byte for byte. */
  @Property({ type: 'json', columnType: 'json', nullable: true })
  response: unknown = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
