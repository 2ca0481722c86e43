import { BigIntType, Entity, ManyToOne, OneToOne, PrimaryKey, Property, type Ref } from '@mikro-orm/core';
import { Member } from './member';
import { Program } from './program';

/** An event or order that was put through the rules: each is earned on once, whatever the retries (typed SQL). */
@Entity({ tableName: 'earned_source' })
export class EarnedSource {
  // No foreign key: every write would lock the program's row to check it (see the hot-path keys migration).
  @ManyToOne(() => Program, { primary: true, ref: true, createForeignKeyConstraint: false })
  program!: Ref<Program>;

  @PrimaryKey({ type: 'text' })
  sourceType!: string;

  @PrimaryKey({ type: 'text' })
  sourceId!: string;

  @Property({ type: 'uuid' })
  memberId!: string;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}

/** What a member paid in orders so far, for milestones that compare before and after (typed SQL). */
@Entity({ tableName: 'member_spend' })
export class MemberSpend {
  @OneToOne(() => Member, { primary: true, owner: true, deleteRule: 'cascade', ref: true })
  member!: Ref<Member>;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: new BigIntType('number'), default: 0 })
  paidMinor: number = 0;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;
}
