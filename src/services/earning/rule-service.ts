import type { Actor } from '../shared';
import type { Database, Sql } from '../../db/database';
import { randomUUID } from 'node:crypto';
import { RuleStatus } from '../../entities/rule';
import { ErrorCode, PatronError, badInput, notFound } from '../../errors';
import { validateRule, type Rule, type RuleCaps, type RuleDefinition, type ValidationError } from '../../rules';
import type { Clock } from '../shared';
import { canonicalJson } from '../shared';


/** A definition as stored in a version: everything but the status, which changes in place. */
export type StoredDefinition = Omit<RuleDefinition, 'status'>;

/** What an admin saves; the condition and action args are JSON checked against the catalogue. */
export interface RuleDefinitionInput {
  trigger: string;
  condition?: unknown;
  actions: Array<{ code: string; args?: unknown }>;
  lifetimeDays?: number | null;
  delayDays?: number | null;
  caps?: Partial<Record<keyof RuleCaps, number | null>> | null;
  priority?: number | null;
  exclusive?: boolean | null;
  oncePerMember?: boolean | null;
  activeFrom?: Date | null;
  activeTo?: Date | null;
}

export interface CreateRuleInput {
  name: string;
  /** Default draft: a rule earns nothing until it is activated. */
  status?: RuleStatus | null;
  definition: RuleDefinitionInput;
}

export interface UpdateRuleInput {
  name?: string | null;
  /** A new definition makes a new version; entries already written keep naming the old one. */
  definition?: RuleDefinitionInput | null;
}

export interface RuleRecord {
  id: string;
  programId: string;
  name: string;
  status: RuleStatus;
  versionId: string;
  version: number;
  definition: StoredDefinition;
  /** Points all members got from this rule so far (what caps.totalBudget limits). */
  budgetUsed: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface RuleVersionRecord {
  id: string;
  ruleId: string;
  version: number;
  definition: StoredDefinition;
  createdAt: Date;
  createdBy: string | null;
}

/** What a ledger entry's rule version points to, for a member's history. */
export interface RuleVersionRef {
  ruleId: string;
  versionId: string;
  version: number;
  name: string;
}

export interface RuleFilter {
  status?: RuleStatus | null;
  trigger?: string | null;
}

/** Other instances see a rule change within this time; the changing instance sees it at once. */
const ACTIVE_RULES_TTL_MS = 3_000;
const MAX_DAYS = 36_500;
const MAX_PRIORITY = 1_000_000;
const TRIGGER = /^[a-z][a-z0-9_.:-]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const pgUuids = (ids: readonly string[]) => `{${ids.filter((id) => UUID.test(id)).join(',')}}`;

/** Stored JSON back to a definition: the window's ISO strings become Dates again. */
export function reviveDefinition(json: any): StoredDefinition {
  const definition = { ...json } as StoredDefinition;
  if (json.activeFrom) definition.activeFrom = new Date(json.activeFrom);
  if (json.activeTo) definition.activeTo = new Date(json.activeTo);
  return definition;
}

function toRecord(row: any): RuleRecord {
  return {
    id: row.id,
    programId: row.program_id,
    name: row.name,
    status: row.status,
    versionId: row.version_id,
    version: row.version,
    definition: reviveDefinition(row.definition),
    budgetUsed: Number(row.budget_used),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

function toVersion(row: any): RuleVersionRecord {
  return {
    id: row.id,
    ruleId: row.rule_id,
    version: row.version,
    definition: reviveDefinition(row.definition),
    createdAt: new Date(row.created_at),
    createdBy: row.created_by,
  };
}

/** The engine's view of a rule: the current version with the rule's status. */
export function toEngineRule(row: { id: string; name: string; status: RuleStatus; version_id: string; version: number; definition: unknown }): Rule {
  return {
    id: row.id,
    versionId: row.version_id,
    version: row.version,
    name: row.name,
    definition: { ...reviveDefinition(row.definition), status: row.status },
  };
}

/** Drops what was left out, so the stored JSON holds only what the admin said. */
function normalize(input: RuleDefinitionInput): StoredDefinition {
  const definition: Record<string, unknown> = {
    trigger: input.trigger,
    actions: (input.actions ?? []).map((action) => (action.args == null ? { code: action.code } : { code: action.code, args: action.args })),
  };
  if (input.condition != null) definition.condition = input.condition;
  for (const key of ['lifetimeDays', 'delayDays', 'priority', 'exclusive', 'oncePerMember', 'activeFrom', 'activeTo'] as const) {
    if (input[key] != null) definition[key] = input[key];
  }
  if (input.caps != null) {
    const caps = Object.fromEntries(Object.entries(input.caps).filter(([, value]) => value != null));
    if (Object.keys(caps).length > 0) definition.caps = caps;
  }
  return definition as unknown as StoredDefinition;
}

/** Catalogue actions whose side effects no service carries out yet. */
const NOT_YET_EXECUTABLE = new Set(['issueCoupon']);

/** The engine's checks plus the bounds the service needs to turn days into dates safely. */
function definitionErrors(definition: StoredDefinition, status: RuleStatus): ValidationError[] {
  const result = validateRule({ ...definition, status });
  const errors = result.ok ? [] : [...result.errors];
  if (typeof definition.trigger === 'string' && definition.trigger && !TRIGGER.test(definition.trigger)) {
    errors.push({ path: 'trigger', message: 'must be lower-case letters, digits and _ . : - (at most 64), starting with a letter' });
  }
  for (const key of ['lifetimeDays', 'delayDays'] as const) {
    const days = definition[key];
    if (typeof days === 'number' && days > MAX_DAYS) errors.push({ path: key, message: `must be at most ${MAX_DAYS}` });
  }
  // The engine can ask for a coupon, but nothing issues coupons yet: refuse rather than drop it.
  (Array.isArray(definition.actions) ? definition.actions : []).forEach((action, i) => {
    if (action?.code && NOT_YET_EXECUTABLE.has(action.code)) {
      errors.push({ path: `actions[${i}].code`, message: `${action.code} needs coupons, which this version does not issue yet` });
    }
  });
  const priority = definition.priority;
  if (typeof priority === 'number' && Math.abs(priority) > MAX_PRIORITY) {
    errors.push({ path: 'priority', message: `must be from -${MAX_PRIORITY} to ${MAX_PRIORITY}` });
  }
  return errors;
}

function checkDefinition(definition: StoredDefinition, status: RuleStatus): void {
  const errors = definitionErrors(definition, status);
  if (errors.length === 0) return;
  const summary = errors.map((e) => `${e.path || 'definition'}: ${e.message}`).join('; ');
  throw badInput(`Invalid rule definition: ${summary}`, { field: 'definition', errors });
}

function checkName(name: string | null | undefined): void {
  if (name == null || !name.trim() || name.length > 200) throw badInput('name must be 1 to 200 characters', { field: 'name' });
}

function checkStatus(status: string): asserts status is RuleStatus {
  if (!(Object.values(RuleStatus) as string[]).includes(status)) {
    throw badInput(`status must be one of ${Object.values(RuleStatus).join(', ')}`, { field: 'status' });
  }
}

const RULE_COLUMNS = `r.*, v.id as version_id, v.version, v.definition`;

/**
 * Earning rules: saved as data, validated against the catalogue when saved, versioned on every
 * edit. Active rules are cached per program for evaluation; a change here drops the cache at
 * once, other instances see it within {@link ACTIVE_RULES_TTL_MS}.
 */
export class RuleService {
  private readonly activeCache = new Map<string, { rules: Promise<Rule[]>; until: number }>();

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly cacheTtlMs = ACTIVE_RULES_TTL_MS,
  ) {}

  async createRule(actor: Actor, input: CreateRuleInput): Promise<RuleRecord> {
    checkName(input.name);
    const status = input.status ?? RuleStatus.DRAFT;
    checkStatus(status);
    if (status === RuleStatus.ARCHIVED) throw badInput('A new rule cannot start archived', { field: 'status' });
    const definition = normalize(input.definition);
    checkDefinition(definition, status);
    const now = this.clock.now();
    const ruleId = randomUUID();
    const versionId = randomUUID();
    const rule = await this.db.transaction(async (tx) => {
      // The rule points at its first version before it exists: the foreign key is checked at commit.
      await tx.execute(
        `insert into rule (id, program_id, name, status, current_version_id, created_at, updated_at)
         values (?, ?, ?, ?::rule_status, ?, ?, ?)`,
        [ruleId, actor.programId, input.name.trim(), status, versionId, now, now],
      );
      await this.insertVersion(tx, ruleId, versionId, 1, definition, actor, now);
      return this.load(tx, actor.programId, ruleId);
    });
    this.invalidate(actor.programId);
    return rule;
  }

  async updateRule(actor: Actor, ruleId: string, input: UpdateRuleInput): Promise<RuleRecord> {
    if (input.name != null) checkName(input.name);
    const definition = input.definition ? normalize(input.definition) : null;
    const rule = await this.db.transaction(async (tx) => {
      const current = await this.load(tx, actor.programId, ruleId, true);
      if (current.status === RuleStatus.ARCHIVED) {
        throw new PatronError(ErrorCode.INVALID_STATE, 'An archived rule cannot be edited', { ruleId });
      }
      const now = this.clock.now();
      let versionId = current.versionId;
      if (definition) {
        checkDefinition(definition, current.status);
        // Saving the same definition again is not an edit: no new version.
        if (canonicalJson(definition) !== canonicalJson(current.definition)) {
          versionId = randomUUID();
          await this.insertVersion(tx, ruleId, versionId, current.version + 1, definition, actor, now);
        }
      }
      await tx.execute(`update rule set name = ?, current_version_id = ?, updated_at = ? where id = ?`, [
        input.name?.trim() ?? current.name,
        versionId,
        now,
        ruleId,
      ]);
      return this.load(tx, actor.programId, ruleId);
    });
    this.invalidate(actor.programId);
    return rule;
  }

  /** draft → active ⇄ paused → archived; archived is final (its awards stay in the history). */
  async setRuleStatus(actor: Actor, ruleId: string, status: RuleStatus): Promise<RuleRecord> {
    checkStatus(status);
    const rule = await this.db.transaction(async (tx) => {
      const current = await this.load(tx, actor.programId, ruleId, true);
      if (current.status === status) return current;
      if (current.status === RuleStatus.ARCHIVED) {
        throw new PatronError(ErrorCode.INVALID_STATE, 'An archived rule cannot be reactivated', { ruleId });
      }
      await tx.execute(`update rule set status = ?::rule_status, updated_at = ? where id = ?`, [status, this.clock.now(), ruleId]);
      return this.load(tx, actor.programId, ruleId);
    });
    this.invalidate(actor.programId);
    return rule;
  }

  async listRules(programId: string, filter: RuleFilter = {}): Promise<RuleRecord[]> {
    if (filter.status != null) checkStatus(filter.status);
    const rows = await this.db.execute(
      `select ${RULE_COLUMNS} from rule r join rule_version v on v.id = r.current_version_id
       where r.program_id = ? and (?::rule_status is null or r.status = ?::rule_status)
         and (?::text is null or v.definition->>'trigger' = ?)
       order by r.created_at, r.id`,
      [programId, filter.status ?? null, filter.status ?? null, filter.trigger ?? null, filter.trigger ?? null],
    );
    return rows.map(toRecord);
  }

  getRule(programId: string, ruleId: string): Promise<RuleRecord> {
    return this.load(this.db, programId, ruleId);
  }

  /** Each rule's versions, newest first, in the order of the ids asked (for DataLoader). */
  async versionsOf(programId: string, ruleIds: readonly string[]): Promise<RuleVersionRecord[][]> {
    const rows = await this.db.execute(
      `select v.* from rule_version v join rule r on r.id = v.rule_id
       where r.program_id = ? and v.rule_id = any(?::uuid[]) order by v.rule_id, v.version desc`,
      [programId, pgUuids(ruleIds)],
    );
    const byRule = new Map<string, RuleVersionRecord[]>();
    for (const row of rows) {
      const list = byRule.get(row.rule_id) ?? [];
      list.push(toVersion(row));
      byRule.set(row.rule_id, list);
    }
    return ruleIds.map((id) => byRule.get(id) ?? []);
  }

  /** Rule versions by id with their rule's name, in the order asked (for DataLoader). */
  async versionRefs(programId: string, versionIds: readonly string[]): Promise<Array<RuleVersionRef | null>> {
    const rows = await this.db.execute(
      `select v.id, v.rule_id, v.version, r.name from rule_version v join rule r on r.id = v.rule_id
       where r.program_id = ? and v.id = any(?::uuid[])`,
      [programId, pgUuids(versionIds)],
    );
    const byId = new Map<string, RuleVersionRef>(
      rows.map((r: any) => [r.id, { ruleId: r.rule_id, versionId: r.id, version: r.version, name: r.name }]),
    );
    return versionIds.map((id) => byId.get(id) ?? null);
  }

  /** The program's active rules, current versions, from memory when fresh: one query per program per TTL. */
  activeRules(programId: string): Promise<Rule[]> {
    const cached = this.activeCache.get(programId);
    if (cached && cached.until > Date.now()) return cached.rules;
    const rules = this.loadEngineRules(programId, [RuleStatus.ACTIVE]);
    this.activeCache.set(programId, { rules, until: Date.now() + this.cacheTtlMs });
    rules.catch(() => this.activeCache.delete(programId));
    return rules;
  }

  /** Every rule but archived ones, uncached: a dry run also explains drafts and paused rules. */
  rulesForSimulation(programId: string): Promise<Rule[]> {
    return this.loadEngineRules(programId, [RuleStatus.DRAFT, RuleStatus.ACTIVE, RuleStatus.PAUSED]);
  }

  invalidate(programId: string): void {
    this.activeCache.delete(programId);
  }

  private async loadEngineRules(programId: string, statuses: RuleStatus[]): Promise<Rule[]> {
    const rows = await this.db.execute(
      `select r.id, r.name, r.status, v.id as version_id, v.version, v.definition
       from rule r join rule_version v on v.id = r.current_version_id
       where r.program_id = ? and r.status = any(?::rule_status[])`,
      [programId, `{${statuses.join(',')}}`],
    );
    return rows.map((row: any) => toEngineRule(row));
  }

  private async load(db: Sql, programId: string, ruleId: string, lock = false): Promise<RuleRecord> {
    const [row] = UUID.test(ruleId)
      ? await db.execute(
          `select ${RULE_COLUMNS} from rule r join rule_version v on v.id = r.current_version_id
           where r.id = ? and r.program_id = ?${lock ? ' for update of r' : ''}`,
          [ruleId, programId],
        )
      : [];
    if (!row) throw notFound('Rule', { ruleId });
    return toRecord(row);
  }

  private async insertVersion(
    tx: Sql,
    ruleId: string,
    versionId: string,
    version: number,
    definition: StoredDefinition,
    actor: Actor,
    now: Date,
  ): Promise<void> {
    await tx.execute(
      `insert into rule_version (id, rule_id, version, definition, created_at, created_by) values (?, ?, ?, ?::json, ?, ?)`,
      [versionId, ruleId, version, JSON.stringify(definition), now, `${actor.kind}:${actor.id}`],
    );
  }
}
