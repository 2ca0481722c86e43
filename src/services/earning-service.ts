import type { Database, Sql } from '../db/database';
import { CauseType } from '../entities/ledger-entry';
import { badInput } from '../errors';
import {
  evaluateRules,
  type EvaluationResult,
  type MismatchReason,
  type Rule,
  type RuleCaps,
  type RuleContext,
  type RuleDefinition,
} from '../rules';
import { AccountBook, type EntryRecord } from './account-book';
import type { Earning, EarningOutcome, EarningRequest } from './earning';
import { lotTimes } from './ledger-service';
import { pgArray } from './sql';
import type { RuleService } from './rule-service';

/**
 * Finds a member's referrer `level` steps up the referral tree (1 = the direct referrer).
 * Implemented by the referrals module (services/referrals: its closure table).
 */
export interface ReferrerResolver {
  referrerOf(tx: Sql, programId: string, memberId: string, level: number): Promise<string | null>;
  /** Referrals: days a referrer's award for an order stays pending (the return window); null = the usual. */
  vestingDays?(tx: Sql, programId: string): Promise<number | null>;
}

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

/** An award written to the ledger. */
export interface RuleAwardRecord {
  ruleId: string;
  ruleVersionId: string;
  version: number;
  ruleName: string;
  memberId: string;
  referrerLevel: number | null;
  points: number;
  entry: EntryRecord;
}

export interface DetailedEarningOutcome extends EarningOutcome {
  awards: RuleAwardRecord[];
}

/** A dry run's answer for one rule. */
export interface RuleSimulation {
  ruleId: string;
  ruleVersionId: string;
  version: number;
  ruleName: string;
  status: RuleDefinition['status'];
  matched: boolean;
  reason: MismatchReason | null;
  awards: PlannedAward[];
}

export interface Simulation {
  rules: RuleSimulation[];
  memberPoints: number;
  referrerPoints: number;
}

export interface SimulationRequest {
  trigger: string;
  memberId: string;
  occurredAt: Date;
  payload: Record<string, unknown>;
  order?: RuleContext['order'];
  now: Date;
}

interface Subject {
  programId: string;
  memberId: string;
  now: Date;
  timeZone: string;
}

const CAP_WINDOWS = ['perMemberPerDay', 'perMemberPerWeek', 'perMemberPerMonth', 'perMemberLifetime'] as const;
type CapWindow = (typeof CAP_WINDOWS)[number];

/** Nothing credited; a paid order's money may still have been added to the spend. */
const nothingEarned = (spendAddedMinor: number): DetailedEarningOutcome => ({ entries: [], memberPoints: 0, awards: [], spendAddedMinor });

/**
 * The lock order of every write that touches several accounts — earning for an event or an
 * order, taking an order's awards back: first the account of the member whose event or order
 * it is (AccountBook.open locks it), then their referrers' accounts, nearest first, up the
 * referral tree, all in this one statement, before anything is written to them. A referrer is
 * bound once, at registration, to a member who already exists, so the tree has no cycles and
 * every such write locks along one path upwards: two of them never wait on each other in a
 * circle. (The referrers in id order would not do, because the member comes first: cancelling
 * A's order would lock A, R2, R1 when R2's id is the lower, while R1 paying an order of its own
 * locks R1, then R2.)
 */
export async function lockReferrerAccounts(
  tx: Sql,
  programId: string,
  referrers: ReadonlyArray<{ memberId: string; level: number }>,
): Promise<void> {
  if (referrers.length === 0) return;
  const seen = new Set<string>();
  const upwards = [...referrers].sort((a, b) => a.level - b.level).filter((r) => !seen.has(r.memberId) && seen.add(r.memberId));
  await tx.execute(
    `select a.id from account a join unnest(?::uuid[], ?::int[]) as r(member_id, level) on r.member_id = a.member_id
     where a.program_id = ? order by r.level for update of a`,
    [pgArray(upwards.map((r) => r.memberId)), pgArray(upwards.map((r) => r.level)), programId],
  );
}

/**
 * The Earning port: puts one event or paid order through the program's active rules inside the
 * caller's transaction and credits what they award, within the rules' caps.
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
  ) {}

  async earn(tx: Sql, book: AccountBook, request: EarningRequest): Promise<DetailedEarningOutcome> {
    const { programId, memberId } = book.state;
    const now = book.now;
    if (!(await this.claimSource(tx, programId, memberId, request, now))) return nothingEarned(0);
    const spend = request.order ? await this.addSpend(tx, programId, memberId, request.order.totalMinor, now) : null;
    const spendAddedMinor = spend ? spend.afterMinor - spend.beforeMinor : 0;
    const rules = (await this.rules.activeRules(programId)).filter((rule) => rule.definition.trigger === request.trigger);
    if (rules.length === 0) return nothingEarned(spendAddedMinor);

    const { awards, subject } = await this.plan(tx, { programId, memberId, now }, request, spend, rules, false);
    if (awards.length === 0) return nothingEarned(spendAddedMinor);
    const books = await this.openBeneficiaries(tx, book, awards);
    await this.applyLimits(tx, subject, awards, true);

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
      spendAddedMinor,
    };
  }

  async returnSpend(tx: Sql, book: AccountBook, minor: number): Promise<void> {
    if (!Number.isSafeInteger(minor) || minor < 0) throw new RangeError(`returnSpend: ${minor} is not a whole amount of minor units`);
    if (minor === 0) return;
    await tx.execute('update member_spend set paid_minor = paid_minor - ?, updated_at = ? where member_id = ?', [
      minor,
      book.now,
      book.state.memberId,
    ]);
  }

  async preview(programId: string, memberId: string, request: Omit<EarningRequest, 'source'>, now: Date): Promise<{ memberPoints: number }> {
    const { memberPoints } = await this.simulate(programId, { ...request, memberId, now }, 'active');
    return { memberPoints };
  }

  /**
   * What `earn` would do for this event now, reading the same counts but writing nothing and
   * taking no locks. By default drafts and paused rules are included, reported as not active;
   * `'active'` reads only the active rules (from the cache `earn` uses).
   */
  async simulate(programId: string, request: SimulationRequest, ruleSet: 'all' | 'active' = 'all'): Promise<Simulation> {
    const db = this.db;
    const [spendRow] = request.order
      ? await db.execute('select paid_minor from member_spend where member_id = ?', [request.memberId])
      : [];
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
    await this.applyLimits(db, subject, awards, false);
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
    db: Sql,
    who: Omit<Subject, 'timeZone'>,
    request: Pick<EarningRequest, 'trigger' | 'occurredAt' | 'payload' | 'order'>,
    spend: { beforeMinor: number; afterMinor: number } | null,
    rules: Rule[],
    dryRun: boolean,
  ): Promise<{ evaluation: EvaluationResult; awards: PlannedAward[]; subject: Subject }> {
    const context = await this.context(db, who.memberId, who.now, request, spend);
    let evaluation: EvaluationResult;
    try {
      evaluation = evaluateRules(rules, context);
    } catch (error) {
      if (dryRun && error instanceof TypeError) throw badInput(error.message, { field: 'order' });
      throw error;
    }
    const awards = plannedAwards(rules, evaluation);
    await this.resolveBeneficiaries(db, who.programId, who.memberId, awards);
    return { evaluation, awards, subject: { ...who, timeZone: context.timeZone } };
  }

  /** The books of the awards' beneficiaries: the member's, open already, and the referrers', locked as {@link lockReferrerAccounts} says. */
  private async openBeneficiaries(tx: Sql, book: AccountBook, awards: PlannedAward[]): Promise<Map<string, AccountBook>> {
    const { programId, memberId } = book.state;
    const referrers = awards
      .filter((a) => a.memberId && a.memberId !== memberId && a.referrerLevel !== null)
      .map((a) => ({ memberId: a.memberId!, level: a.referrerLevel! }));
    await lockReferrerAccounts(tx, programId, referrers);
    const books = new Map<string, AccountBook>([[memberId, book]]);
    for (const referrer of referrers.sort((a, b) => a.level - b.level)) {
      if (!books.has(referrer.memberId)) books.set(referrer.memberId, await AccountBook.open(tx, programId, { id: referrer.memberId }, book.now));
    }
    return books;
  }

  /** One source is put through the rules once: a retried order or event finds its claim and stops. */
  private async claimSource(tx: Sql, programId: string, memberId: string, request: EarningRequest, now: Date) {
    const claimed = await tx.execute(
      `insert into earned_source (program_id, source_type, source_id, member_id, created_at) values (?, ?, ?, ?, ?)
       on conflict do nothing returning 1`,
      [programId, request.source.type, request.source.id, memberId, now],
    );
    return claimed.length > 0;
  }

  private async addSpend(tx: Sql, programId: string, memberId: string, paidMinor: number, now: Date) {
    if (!Number.isSafeInteger(paidMinor) || paidMinor < 0) throw badInput('order.totalMinor must be a non-negative integer');
    const [row] = await tx.execute(
      `insert into member_spend (member_id, program_id, paid_minor, updated_at) values (?, ?, ?, ?)
       on conflict (member_id) do update set paid_minor = member_spend.paid_minor + excluded.paid_minor, updated_at = excluded.updated_at
       returning paid_minor`,
      [memberId, programId, paidMinor, now],
    );
    const afterMinor = Number(row.paid_minor);
    return { beforeMinor: afterMinor - paidMinor, afterMinor };
  }

  private async context(
    db: Sql,
    memberId: string,
    now: Date,
    request: Pick<EarningRequest, 'trigger' | 'occurredAt' | 'payload' | 'order'>,
    cumulativeSpend: { beforeMinor: number; afterMinor: number } | null,
  ): Promise<RuleContext> {
    const [row] = await db.execute(
      `select m.id, m.tags, m.registered_at, to_char(m.birthday, 'YYYY-MM-DD') as birthday, m.attributes,
         p.time_zone, p.point_value_minor
       from member m join program p on p.id = m.program_id where m.id = ?`,
      [memberId],
    );
    return {
      now,
      timeZone: row.time_zone,
      pointValueMinor: row.point_value_minor,
      event: { type: request.trigger, occurredAt: request.occurredAt, payload: request.payload ?? {} },
      member: {
        id: row.id,
        tags: row.tags ?? [],
        registeredAt: new Date(row.registered_at),
        birthday: row.birthday,
        tierCode: null,
        attributes: row.attributes ?? {},
        cumulativeSpend,
      },
      order: request.order,
    };
  }

  private async resolveBeneficiaries(db: Sql, programId: string, memberId: string, awards: PlannedAward[]) {
    const levels = [...new Set(awards.map((a) => a.referrerLevel).filter((l): l is number => l !== null))].sort((a, b) => a - b);
    const referrerAt = new Map<number, string | null>();
    for (const level of levels) referrerAt.set(level, await this.referrers.referrerOf(db, programId, memberId, level));
    for (const award of awards) {
      award.memberId = award.referrerLevel === null ? memberId : referrerAt.get(award.referrerLevel) ?? null;
      if (!award.memberId) limit(award, 0, 'noReferrer');
    }
  }

  /**
   * Cuts awards to what once-only rules, per-member caps (calendar windows in the program's time
   * zone) and total budgets leave, counting the awards of this event too. With `lock`, budget
   * rows are locked (in id order) so concurrent earnings across members cannot overspend them.
   */
  private async applyLimits(db: Sql, subject: Subject, awards: PlannedAward[], lock: boolean): Promise<void> {
    const live = awards.filter((a) => a.memberId && a.points > 0);
    if (live.length === 0) return;

    const oneOffRules = [...new Set(live.filter((a) => a.oneOff).map((a) => a.ruleId))];
    if (oneOffRules.length > 0) {
      const rows = await db.execute(
        `select rule_id, member_id from rule_award where source_member_id = ? and one_off and rule_id = any(?::uuid[])`,
        [subject.memberId, `{${oneOffRules.join(',')}}`],
      );
      const done = new Set(rows.map((r: any) => `${r.rule_id}:${r.member_id}`));
      for (const award of live) if (award.oneOff && done.has(`${award.ruleId}:${award.memberId}`)) limit(award, 0, 'oncePerMember');
    }

    const budgetRules = [...new Set(live.filter((a) => a.caps.totalBudget).map((a) => a.ruleId))].sort();
    const budgetLeft = new Map<string, number>();
    if (budgetRules.length > 0) {
      const rows = await db.execute(
        `select id, budget_used from rule where id = any(?::uuid[]) order by id${lock ? ' for update' : ''}`,
        [`{${budgetRules.join(',')}}`],
      );
      for (const row of rows) {
        const award = live.find((a) => a.ruleId === row.id)!;
        budgetLeft.set(row.id, award.caps.totalBudget! - Number(row.budget_used));
      }
    }

    const capped = live.filter((a) => CAP_WINDOWS.some((w) => a.caps[w]));
    const used = new Map<string, Record<CapWindow, number>>();
    if (capped.length > 0) {
      const rows = await db.execute(
        `with windows as (
           select date_trunc('day', ?::timestamptz at time zone ?) at time zone ? as day,
                  date_trunc('week', ?::timestamptz at time zone ?) at time zone ? as week,
                  date_trunc('month', ?::timestamptz at time zone ?) at time zone ? as month
         )
         select a.rule_id, a.member_id,
           coalesce(sum(a.points) filter (where a.awarded_at >= w.day), 0) as day,
           coalesce(sum(a.points) filter (where a.awarded_at >= w.week), 0) as week,
           coalesce(sum(a.points) filter (where a.awarded_at >= w.month), 0) as month,
           coalesce(sum(a.points), 0) as lifetime
         from rule_award a cross join windows w
         where (a.rule_id, a.member_id) in (select * from unnest(?::uuid[], ?::uuid[]))
         group by a.rule_id, a.member_id`,
        [
          ...[0, 1, 2].flatMap(() => [subject.now, subject.timeZone, subject.timeZone]),
          `{${capped.map((a) => a.ruleId).join(',')}}`,
          `{${capped.map((a) => a.memberId).join(',')}}`,
        ],
      );
      for (const r of rows) {
        used.set(`${r.rule_id}:${r.member_id}`, {
          perMemberPerDay: Number(r.day),
          perMemberPerWeek: Number(r.week),
          perMemberPerMonth: Number(r.month),
          perMemberLifetime: Number(r.lifetime),
        });
      }
    }

    // In evaluation order, so the first rule to award is the first to use up a cap.
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

  private async write(
    tx: Sql,
    subject: Subject,
    source: EarningRequest['source'],
    books: Map<string, AccountBook>,
    awards: PlannedAward[],
  ): Promise<RuleAwardRecord[]> {
    const written: RuleAwardRecord[] = [];
    const paying = awards.filter((a) => a.points > 0 && a.memberId);
    // Referrals: a referrer's award for an order vests after the referee's return window.
    const vestingDays = source.type === 'order' && paying.some((a) => a.referrerLevel !== null)
      ? (await this.referrers.vestingDays?.(tx, subject.programId)) ?? null
      : null;
    // Each award is its own entry and lot, naming its rule version. A run of awards in a row for
    // the same beneficiary is written in one statement, in the same order, so entry ids ascend
    // in evaluation order as before.
    for (let from = 0; from < paying.length; ) {
      let to = from + 1;
      while (to < paying.length && paying[to]!.memberId === paying[from]!.memberId) to++;
      const run = paying.slice(from, to);
      const book = books.get(run[0]!.memberId!)!;
      const entries = await book.accrueAll(
        run.map((award) => {
          // The rule's delay and lifetime, else the program's pending period and default lifetime.
          const { availableAt, expiresAt } = lotTimes(book, vested(award, vestingDays, book.policy.pendingDays));
          return {
            points: award.points,
            availableAt,
            expiresAt,
            cause: { type: CauseType.RULE, id: award.ruleId, ruleVersionId: award.ruleVersionId, reason: award.ruleName },
          };
        }),
      );
      run.forEach((award, i) =>
        written.push({
          ruleId: award.ruleId,
          ruleVersionId: award.ruleVersionId,
          version: award.version,
          ruleName: award.ruleName,
          memberId: award.memberId!,
          referrerLevel: award.referrerLevel,
          points: award.points,
          entry: entries[i]!,
        }),
      );
      from = to;
    }
    if (written.length === 0) return written;

    const oneOff = new Set(awards.filter((a) => a.oneOff).map((a) => a.ruleId));
    const rows = written.map((a) => [
      subject.programId, a.ruleId, a.ruleVersionId, a.memberId, books.get(a.memberId)!.state.id, subject.memberId,
      a.referrerLevel, a.points, source.type, source.id, oneOff.has(a.ruleId), subject.now, a.entry.id,
    ]);
    await tx.execute(
      `insert into rule_award (program_id, rule_id, rule_version_id, member_id, account_id, source_member_id, referrer_level,
         points, source_type, source_id, one_off, awarded_at, entry_id)
       values ${rows.map(() => '(?, ?, ?, ?, ?, ?, ?::int, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      rows.flat(),
    );

    const budgeted = written.filter((a) => awards.find((p) => p.ruleId === a.ruleId)?.caps.totalBudget);
    if (budgeted.length > 0) {
      await tx.execute(
        `update rule set budget_used = budget_used + u.points
         from (select id, sum(points) as points from unnest(?::uuid[], ?::bigint[]) as t(id, points) group by id) u
         where rule.id = u.id`,
        [`{${budgeted.map((a) => a.ruleId).join(',')}}`, `{${budgeted.map((a) => a.points).join(',')}}`],
      );
    }
    return written;
  }
}

/** Referrals: a referrer's award waits at least `vestingDays` (when set) before it becomes available. */
function vested(award: PlannedAward, vestingDays: number | null, pendingDays: number): PlannedAward {
  if (award.referrerLevel === null || vestingDays === null) return award;
  return { ...award, delayDays: Math.max(award.delayDays ?? pendingDays, vestingDays) };
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
 * One award per rule and beneficiary, in evaluation order: a rule's actions for the same person
 * become one ledger entry (they share the rule's lifetime, delay and caps).
 */
function plannedAwards(rules: Rule[], evaluation: EvaluationResult): PlannedAward[] {
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
