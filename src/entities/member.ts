import { Entity, Enum, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Program } from './program';

export enum MemberStatus {
  ACTIVE = 'active',
  FROZEN = 'frozen',
}

/** A shop's customer in the program, known by the shop's own id, e-mail or phone. */
@Entity({ tableName: 'member' })
@Unique({ properties: ['program', 'externalId'] })
export class Member {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Program, { deleteRule: 'cascade' })
  program!: Program;

  /** The shop's own customer id. */
  @Property({ type: 'text' })
  externalId!: string;

  /** Lower-cased e-mail. */
  @Property({ type: 'text', nullable: true })
  email: string | null = null;

  /** Phone in E.164 form (+ and digits). */
  @Property({ type: 'text', nullable: true })
  phone: string | null = null;

  @Property({ type: 'text', nullable: true })
  name: string | null = null;

  /** Calendar date (YYYY-MM-DD), no time zone. */
  @Property({ type: 'date', nullable: true })
  birthday: string | null = null;

  @Enum({ items: () => MemberStatus, nativeEnumName: 'member_status' })
  status: MemberStatus = MemberStatus.ACTIVE;

  @Property({ type: 'text[]', defaultRaw: `'{}'` })
  tags: string[] = [];

  @Property({ type: 'timestamptz' })
  registeredAt!: Date;

  /** Who referred the member; bound at registration and never changed, so the tree has no cycles. */
  @Property({ type: 'uuid', nullable: true })
  referrerId: string | null = null;

  /** The shop's own facts about the member (city, segment …) that rule conditions may compare. */
  @Property({ type: 'jsonb', defaultRaw: `'{}'` })
  attributes: Record<string, unknown> = {};

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;
}
