import type { Database, UnitOfWork } from '../../db/database';
import type { Queryable } from '../../db/statement';
import { CauseType } from '../../entities/ledger-entry';
import { badInput } from '../../errors';
import { evaluateRules, type EvaluationResult, type Rule, type RuleContext } from '../../rules';
import { AccountBook, lotTimes, type Cause } from '../ledger';
import {
  applyLimits,
  applyTierMultiplier,
  assignBeneficiaries,
  budgetsLeft,
  payingReferrers,
  plannedAwards,
  referrerLevels,
  usageNeeded,
  type AwardUsage,
  type CapWindow,
  type PlannedAward,
} from './award-planner';
import { withdrawal, type Earning, type EarningRequest, type WithdrawnPart } from './earning-port';
import * as store from './earning-store';
import type { AwardPart, DetailedEarningOutcome, LimitedAward, RuleAwardRecord, Simulation, SimulationRequest } from './earning-types';
import { pgArray, type DomainHooks } from '../shared';
import { lockReferrerAccounts, type ReferrerResolver } from './referrers';
import type { RuleService } from './rule-service';

/** What earning needs of the member's tier: its code (the memberTier condition) and its earn multiplier. */
export interface TierLookup {
  memberTier(db: Queryable, programId: string, memberId: string, now: Date): Promise<MemberTier | null>;
}

/** The member's tier as the rules see it. */
interface MemberTier {
  code: string;
  earnMultiplier: number;
}

interface Subject {
  programId: string;
  memberId: string;
  now: Date;
  timeZone: string;
}

type Spend = { beforeMinor: number; afterMinor: number };
type EventFacts = Pick<EarningRequest, 'trigger' | 'occurredAt' | 'payload' | 'order'>;

/** Nothing credited; a paid order's money may still have been added to the spend. */
const nothingEarned = (spendAddedMinor: number): DetailedEarningOutcome => ({ entries: [], memberPoints: 0, awards: [], limited: [], spendAddedMinor });

/** The awards a limit cut, as the caller reports them. */
const limitedOf = (awards: readonly PlannedAward[]): LimitedAward[] =>
  awards.flatMap(({ ruleId, ruleVersionId, version, ruleName, referrerLevel, memberId, requestedPoints, points, limitedBy }) =>
    limitedBy ? [{ ruleId, ruleVersionId, version, ruleName, referrerLevel, memberId, requestedPoints, points, limitedBy }] : []);

/**
 * The Earning port: puts one event or paid order through the program's active rules inside the
 * caller's transaction and credits what they award, within the rules' caps. The steps: claim the
 * source (once per source), add a paid order to the cumulative spend, evaluate, plan the awards
 * and their beneficiaries ({@link plannedAwards}), lock the beneficiaries' accounts, cut the
 * awards to their limits ({@link applyLimits}), write entries, awards and budgets.
 *
 * Concurrency: per-member caps and once-only rules are counted under the beneficiary's account
 * lock; a total budget under its rule row's lock (taken after every account lock, in id order).
 * Accounts are locked in the one order of {@link lockReferrerAccounts}.
 */
export class EarningService implements Earning {
  constructor(
    private readonly db: Database,
    private readonly rules: RuleService,
    private readonly referrers: ReferrerResolver,
    private readonly tiers?: TierLookup,
  ) {}

  async earn(tx: UnitOfWork, book: AccountBook, request: EarningRequest): Promise<DetailedEarningOutcome> {
    const { programId, memberId } = book.state;
    const now = book.now;
    const paidMinor = request.order ? checkedSpend(request.order.totalMinor) : null;
    // One source is put through the rules once: a retried order or event finds its claim and stops.
    // The member's tier, which the rules see, is read beside the claim: one round trip for both.
    const [[claim], tier] = await Promise.all([
      tx.run(store.claimForRules, [programId, request.source.type, request.source.id, memberId, now, paidMinor]),
      this.tierOf(tx, programId, memberId, now),
    ]);
    if (!claim!.claimed) return nothingEarned(0);
    const spend = paidMinor === null ? null : spendUpTo(Number(claim!.paid_minor), paidMinor);
    const spendAddedMinor = paidMinor ?? 0;
    const rules = (await this.rules.activeRules(programId, tx)).filter((rule) => rule.definition.trigger === request.trigger);
    if (rules.length === 0) return nothingEarned(spendAddedMinor);

    const { awards, subject } = await this.plan(tx, { programId, memberId, now }, request, spend, rules, false, { member: claim!, tier });
    if (awards.length === 0) return nothingEarned(spendAddedMinor);
    const books = await this.openBeneficiaries(tx, book, awards);
    applyLimits(awards, await this.usage(tx, subject, awards, true));

    const memberWrittenBefore = book.written.length;
    const written = await this.write(tx, subject, request.source, books, awards);
    const entries = [
      ...book.written.slice(memberWrittenBefore),
      ...[...books.values()].filter((b) => b !== book).flatMap((b) => b.written),
    ];
    return {
      entries,
      memberPoints: written.filter((a) => a.referrerLevel === null).reduce((sum, a) => sum + a.points, 0),
      awards: written,
      limited: limitedOf(awards),
      spendAddedMinor,
    };
  }

  async addSpend(tx: UnitOfWork, book: AccountBook, minor: number): Promise<number> {
    await this.recordSpend(tx, book.state.programId, book.state.memberId, minor, book.now);
    return minor;
  }

  async returnSpend(tx: UnitOfWork, book: AccountBook, minor: number): Promise<void> {
    if (!Number.isSafeInteger(minor) || minor < 0) throw new RangeError(`returnSpend: ${minor} is not a whole amount of minor units`);
    if (minor === 0) return;
    tx.write(store.returnSpend, [minor, book.now, book.state.memberId]);
  }

  /** An award reversed with reverseEntry gives its rules back what the reversal took, as a cancelled order's does. */
  subscribe(hooks: DomainHooks): void {
    hooks.on('ledger.accrual_reversed', async (tx, e) => {
      const parts = await tx.run(store.awardPartsOf, [e.payload.entryId]);
      if (parts.length === 0) return;
      const toWithdraw = parts.map((p) => ({ ruleVersionId: p.rule_version_id, upTo: Number(p.points), withdrawn: Number(p.withdrawn) }));
      await this.withdraw(tx, withdrawal(e.payload.entryId, toWithdraw, e.payload.recovered));
    });
  }

  async withdraw(tx: UnitOfWork, parts: WithdrawnPart[]): Promise<void> {
    const given = parts.filter((p) => p.points > 0).map((p) => ({ entry_id: p.entryId, rule_version_id: p.ruleVersionId, points: p.points }));
    if (given.length === 0) return;
    const changed = (await tx.run(store.withdrawAwards, [JSON.stringify(given)])).filter((r) => r.budgeted);
    if (changed.length === 0) return;
    // Budget rows are locked in id order, after every account lock, as when the points were awarded.
    await tx.run(store.lockBudgets, [[...new Set(changed.map((r) => r.rule_id))]]);
    tx.write(store.addBudgetUsed, [changed.map((r) => r.rule_id), changed.map((r) => -Number(r.points))]);
  }

  async preview(programId: string, memberId: string, request: Omit<EarningRequest, 'source'>, now: Date): Promise<{ memberPoints: number }> {
    const { memberPoints } = await this.simulate(programId, { ...request, memberId, now }, 'active');
    return { memberPoints };
  }

  /**
   * Which rules and rule versions gave each entry its points, per entry id asked (none for an
   * entry no rule wrote): an entry carries all of one beneficiary's awards for an event or order.
   */
  async awardBreakdowns(programId: string, entryIds: readonly number[]): Promise<AwardPart[][]> {
    const rows = entryIds.length === 0 ? [] : await this.db.run(store.entryAwards, [pgArray(entryIds), programId]);
    const byEntry = new Map<number, AwardPart[]>();
    for (const r of rows) {
      const part = { ruleId: r.rule_id, ruleVersionId: r.rule_version_id, version: r.version, ruleName: r.rule_name, points: Number(r.points) };
      byEntry.set(Number(r.entry_id), [...(byEntry.get(Number(r.entry_id)) ?? []), part]);
    }
    return entryIds.map((id) => byEntry.get(id) ?? []);
  }

  /**
   * What `earn` would do for this event now, reading the same counts but writing nothing and
   * taking no locks. By default drafts and paused rules are included, reported as not active;
   * `'active'` reads only the active rules (from the cache `earn` uses).
   */
  async simulate(programId: string, request: SimulationRequest, ruleSet: 'all' | 'active' = 'all'): Promise<Simulation> {
    const db = this.db;
    const [spendRow] = request.order ? await db.run(store.readSpend, [request.memberId]) : [];
    const before = Number(spendRow?.paid_minor ?? 0);
    const spend = request.order ? { beforeMinor: before, afterMinor: before + request.order.totalMinor } : null;
    const candidates = ruleSet === 'active' ? await this.rules.activeRules(programId) : await this.rules.rulesForSimulation(programId);
    const { evaluation, awards, subject } = await this.plan(
      db,
      { programId, memberId: request.memberId, now: request.now },
      request,
      spend,
      candidates,
      true,
    );
    applyLimits(awards, await this.usage(db, subject, awards, false));
    const byId = new Map(candidates.map((rule) => [rule.id, rule]));
    const sum = (list: PlannedAward[]) => list.reduce((total, award) => total + award.points, 0);
    return {
      rules: evaluation.results.map((result) => {
        const rule = byId.get(result.ruleId)!;
        return {
          ruleId: rule.id,
          ruleVersionId: rule.versionId,
          version: rule.version,
          ruleName: rule.name,
          status: rule.definition.status,
          matched: result.matched,
          reason: result.reason ?? null,
          awards: awards.filter((award) => award.ruleId === rule.id),
        };
      }),
      memberPoints: sum(awards.filter((a) => a.referrerLevel === null)),
      referrerPoints: sum(awards.filter((a) => a.referrerLevel !== null)),
    };
  }

  /**
   * The rules' awards for this event, each with its beneficiary, before caps. A dry run's order
   * comes from a client, so a malformed one is BAD_USER_INPUT there (a bug anywhere else).
   */
  private async plan(
    db: Queryable,
    who: Omit<Subject, 'timeZone'>,
    request: EventFacts,
    spend: Spend | null,
    rules: Rule[],
    dryRun: boolean,
    /** The member and their tier, read already (by `earn`, with its claim). */
    known?: { member: store.RuleSubjectRow; tier: MemberTier | null },
  ): Promise<{ evaluation: EvaluationResult; awards: PlannedAward[]; subject: Subject }> {
    // The rules see the member's tier (memberTier); its multiplier scales the member's awards.
    const [context, tier] = await Promise.all([
      this.context(db, who.memberId, who.now, request, spend, known?.member),
      known ? known.tier : this.tierOf(db, who.programId, who.memberId, who.now),
    ]);
    context.member.tierCode = tier?.code ?? null;
    let evaluation: EvaluationResult;
    try {
      evaluation = evaluateRules(rules, context);
    } catch (error) {
      if (dryRun && error instanceof TypeError) throw badInput(error.message, { field: 'order' });
      throw error;
    }
    const awards = plannedAwards(rules, evaluation);
    if (tier) applyTierMultiplier(awards, tier.earnMultiplier);
    const referrerAt = new Map<number, string | null>();
    for (const level of referrerLevels(awards)) referrerAt.set(level, await this.referrers.referrerOf(db, who.programId, who.memberId, level));
    assignBeneficiaries(awards, who.memberId, referrerAt);
    return { evaluation, awards, subject: { ...who, timeZone: context.timeZone } };
  }

  /** The books of the awards' beneficiaries: the member's, open already, and the referrers', locked as {@link lockReferrerAccounts} says. */
  private async openBeneficiaries(tx: UnitOfWork, book: AccountBook, awards: PlannedAward[]): Promise<Map<string, AccountBook>> {
    const { programId, memberId } = book.state;
    const referrers = payingReferrers(awards, memberId);
    await lockReferrerAccounts(tx, programId, referrers);
    const books = new Map<string, AccountBook>([[memberId, book]]);
    for (const referrer of referrers.sort((a, b) => a.level - b.level)) {
      if (!books.has(referrer.memberId)) books.set(referrer.memberId, await AccountBook.open(tx, programId, { id: referrer.memberId }, book.now));
    }
    return books;
  }

  private async recordSpend(tx: Queryable, programId: string, memberId: string, paidMinor: number, now: Date): Promise<Spend> {
    checkedSpend(paidMinor);
    const [row] = await tx.run(store.addSpend, [memberId, programId, paidMinor, now]);
    return spendUpTo(Number(row!.paid_minor), paidMinor);
  }

  private async tierOf(db: Queryable, programId: string, memberId: string, now: Date): Promise<MemberTier | null> {
    return this.tiers ? this.tiers.memberTier(db, programId, memberId, now) : null;
  }

  private async context(
    db: Queryable,
    memberId: string,
    now: Date,
    request: EventFacts,
    cumulativeSpend: Spend | null,
    subject?: store.RuleSubjectRow,
  ): Promise<RuleContext> {
    const row = subject ?? (await db.run(store.readRuleSubject, [memberId]))[0];
    return {
      now,
      timeZone: row!.time_zone,
      pointValueMinor: row!.point_value_minor,
      event: { type: request.trigger, occurredAt: request.occurredAt, payload: request.payload ?? {} },
      member: {
        id: row!.id,
        tags: row!.tags ?? [],
        registeredAt: new Date(row!.registered_at),
        birthday: row!.birthday,
        tierCode: null,
        attributes: row!.attributes ?? {},
        cumulativeSpend,
      },
      order: request.order,
    };
  }

  /**
   * What the awards' limits have used: once-only awards, budgets and per-member cap windows (in
   * the program's time zone). With `lock`, budget rows are locked (in id order) so concurrent
   * earnings across members cannot overspend them.
   */
  private async usage(db: Queryable, subject: Subject, awards: PlannedAward[], lock: boolean): Promise<AwardUsage> {
    const { oneOffRules, budgetRules, capped } = usageNeeded(awards);
    const onceDone = new Set<string>();
    if (oneOffRules.length > 0) {
      for (const r of await db.run(store.onceOnlyAwards, [subject.memberId, oneOffRules])) onceDone.add(`${r.rule_id}:${r.member_id}`);
    }
    const budgetRows = budgetRules.length > 0 ? await db.run(lock ? store.lockBudgets : store.readBudgets, [budgetRules]) : [];
    const used = new Map<string, Record<CapWindow, number>>();
    if (capped.length > 0) {
      const rows = await db.run(store.capUsage, [subject.timeZone, subject.now, capped.map((c) => c.ruleId), capped.map((c) => c.memberId)]);
      for (const r of rows) {
        used.set(`${r.rule_id}:${r.member_id}`, { perMemberPerDay: r.day, perMemberPerWeek: r.week, perMemberPerMonth: r.month, perMemberLifetime: r.lifetime });
      }
    }
    return { onceDone, budgetLeft: budgetsLeft(awards, budgetRows), used };
  }

  /**
   * One entry per beneficiary, carrying all of its rules' awards: its lots split only where the
   * awards' lifetimes or delays differ; a single rule's entry names its rule version, as before,
   * and the rule_award rows (one per rule and beneficiary, each naming its entry, written in the
   * entry's statement) say which rule and version gave what. Then the budgets the awards used.
   * Beneficiaries are written in the order their first award comes, so entry ids ascend in
   * evaluation order.
   */
  private async write(
    tx: Queryable,
    subject: Subject,
    source: EarningRequest['source'],
    books: Map<string, AccountBook>,
    awards: PlannedAward[],
  ): Promise<RuleAwardRecord[]> {
    const paying = awards.filter((a) => a.points > 0 && a.memberId);
    if (paying.length === 0) return [];
    // A referrer's award for an order vests after the referee's return window.
    const vestingDays = source.type === 'order' && paying.some((a) => a.referrerLevel !== null)
      ? (await this.referrers.vestingDays?.(tx, subject.programId)) ?? null
      : null;
    const byBeneficiary = new Map<string, PlannedAward[]>();
    for (const award of paying) byBeneficiary.set(award.memberId!, [...(byBeneficiary.get(award.memberId!) ?? []), award]);
    const oneOff = new Set(awards.filter((a) => a.oneOff).map((a) => a.ruleId));
    const written: RuleAwardRecord[] = [];
    for (const [memberId, own] of byBeneficiary) {
      const book = books.get(memberId)!;
      const [entry] = await book.accrueAll([{
        cause: entryCause(own, source),
        source: { memberId: subject.memberId, type: source.type, id: source.id },
        parts: own.map((award) => ({
          points: award.points,
          // The rule's delay and lifetime, else the program's pending period and default lifetime.
          ...lotTimes(book, vested(award, vestingDays, book.policy.pendingDays)),
          rule: { ruleId: award.ruleId, ruleVersionId: award.ruleVersionId, referrerLevel: award.referrerLevel, oneOff: oneOff.has(award.ruleId) },
        })),
      }]);
      for (const award of own) {
        written.push({
          ruleId: award.ruleId,
          ruleVersionId: award.ruleVersionId,
          version: award.version,
          ruleName: award.ruleName,
          memberId,
          referrerLevel: award.referrerLevel,
          points: award.points,
          entry: entry!,
        });
      }
    }

    const budgeted = written.filter((a) => awards.find((p) => p.ruleId === a.ruleId)?.caps.totalBudget);
    if (budgeted.length > 0) await tx.run(store.addBudgetUsed, [budgeted.map((a) => a.ruleId), budgeted.map((a) => a.points)]);
    return written;
  }
}

/**
 * The cause of a beneficiary's entry: its rule and version when one rule gave it all; for
 * several, no single rule (their rule_award rows break it down) and their names as the reason.
 */
function entryCause(awards: readonly PlannedAward[], source: EarningRequest['source']): Cause {
  const single = awards.length === 1 ? awards[0]! : null;
  return {
    type: CauseType.RULE,
    id: single?.ruleId ?? null,
    ruleVersionId: single?.ruleVersionId ?? null,
    reason: awards.map((a) => a.ruleName).join(', '),
    // An order's awards move only with the order.
    owner: source.type === 'order' ? { type: 'order', id: source.id } : null,
  };
}

/** A paid order's money, as the cumulative spend takes it: a whole, non-negative number of minor units. */
function checkedSpend(paidMinor: number): number {
  if (!Number.isSafeInteger(paidMinor) || paidMinor < 0) throw badInput('order.totalMinor must be a non-negative integer');
  return paidMinor;
}

/** A referrer's award waits at least `vestingDays` (when set) before it becomes available. */
function vested(award: PlannedAward, vestingDays: number | null, pendingDays: number): PlannedAward {
  if (award.referrerLevel === null || vestingDays === null) return award;
  return { ...award, delayDays: Math.max(award.delayDays ?? pendingDays, vestingDays) };
}

/** The member's cumulative spend before and after a payment that brought it to `afterMinor`. */
function spendUpTo(afterMinor: number, paidMinor: number): Spend {
  return { beforeMinor: afterMinor - paidMinor, afterMinor };
}
