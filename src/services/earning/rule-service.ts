import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Database, Sql } from '../../db/database';
import { configEntities, inConfigTransaction, storeChanges } from '../../db/config-writes';
import { Rule as RuleEntity, RuleStatus, RuleVersion, checkStatus } from '../../entities/rule';
import { badInput, notFound } from '../../errors';
import { listActions, validateRule, type Rule, type RuleCaps, type RuleDefinition, type ValidationError } from '../../rules';
import type { Clock, Page, RequestContext } from '../shared';
import { canonicalJson, idCursor, isUuid, pageOf, pageSize, readIdCursor } from '../shared';
import {
  engineRules, findRule, findRules, findRulesPage, findVersions, findVersionsOfRules, findVersionsWithRule, hasRule,
  type EngineRuleRow,
} from './rule-store';


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

/** The cursor of a rule in {@link RuleService.rulePage}: pass it as `after` to read the rules after it. */
export const ruleCursor = (rule: { id: string }): string => idCursor('rules', rule.id);

/** Other instances see a rule change within this time; the changing instance sees it at once. */
const ACTIVE_RULES_TTL_MS = 3_000;
const MAX_DAYS = 36_500;
const MAX_PRIORITY = 1_000_000;
const TRIGGER = /^[a-z][a-z0-9_.:-]{0,63}$/;

/** Stored JSON back to a definition: the window's ISO strings become Dates again. */
export function reviveDefinition(json: any): StoredDefinition {
  const definition = { ...json } as StoredDefinition;
  if (json.activeFrom) definition.activeFrom = new Date(json.activeFrom);
  if (json.activeTo) definition.activeTo = new Date(json.activeTo);
  return definition;
}

function toRecord(rule: RuleEntity, version: RuleVersion): RuleRecord {
  return {
    id: rule.id,
    programId: rule.programId,
    name: rule.name,
    status: rule.status,
    versionId: version.id,
    version: version.version,
    definition: reviveDefinition(version.definition),
    budgetUsed: Number(rule.budgetUsed),
    createdAt: rule.createdAt,
    updatedAt: rule.updatedAt,
  };
}

function toVersion(version: RuleVersion): RuleVersionRecord {
  return {
    id: version.id,
    ruleId: version.rule.id,
    version: version.version,
    definition: reviveDefinition(version.definition),
    createdAt: version.createdAt,
    createdBy: version.createdBy,
  };
}

/** The engine's view of a rule: the current version with the rule's status. */
export function toEngineRule(row: EngineRuleRow): Rule {
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

/** The actions a rule may use now: the catalogue's, less those nothing carries out yet. */
export const usableActions = () => listActions().filter((action) => !NOT_YET_EXECUTABLE.has(action.code));

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

/**
 * Earning rules: saved as data, validated against the catalogue when saved, versioned on every
 * edit. Active rules are cached per program for evaluation; a change here drops the cache at
 * once, other instances see it within {@link ACTIVE_RULES_TTL_MS}.
 */
export class RuleService {
  private readonly activeCache = new Map<string, { rules: Rule[]; until: number }>();
  /** Bumped by every change: a load that began before one does not fill the cache. */
  private changes = 0;

  constructor(
    private readonly orm: MikroORM,
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly cacheTtlMs = ACTIVE_RULES_TTL_MS,
  ) {}

  async createRule(ctx: RequestContext, input: CreateRuleInput): Promise<RuleRecord> {
    const rule = new RuleEntity(ctx.programId, input.name, input.status ?? RuleStatus.DRAFT, this.clock.now());
    const definition = normalize(input.definition);
    checkDefinition(definition, rule.status);
    const version = new RuleVersion(rule, 1, definition, rule.createdAt, createdBy(ctx));
    rule.edit({ version }, rule.createdAt);
    // The rule points at its first version before it exists: the foreign key is checked at commit.
    await inConfigTransaction(this.orm, async (em) => {
      await em.insert(rule);
      await em.insert(version);
    });
    this.changed(ctx, rule, 'rule created');
    return toRecord(rule, version);
  }

  async updateRule(ctx: RequestContext, ruleId: string, input: UpdateRuleInput): Promise<RuleRecord> {
    const definition = input.definition ? normalize(input.definition) : null;
    const [rule, version] = await inConfigTransaction(this.orm, async (em) => {
      const rule = await this.load(em, ctx.programId, ruleId, true);
      rule.assertEditable('edited');
      if (input.name != null) rule.edit({ name: input.name }, rule.updatedAt);
      let version = await this.currentVersion(em, rule);
      if (definition) {
        checkDefinition(definition, rule.status);
        // Saving the same definition again is not an edit: no new version.
        if (canonicalJson(definition) !== canonicalJson(reviveDefinition(version.definition))) {
          version = new RuleVersion(rule, version.version + 1, definition, this.clock.now(), createdBy(ctx));
          await em.insert(version);
        }
      }
      rule.edit({ version }, this.clock.now());
      await storeChanges(em, rule, ['name', 'currentVersionId', 'updatedAt']);
      return [rule, version] as const;
    });
    this.changed(ctx, rule, 'rule updated');
    return toRecord(rule, version);
  }

  /** draft → active ⇄ paused → archived; archived is final (its awards stay in the history). */
  async setRuleStatus(ctx: RequestContext, ruleId: string, status: RuleStatus): Promise<RuleRecord> {
    checkStatus(status);
    const [rule, version] = await inConfigTransaction(this.orm, async (em) => {
      const rule = await this.load(em, ctx.programId, ruleId, true);
      if (rule.transition(status, this.clock.now())) await storeChanges(em, rule, ['status', 'updatedAt']);
      return [rule, await this.currentVersion(em, rule)] as const;
    });
    this.changed(ctx, rule, 'rule status set');
    return toRecord(rule, version);
  }

  async listRules(ctx: RequestContext, filter: RuleFilter = {}): Promise<RuleRecord[]> {
    if (filter.status != null) checkStatus(filter.status);
    const em = configEntities(this.orm);
    const rules = await findRules(em, ctx.programId, filter.status ?? null);
    const versions = new Map((await findVersions(em, rules.map((r) => r.currentVersionId))).map((v) => [v.id, v]));
    return rules
      .map((rule) => toRecord(rule, versions.get(rule.currentVersionId)!))
      .filter((rule) => filter.trigger == null || rule.definition.trigger === filter.trigger);
  }

  /** The program's rules a page at a time, oldest first: `first` rules after the `after` cursor. */
  async rulePage(
    ctx: RequestContext,
    opts: { first?: number | null; after?: string | null; filter?: RuleFilter | null } = {},
  ): Promise<Page<RuleRecord>> {
    const filter = opts.filter ?? {};
    if (filter.status != null) checkStatus(filter.status);
    const limit = pageSize(opts.first);
    const afterId = readIdCursor('rules', opts.after);
    const em = configEntities(this.orm);
    const rules = await findRulesPage(em, ctx.programId, { status: filter.status ?? null, trigger: filter.trigger ?? null }, afterId, limit + 1);
    if (afterId && rules.length === 0 && !(await hasRule(em, ctx.programId, afterId))) {
      throw badInput('after names no rule of this program', { field: 'after' });
    }
    const versions = new Map((await findVersions(em, rules.map((r) => r.currentVersionId))).map((v) => [v.id, v]));
    return pageOf(rules.map((rule) => toRecord(rule, versions.get(rule.currentVersionId)!)), limit, ruleCursor);
  }

  async getRule(ctx: RequestContext, ruleId: string): Promise<RuleRecord> {
    const em = configEntities(this.orm);
    const rule = await this.load(em, ctx.programId, ruleId);
    return toRecord(rule, await this.currentVersion(em, rule));
  }

  /** Each rule's versions, newest first, in the order of the ids asked (for DataLoader). */
  async versionsOf(programId: string, ruleIds: readonly string[]): Promise<RuleVersionRecord[][]> {
    const versions = await findVersionsOfRules(configEntities(this.orm), programId, ruleIds.filter(isUuid));
    const byRule = new Map<string, RuleVersionRecord[]>();
    for (const version of versions) {
      const list = byRule.get(version.rule.id) ?? [];
      list.push(toVersion(version));
      byRule.set(version.rule.id, list);
    }
    return ruleIds.map((id) => byRule.get(id) ?? []);
  }

  /** Rule versions by id with their rule's name, in the order asked (for DataLoader). */
  async versionRefs(programId: string, versionIds: readonly string[]): Promise<Array<RuleVersionRef | null>> {
    const versions = await findVersionsWithRule(configEntities(this.orm), programId, versionIds.filter(isUuid));
    const byId = new Map<string, RuleVersionRef>(
      versions.map((v) => [v.id, { ruleId: v.rule.id, versionId: v.id, version: v.version, name: v.rule.getEntity().name }]),
    );
    return versionIds.map((id) => byId.get(id) ?? null);
  }

  /**
   * The program's active rules, current versions, from memory when fresh: a load per program per
   * TTL. A caller inside a transaction passes it as `db`, and a load runs there, on the
   * connection it holds. The cache keeps loaded rules only, never a load in flight: a caller
   * waiting on another's load — a quote's, queued on a full pool — would hold its connection
   * while that load waited for one, and a full pool of them would stall until the pool's
   * timeout. So callers that meet an expired entry together each load (one small read each).
   */
  async activeRules(programId: string, db: Sql = this.db): Promise<Rule[]> {
    const cached = this.activeCache.get(programId);
    if (cached && cached.until > Date.now()) return cached.rules;
    const changesBefore = this.changes;
    const rules = await this.loadEngineRules(db, programId, [RuleStatus.ACTIVE]);
    if (this.changes === changesBefore) this.activeCache.set(programId, { rules, until: Date.now() + this.cacheTtlMs });
    return rules;
  }

  /** Every rule but archived ones, uncached: a dry run also explains drafts and paused rules. */
  rulesForSimulation(programId: string): Promise<Rule[]> {
    return this.loadEngineRules(this.db, programId, [RuleStatus.DRAFT, RuleStatus.ACTIVE, RuleStatus.PAUSED]);
  }

  invalidate(programId: string): void {
    this.changes += 1;
    this.activeCache.delete(programId);
  }

  private async loadEngineRules(db: Sql, programId: string, statuses: RuleStatus[]): Promise<Rule[]> {
    const rows = await db.run(engineRules, [programId, `{${statuses.join(',')}}`]);
    return rows.map(toEngineRule);
  }

  private async load(em: EntityManager, programId: string, ruleId: string, lock = false): Promise<RuleEntity> {
    const rule = isUuid(ruleId) ? await findRule(em, programId, ruleId, lock) : null;
    if (!rule) throw notFound('Rule', { ruleId });
    return rule;
  }

  private async currentVersion(em: EntityManager, rule: RuleEntity): Promise<RuleVersion> {
    const [version] = await findVersions(em, [rule.currentVersionId]);
    return version;
  }

  /** A committed change: this instance forgets the program's active rules now. */
  private changed(ctx: RequestContext, rule: RuleEntity, message: string): void {
    this.invalidate(ctx.programId);
    ctx.logger.info({ ruleId: rule.id, status: rule.status }, message);
  }
}

const createdBy = (ctx: RequestContext) => `${ctx.kind}:${ctx.id}`;
