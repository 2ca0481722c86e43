import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { statement } from '../../db/statement';
import { Rule, RuleStatus, RuleVersion } from '../../entities/rule';

/**
 * Where rules are kept. Rules and their versions are MikroORM entities; the rules earning
 * evaluates are read with one typed statement (the hot path, cached per program).
 */

/** A rule with its current version, as the engine reads it. */
export interface EngineRuleRow {
  id: string;
  name: string;
  status: RuleStatus;
  version_id: string;
  version: number;
  definition: unknown;
}

/** A program's rules in the given statuses, each with its current version. */
export const engineRules = statement<[programId: string, statuses: string], EngineRuleRow>(
  'earning.engine_rules',
  `select r.id, r.name, r.status, v.id as version_id, v.version, v.definition
   from rule r join rule_version v on v.id = r.current_version_id
   where r.program_id = ? and r.status = any(?::rule_status[])`,
);

/** A rule of the program, locked for the transaction when asked. */
export function findRule(em: EntityManager, programId: string, ruleId: string, lock = false): Promise<Rule | null> {
  return em.findOne(Rule, { id: ruleId, programId }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
}

/** The program's rules, oldest first, with the status asked (or any). */
export function findRules(em: EntityManager, programId: string, status: RuleStatus | null): Promise<Rule[]> {
  return em.find(Rule, status ? { programId, status } : { programId }, { orderBy: { createdAt: 'asc', id: 'asc' } });
}

/**
 * A page of the program's rules, oldest first, with the status and trigger asked (or any):
 * `limit` rules after the one `afterId` names (a rule of the same program), or from the first.
 * The trigger is the current version's.
 */
export function findRulesPage(
  em: EntityManager,
  programId: string,
  filter: { status: RuleStatus | null; trigger: string | null },
  afterId: string | null,
  limit: number,
): Promise<Rule[]> {
  const qb = em.createQueryBuilder(Rule, 'r').select('*').where({ programId });
  if (filter.status) qb.andWhere({ status: filter.status });
  if (filter.trigger != null) {
    qb.andWhere(`exists (select 1 from rule_version v where v.id = r.current_version_id and v.definition->>'trigger' = ?)`, [filter.trigger]);
  }
  if (afterId) {
    qb.andWhere('(r.created_at, r.id) > (select c.created_at, c.id from rule c where c.id = ? and c.program_id = ?)', [afterId, programId]);
  }
  return qb.orderBy({ createdAt: 'asc', id: 'asc' }).limit(limit).getResultList();
}

/** Whether the program has a rule with this id. */
export async function hasRule(em: EntityManager, programId: string, id: string): Promise<boolean> {
  return (await em.count(Rule, { id, programId })) > 0;
}

/** Versions by id. */
export function findVersions(em: EntityManager, ids: readonly string[]): Promise<RuleVersion[]> {
  return ids.length === 0 ? Promise.resolve([]) : em.find(RuleVersion, { id: { $in: [...ids] } });
}

/** Every version of the program's rules named, newest first per rule. */
export function findVersionsOfRules(em: EntityManager, programId: string, ruleIds: readonly string[]): Promise<RuleVersion[]> {
  if (ruleIds.length === 0) return Promise.resolve([]);
  return em.find(RuleVersion, { rule: { id: { $in: [...ruleIds] }, programId } }, { orderBy: { rule: { id: 'asc' }, version: 'desc' } });
}

/** Versions by id among the program's rules, with their rule loaded (for its name). */
export function findVersionsWithRule(em: EntityManager, programId: string, ids: readonly string[]): Promise<RuleVersion[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return em.find(RuleVersion, { id: { $in: [...ids] }, rule: { programId } }, { populate: ['rule'] });
}
