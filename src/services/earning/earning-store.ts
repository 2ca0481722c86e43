import { statement } from '../../db/statement';

/**
 * The earning module's SQL: what it reads to evaluate rules (the member, the program, the
 * cumulative spend, the referral tree, what caps and budgets have used) and what it writes
 * (claimed sources, the spend, budgets). Tables written here: earned_source, member_spend and
 * rule.budget_used; rule_award rows go with their entries (see AccountBook.accrueAll). Arrays
 * travel as PostgreSQL arrays.
 */

// ── Sources and cumulative spend ─────────────────────────────────────────────

/** A RuleSubjectRow's columns and tables: every statement that reads the member for the rules says the same. */
const RULE_SUBJECT = `m.id, m.tags, m.registered_at, to_char(m.birthday, 'YYYY-MM-DD') as birthday, m.attributes,
     p.time_zone, p.point_value_minor
   from member m join program p on p.id = m.program_id`;

/**
 * What `earn` starts with, in one statement: claims the source (no rule runs twice for it), adds
 * a paid order's money (`paidMinor`, null for an event) to the member's cumulative spend when
 * the claim is new, and reads the member the rules are evaluated for. `claimed` false: the
 * source was claimed before, and nothing was added.
 */
export const claimForRules = statement<
  [programId: string, sourceType: string, sourceId: string, memberId: string, now: Date, paidMinor: number | null],
  RuleSubjectRow & { claimed: boolean; paid_minor: number | null }
>(
  'earning.claim_for_rules',
  `with c as (
     insert into earned_source (program_id, source_type, source_id, member_id, created_at) values ($1, $2, $3, $4, $5)
     on conflict do nothing returning 1
   ), s as (
     insert into member_spend (member_id, program_id, paid_minor, updated_at)
     select $4, $1, $6::bigint, $5 where $6::bigint is not null and exists (select 1 from c)
     on conflict (member_id) do update set paid_minor = member_spend.paid_minor + excluded.paid_minor, updated_at = excluded.updated_at
     returning paid_minor
   )
   select exists (select 1 from c) as claimed, (select paid_minor from s) as paid_minor, ${RULE_SUBJECT} where m.id = $4`,
);

/** Adds a paid order's money to the member's cumulative spend; returns the new total. */
export const addSpend = statement<[memberId: string, programId: string, paidMinor: number, now: Date], { paid_minor: number }>(
  'earning.add_spend',
  `insert into member_spend (member_id, program_id, paid_minor, updated_at) values (?, ?, ?, ?)
   on conflict (member_id) do update set paid_minor = member_spend.paid_minor + excluded.paid_minor, updated_at = excluded.updated_at
   returning paid_minor`,
);

/** Money of a cancelled or returned order leaves the cumulative spend. */
export const returnSpend = statement<[minor: number, now: Date, memberId: string]>(
  'earning.return_spend',
  'update member_spend set paid_minor = paid_minor - ?, updated_at = ? where member_id = ?',
);

export const readSpend = statement<[memberId: string], { paid_minor: number }>(
  'earning.read_spend',
  'select paid_minor from member_spend where member_id = ?',
);

// ── What rules see ───────────────────────────────────────────────────────────

export interface RuleSubjectRow {
  id: string;
  tags: string[];
  registered_at: Date;
  /** 'YYYY-MM-DD' */
  birthday: string | null;
  attributes: Record<string, unknown>;
  time_zone: string;
  point_value_minor: number;
}

/** The member a rule is evaluated for, with their program's time zone and point value. */
export const readRuleSubject = statement<[memberId: string], RuleSubjectRow>(
  'earning.read_rule_subject',
  `select ${RULE_SUBJECT} where m.id = ?`,
);

// ── Referrers ────────────────────────────────────────────────────────────────


/** Locks referrers' accounts in the order of the levels given (nearest first); see lockReferrerAccounts. */
export const lockReferrerAccounts = statement<[memberIds: string[], levels: number[], programId: string], { id: string }>(
  'earning.lock_referrer_accounts',
  `select a.id from account a join unnest(?::uuid[], ?::int[]) as r(member_id, level) on r.member_id = a.member_id
   where a.program_id = ? order by r.level for update of a`,
);

// ── What caps, budgets and once-only rules have used ─────────────────────────

/** Once-only rules that already rewarded this source member (for which beneficiaries), with something of the award still standing. */
export const onceOnlyAwards = statement<[sourceMemberId: string, ruleIds: string[]], { rule_id: string; member_id: string }>(
  'earning.once_only_awards',
  'select rule_id, member_id from rule_award where source_member_id = ? and one_off and withdrawn < points and rule_id = any(?::uuid[])',
);

/** What total budgets have used, for a dry run: no lock. */
export const readBudgets = statement<[ruleIds: string[]], { id: string; budget_used: number }>(
  'earning.read_budgets',
  'select id, budget_used from rule where id = any(?::uuid[]) order by id',
);

/** What total budgets have used, locking the rule rows in id order (after every account lock). */
export const lockBudgets = statement<[ruleIds: string[]], { id: string; budget_used: number }>(
  'earning.lock_budgets',
  'select id, budget_used from rule where id = any(?::uuid[]) order by id for update',
);

export interface CapUsageRow {
  rule_id: string;
  member_id: string;
  day: number;
  week: number;
  month: number;
  lifetime: number;
}

/**
 * Points each (rule, beneficiary) pair has been awarded in the current day, week and month of
 * the program's time zone, and ever, less what cancelled orders and returned lines withdrew.
 * Pairs are given as two arrays of the same length; sums are cast back to bigint (read as
 * numbers: points are bounded far below 2^53).
 */
export const capUsage = statement<[timeZone: string, now: Date, ruleIds: string[], memberIds: string[]], CapUsageRow>(
  'earning.cap_usage',
  `with given as (select ?::text as tz, ?::timestamptz as now),
   windows as (
     select date_trunc('day', now at time zone tz) at time zone tz as day,
            date_trunc('week', now at time zone tz) at time zone tz as week,
            date_trunc('month', now at time zone tz) at time zone tz as month
     from given
   )
   select a.rule_id, a.member_id,
     coalesce(sum(a.points - a.withdrawn) filter (where a.awarded_at >= w.day), 0)::bigint as day,
     coalesce(sum(a.points - a.withdrawn) filter (where a.awarded_at >= w.week), 0)::bigint as week,
     coalesce(sum(a.points - a.withdrawn) filter (where a.awarded_at >= w.month), 0)::bigint as month,
     coalesce(sum(a.points - a.withdrawn), 0)::bigint as lifetime
   from rule_award a cross join windows w
   where (a.rule_id, a.member_id) in (select * from unnest(?::uuid[], ?::uuid[]))
   group by a.rule_id, a.member_id`,
);

// ── Awards ───────────────────────────────────────────────────────────────────

// rule_award rows are written with their entry, by the ledger's accrual statement (AccountBook.accrueAll).

/** Adds awarded points to their rules' total budgets, or (negative) gives withdrawn ones back; a rule may appear more than once. */
export const addBudgetUsed = statement<[ruleIds: string[], points: number[]]>(
  'earning.add_budget_used',
  `update rule set budget_used = budget_used + u.points
   from (select id, sum(points) as points from unnest(?::uuid[], ?::bigint[]) as t(id, points) group by id) u
   where rule.id = u.id`,
);

/**
 * Adds withdrawn points to awards' rule parts (a JSON array of { entry_id, rule_version_id,
 * points }; the CHECK keeps a part's withdrawn within its points). Each part: its rule, the
 * points, and whether the version that gave it had a total budget (which then gets them back).
 */
export const withdrawAwards = statement<[parts: string], { rule_id: string; points: number; budgeted: boolean }>(
  'earning.withdraw_awards',
  `update rule_award a set withdrawn = a.withdrawn + x.points
   from jsonb_to_recordset(?::jsonb) as x(entry_id bigint, rule_version_id uuid, points bigint)
   where a.entry_id = x.entry_id and a.rule_version_id = x.rule_version_id
   returning a.rule_id, x.points,
     coalesce((select (v.definition -> 'caps' ->> 'totalBudget')::numeric > 0 from rule_version v where v.id = a.rule_version_id), false) as budgeted`,
);

/** One entry's rule parts with what each withdrew so far, in award order. */
export const awardPartsOf = statement<[entryId: number], { rule_version_id: string; points: number; withdrawn: number }>(
  'earning.award_parts_of',
  'select rule_version_id, points, withdrawn from rule_award where entry_id = ? order by id',
);

/** The rules' parts of the given entries (a PostgreSQL array literal of ids), in the program, in award order. */
export const entryAwards = statement<
  [entryIds: string, programId: string],
  { entry_id: number; rule_id: string; rule_version_id: string; version: number; rule_name: string; points: number }
>(
  'earning.entry_awards',
  `select ra.entry_id, ra.rule_id, ra.rule_version_id, v.version, r.name as rule_name, ra.points
   from rule_award ra join rule_version v on v.id = ra.rule_version_id join rule r on r.id = ra.rule_id
   where ra.entry_id = any(?::bigint[]) and ra.program_id = ? order by ra.entry_id, ra.id`,
);
