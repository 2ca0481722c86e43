import { BigIntType, Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Reference, Unique, type Ref } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { ErrorCode, PatronError, badInput } from '../errors';

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
  id: string;

  @Property({ type: 'uuid' })
  programId: string;

  @Property({ type: 'text' })
  name: string;

  @Enum({ items: () => RuleStatus, nativeEnumName: 'rule_status' })
  status: RuleStatus;

  /** The version rules are evaluated with; the foreign key is checked at commit. */
  @Property({ type: 'uuid' })
  currentVersionId!: string;

  /** Points all members got from this rule, counted against its total budget (written by earning). */
  @Property({ type: new BigIntType('number'), default: 0 })
  budgetUsed: number = 0;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  updatedAt: Date;

  /** A new rule, draft unless said otherwise; it cannot start archived. Its first version follows. */
  constructor(programId: string, name: string, status: RuleStatus, now: Date, id: string = randomUUID()) {
    checkStatus(status);
    if (status === RuleStatus.ARCHIVED) throw badInput('A new rule cannot start archived', { field: 'status' });
    this.id = id;
    this.programId = programId;
    this.name = checkName(name);
    this.status = status;
    this.createdAt = now;
    this.updatedAt = now;
  }

  /** An archived rule is final: it is neither edited nor reactivated (its awards stay in the history). */
  assertEditable(what: string): void {
    if (this.status === RuleStatus.ARCHIVED) {
      throw new PatronError(ErrorCode.INVALID_STATE, `An archived rule cannot be ${what}`, { ruleId: this.id });
    }
  }

  /** Renames the rule and/or makes `version` its current one. */
  edit(changes: { name?: string | null; version?: RuleVersion }, now: Date): void {
    this.assertEditable('edited');
    if (changes.name != null) this.name = checkName(changes.name);
    if (changes.version) {
      if (changes.version.rule.id !== this.id) throw new Error('The version belongs to another rule');
      this.currentVersionId = changes.version.id;
    }
    this.updatedAt = now;
  }

  /** draft → active ⇄ paused → archived; setting the status it has changes nothing. */
  transition(status: RuleStatus, now: Date): boolean {
    checkStatus(status);
    if (this.status === status) return false;
    this.assertEditable('reactivated');
    this.status = status;
    this.updatedAt = now;
    return true;
  }
}

function checkName(name: string | null | undefined): string {
  if (typeof name !== 'string' || !name.trim() || name.length > 200) throw badInput('name must be 1 to 200 characters', { field: 'name' });
  return name.trim();
}

export function checkStatus(status: string): asserts status is RuleStatus {
  if (!(Object.values(RuleStatus) as string[]).includes(status)) {
    throw badInput(`status must be one of ${Object.values(RuleStatus).join(', ')}`, { field: 'status' });
  }
}

/** One saved definition of a rule; immutable (the database refuses updates), so ledger entries can name it. */
@Entity({ tableName: 'rule_version' })
@Unique({ properties: ['rule', 'version'] })
export class RuleVersion {
  @PrimaryKey({ type: 'uuid' })
  id: string;

  @ManyToOne(() => Rule, { deleteRule: 'cascade', ref: true })
  rule: Ref<Rule>;

  @Property({ type: 'integer' })
  version: number;

  /** The RuleDefinition without its status; dates as ISO strings. Checked by the rules service before saving. */
  @Property({ type: 'json', columnType: 'json' })
  definition: Record<string, unknown>;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  /** Who saved it: `<actor kind>:<actor id>`. */
  @Property({ type: 'text', nullable: true })
  createdBy: string | null = null;

  constructor(rule: Rule, version: number, definition: object, createdAt: Date, createdBy: string | null, id: string = randomUUID()) {
    if (!Number.isSafeInteger(version) || version < 1) throw new Error('A rule version is a whole number from 1');
    this.id = id;
    this.rule = Reference.create(rule);
    this.version = version;
    this.definition = definition as Record<string, unknown>;
    this.createdAt = createdAt;
    this.createdBy = createdBy;
  }
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

  /** The part of `points` that the order's cancellation or returned lines took back (not what they forgave): caps, once-only rules and budgets no longer count it. */
  @Property({ type: new BigIntType('number'), default: 0 })
  withdrawn: number = 0;
}
