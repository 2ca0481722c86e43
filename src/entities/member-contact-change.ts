import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * A change of a member's e-mail or phone: old and new values (a value that did not change is
 * null on both sides), who sent it and when. Written by the members module
 * (src/services/members/contact-store.ts) in the transaction that makes the change.
 */
@Entity({ tableName: 'member_contact_change' })
@Index({ name: 'member_contact_change_member_index', properties: ['memberId', 'changedAt'] })
export class MemberContactChange {
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'uuid' })
  memberId!: string;

  @Property({ type: 'text', nullable: true })
  oldEmail!: string | null;

  @Property({ type: 'text', nullable: true })
  newEmail!: string | null;

  @Property({ type: 'text', nullable: true })
  oldPhone!: string | null;

  @Property({ type: 'text', nullable: true })
  newPhone!: string | null;

  /** `server`, `admin` or `job`: the kind of actor that sent the change. */
  @Property({ type: 'text' })
  actorKind!: string;

  /** The API key's id (or the job's name). */
  @Property({ type: 'text' })
  actorId!: string;

  @Property({ type: 'text', nullable: true })
  requestId!: string | null;

  @Property({ type: 'timestamptz' })
  changedAt!: Date;
}
