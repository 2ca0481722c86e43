import { BigIntType, Entity, Enum, Index, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';

export enum RuleStatus {
  DRAFT = 'draft',
  ACTIVE = 'active',
  PAUSED = 'paused',
  ARCHIVED = 'archived',
}

/** An earning rule of a program. Its definition lives in versions; only the status changes in place. */
@Entity({ tableName: 'rule' })
@Index({ properties: ['programId', 'status'] })
export class Rule {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'text' })
  name!: string;

  @Enum({ items: () => RuleStatus, nativeEnumName: 'rule_status' })
  status: RuleStatus = RuleStatus.DRAFT;

  @Property({ type: 'uuid' })
  currentVersionId!: string;

  /** Points all members got from this rule, counted against its total budget. */
  @Property({ type: new BigIntType('number') })
  budgetUsed: number = 0;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;
}

/** One saved definition of a rule; immutable, so ledger entries can name it. */
@Entity({ tableName: 'rule_version' })
@Unique({ properties: ['ruleId', 'version'] })
export class RuleVersion {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  ruleId!: string;

  @Property({ type: 'integer' })
  version!: number;

  /** The RuleDefinition without its status; dates as ISO strings. */
  @Property({ type: 'json' })
  definition!: Record<string, unknown>;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  @Property({ type: 'text', nullable: true })
  createdBy: string | null = null;
}

/** Points a rule gave one member for one event or order: what caps and one-off rules count. */
@Entity({ tableName: 'rule_award' })
@Index({ properties: ['ruleId', 'memberId', 'awardedAt'] })
export class RuleAward {
  @PrimaryKey({ type: new BigIntType('number'), autoincrement: true })
  id!: number;

  @Property({ type: 'uuid' })
  programId!: string;

  @Property({ type: 'uuid' })
  ruleId!: string;

  @Property({ type: 'uuid' })
  ruleVersionId!: string;

  /** Who received the points. */
  @Property({ type: 'uuid' })
  memberId!: string;

  @Property({ type: 'uuid' })
  accountId!: string;

  /** Whose event or order it was (differs from `memberId` for referrer awards). */
  @Property({ type: 'uuid' })
  sourceMemberId!: string;

  @Property({ type: 'integer', nullable: true })
  referrerLevel: number | null = null;

  @Property({ type: new BigIntType('number') })
  points!: number;

  @Property({ type: 'text' })
  sourceType!: string;

  @Property({ type: 'text' })
  sourceId!: string;

  @Property({ type: 'boolean' })
  oneOff: boolean = false;

  @Property({ type: 'timestamptz' })
  awardedAt!: Date;

  @Property({ type: new BigIntType('number') })
  entryId!: number;
}
