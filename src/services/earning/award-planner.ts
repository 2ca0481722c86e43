import type { EvaluationResult, Rule, RuleCaps } from '../../rules';

/**
 * Pure award planning: the rules' evaluation becomes one award per rule and beneficiary, each
 * given its beneficiary, then cut to what once-only rules, per-member caps and total budgets
 * leave. No I/O here: the earning service reads the counts (see {@link usageNeeded}) and the
 * same plan serves the real run and the dry run.
 */

/** Why an award is smaller than the rule asked: a cap, the budget, once-only, or nobody to receive it. */
export type AwardLimit = keyof RuleCaps | 'oncePerMember' | 'noReferrer';

/** One rule's points for one beneficiary for this event, after caps. */
export interface PlannedAward {
  ruleId: string;
  ruleVersionId: string;
  version: number;
  ruleName: string;
  /** null: the member whose event it is; N: their referrer N levels up. */
  referrerLevel: number | null;
  /** Who receives them; null when there is no referrer at that level. */
  memberId: string | null;
  /** What the rule's actions asked for. */
  requestedPoints: number;
  /** What the limits leave: the points credited. */
  points: number;
  limitedBy: AwardLimit | null;
  lifetimeDays: number | null;
  delayDays: number | null;
  oneOff: boolean;
  caps: RuleCaps;
}

export const CAP_WINDOWS = ['perMemberPerDay', 'perMemberPerWeek', 'perMemberPerMonth', 'perMemberLifetime'] as const;
export type CapWindow = (typeof CAP_WINDOWS)[number];

/**
 * One award per rule and beneficiary, in evaluation order: a rule's actions for the same person
 * become one ledger entry (they share the rule's lifetime, delay and caps).
 */
export function plannedAwards(rules: Rule[], evaluation: EvaluationResult): PlannedAward[] {
  const byId = new Map(rules.map((rule) => [rule.id, rule]));
  const planned: PlannedAward[] = [];
  for (const result of evaluation.results) {
    if (!result.matched) continue;
    const rule = byId.get(result.ruleId)!;
    for (const award of result.awards) {
      const level = award.beneficiary === 'member' ? null : award.beneficiary.referrerLevel;
      const same = planned.find((p) => p.ruleId === rule.id && p.referrerLevel === level);
      if (same) {
        same.requestedPoints += award.points;
        same.points += award.points;
        continue;
      }
      planned.push({
        ruleId: rule.id,
        ruleVersionId: rule.versionId,
        version: rule.version,
        ruleName: rule.name,
        referrerLevel: level,
        memberId: null,
        requestedPoints: award.points,
        points: award.points,
        limitedBy: null,
        lifetimeDays: award.lifetimeDays,
        delayDays: award.delayDays,
        oneOff: rule.definition.oncePerMember === true,
        caps: award.caps,
      });
    }
  }
  return planned;
}

/** The referrer levels the awards need resolved, nearest first. */
export function referrerLevels(awards: readonly PlannedAward[]): number[] {
  return [...new Set(awards.map((a) => a.referrerLevel).filter((l): l is number => l !== null))].sort((a, b) => a - b);
}

/** Gives each award its beneficiary: the member, or their referrer at its level (none: nothing). */
export function assignBeneficiaries(awards: PlannedAward[], memberId: string, referrerAt: ReadonlyMap<number, string | null>): void {
  for (const award of awards) {
    award.memberId = award.referrerLevel === null ? memberId : referrerAt.get(award.referrerLevel) ?? null;
    if (!award.memberId) limit(award, 0, 'noReferrer');
  }
}

/** The referrers that receive points, with their levels: whose accounts to lock. */
export function payingReferrers(awards: readonly PlannedAward[], memberId: string): Array<{ memberId: string; level: number }> {
  return awards
    .filter((a) => a.memberId && a.memberId !== memberId && a.referrerLevel !== null)
    .map((a) => ({ memberId: a.memberId!, level: a.referrerLevel! }));
}

/** What the limits of the awards have used so far, read by the earning service. */
export interface AwardUsage {
  /** `ruleId:memberId` of once-only rules that already rewarded this member's events. */
  onceDone: ReadonlySet<string>;
  /** Rule id → points left in its total budget. */
  budgetLeft: Map<string, number>;
  /** `ruleId:memberId` → points awarded in each cap window. */
  used: Map<string, Record<CapWindow, number>>;
}

/** Which counts the awards' limits need: empty lists need no query. */
export function usageNeeded(awards: readonly PlannedAward[]): {
  oneOffRules: string[];
  /** In id order: the order budget rows are locked in. */
  budgetRules: string[];
  /** (rule, beneficiary) pairs with a per-member cap. */
  capped: Array<{ ruleId: string; memberId: string }>;
} {
  const live = liveAwards(awards);
  return {
    oneOffRules: [...new Set(live.filter((a) => a.oneOff).map((a) => a.ruleId))],
    budgetRules: [...new Set(live.filter((a) => a.caps.totalBudget).map((a) => a.ruleId))].sort(),
    capped: live.filter((a) => CAP_WINDOWS.some((w) => a.caps[w])).map((a) => ({ ruleId: a.ruleId, memberId: a.memberId! })),
  };
}

/** Points left in each rule's total budget, from what it has used. */
export function budgetsLeft(awards: readonly PlannedAward[], rows: ReadonlyArray<{ id: string; budget_used: number }>): Map<string, number> {
  const live = liveAwards(awards);
  const left = new Map<string, number>();
  for (const row of rows) {
    const award = live.find((a) => a.ruleId === row.id)!;
    left.set(row.id, award.caps.totalBudget! - Number(row.budget_used));
  }
  return left;
}

/**
 * Cuts awards to what once-only rules, per-member caps and total budgets leave, counting the
 * awards of this event too: in evaluation order, so the first rule to award is the first to use
 * up a cap. `usage` is updated as awards use it.
 */
export function applyLimits(awards: PlannedAward[], usage: AwardUsage): void {
  const live = liveAwards(awards);
  for (const award of live) if (award.oneOff && usage.onceDone.has(`${award.ruleId}:${award.memberId}`)) limit(award, 0, 'oncePerMember');
  const { budgetLeft, used } = usage;
  for (const award of live) {
    if (award.points === 0) continue;
    const key = `${award.ruleId}:${award.memberId}`;
    const counts = used.get(key) ?? { perMemberPerDay: 0, perMemberPerWeek: 0, perMemberPerMonth: 0, perMemberLifetime: 0 };
    for (const window of CAP_WINDOWS) {
      const cap = award.caps[window];
      if (cap) limit(award, cap - counts[window], window);
    }
    if (award.caps.totalBudget) limit(award, budgetLeft.get(award.ruleId)!, 'totalBudget');
    for (const window of CAP_WINDOWS) counts[window] += award.points;
    used.set(key, counts);
    if (award.caps.totalBudget) budgetLeft.set(award.ruleId, budgetLeft.get(award.ruleId)! - award.points);
  }
}

/** Awards that someone would receive and that still carry points. */
function liveAwards<T extends PlannedAward>(awards: readonly T[]): T[] {
  return awards.filter((a) => a.memberId && a.points > 0);
}

/** Lowers an award to `room` (never below 0) and names the limit that did it. */
function limit(award: PlannedAward, room: number, by: AwardLimit): void {
  const allowed = Math.max(0, room);
  if (award.points > allowed) {
    award.points = allowed;
    award.limitedBy = by;
  }
}

/**
 * The member's tier multiplies what each rule awards them: floor of points × multiplier, before
 * caps (a cap still holds); referrers' awards are not scaled.
 */
export function applyTierMultiplier(awards: PlannedAward[], multiplier: number): void {
  if (multiplier === 1) return;
  for (const award of awards) {
    if (award.referrerLevel !== null) continue;
    award.requestedPoints = Math.floor(Math.round(award.requestedPoints * multiplier * 1000) / 1000);
    award.points = award.requestedPoints;
  }
}
