/**
 * The tiers module's SQL, per member: structures, what orders count for, a member's tier and
 * its history. (The set-based requalification is in requalify-store.ts.) Every statement is
 * declared once below (`tiers.*`) and runs on the caller's transaction or the pool; the few that
 * differ by the metric's column or the way a member is named are one statement per variant.
 */
import type { Queryable } from '../../db/statement';
import type { UnitOfWork } from '../../db/unit-of-work';
import { statement, type Statement } from '../../db/statement';
import type { Contribution } from './qualification';
import type {
  GrantKind, MemberTierState, TierChange, TierHistoryRecord, TierLevel, TierMetric, TierStructure, TierWindowKind,
  DowngradePolicy, TierChangeReason,
} from './types';

interface StructureRow {
  id: string;
  program_id: string;
  version: number;
  metric: TierMetric;
  window_kind: TierWindowKind;
  window_months: number | null;
  downgrade_policy: DowngradePolicy;
  grace_days: number;
  created_at: Date;
  levels: Array<{
    rank: number; code: string; name: string; threshold: number | string; earn_multiplier: number | string;
    max_redeem_percent: number | null; discount_percent: number | string; perks: string[];
  }>;
}

interface MemberTierRow {
  member_id: string;
  earned_code: string | null;
  earned_since: Date | null;
  grant_code: string | null;
  grant_kind: GrantKind | null;
  grant_until: Date | null;
  tier_code: string | null;
  tier_since: Date | null;
}

interface HistoryRow {
  id: number;
  program_id: string;
  member_id: string;
  from_code: string | null;
  to_code: string | null;
  reason: TierChangeReason;
  detail: string | null;
  structure_version: number;
  changed_at: Date;
}

/** The column a metric sums (constants, never input). */
export const METRIC_COLUMN: Record<TierMetric, 'money_minor' | 'points'> = { spend: 'money_minor', points: 'points' };

/** One statement per metric: `build(column)` gives the SQL of the metric's column. */
export function perMetric<P extends readonly unknown[], R>(
  name: string,
  build: (column: 'money_minor' | 'points') => string,
): Record<TierMetric, Statement<P, R>> {
  return {
    spend: statement<P, R>(`${name}_spend`, build(METRIC_COLUMN.spend)),
    points: statement<P, R>(`${name}_points`, build(METRIC_COLUMN.points)),
  };
}

/** How a caller names a member (the members module's `memberRefColumn`): our id, or the shop's id, e-mail or phone. */
export type MemberColumn = 'id' | 'external_id' | 'email' | 'phone';

function perMemberColumn<P extends readonly unknown[], R>(name: string, build: (column: MemberColumn) => string): Record<MemberColumn, Statement<P, R>> {
  return {
    id: statement<P, R>(`${name}_by_id`, build('id')),
    external_id: statement<P, R>(`${name}_by_external_id`, build('external_id')),
    email: statement<P, R>(`${name}_by_email`, build('email')),
    phone: statement<P, R>(`${name}_by_phone`, build('phone')),
  };
}

function toStructure(row: StructureRow): TierStructure {
  return {
    id: row.id,
    programId: row.program_id,
    version: row.version,
    metric: row.metric,
    window: { kind: row.window_kind, months: row.window_months },
    downgradePolicy: row.downgrade_policy,
    graceDays: row.grace_days,
    createdAt: new Date(row.created_at),
    levels: row.levels
      .map(
        (l): TierLevel => ({
          rank: l.rank,
          code: l.code,
          name: l.name,
          threshold: Number(l.threshold),
          earnMultiplier: Number(l.earn_multiplier),
          maxRedeemPercent: l.max_redeem_percent,
          discountPercent: Number(l.discount_percent),
          perks: l.perks ?? [],
        }),
      )
      .sort((a, b) => a.rank - b.rank),
  };
}

// ---- programs and members (read here for the tiers' own use) --------------------------------------

const programTimeZoneStatement = statement<[programId: string], { time_zone: string }>(
  'tiers.program_time_zone',
  'select time_zone from program where id = ?',
);

/**
 * Holds the program row for the transaction: no structure save beside a currency change or a
 * settings update (saves follow each other on the tier-structure lock already). No key update:
 * tier rows written meanwhile (a grant, an order's lift) key-share the row through their keys,
 * and must not wait for a save that waits for their member's tier row.
 */
const lockProgramStatement = statement<[programId: string], { time_zone: string }>(
  'tiers.lock_program',
  'select time_zone from program where id = ? for no key update',
);

/**
 * The program's tier-structure lock (see Migration20261208200000_tier_structure_hold): a save
 * takes it alone; what writes tiers under a structure it read (an order paid, cancelled or
 * returned, a grant, the requalify job) shares it and checks that the structure, by its version
 * (0: none), is still the newest — else a serialization failure, and the work is tried again.
 */
const holdStructureForSaveStatement = statement<[programId: string]>(
  'tiers.hold_structure_for_save',
  'select pg_advisory_xact_lock(tier_structure_lock_key(?))',
);
const holdStructureSharedStatement = statement<[programId: string, version: number]>(
  'tiers.hold_structure_shared',
  'select hold_tier_structure(?, ?)',
);

/** Every program with a tier structure, with its time zone (the requalify job's list). */
const tieredProgramsStatement = statement<[], { program_id: string; time_zone: string }>(
  'tiers.tiered_programs',
  'select distinct s.program_id, p.time_zone from tier_structure s join program p on p.id = s.program_id',
);

const findMemberStatement = perMemberColumn<[programId: string, value: string], { id: string }>(
  'tiers.find_member',
  (column) => `select id from member where program_id = ? and ${column} = ?`,
);

/** The member's account row lock: the lock every write about a member takes first. */
const lockMemberStatement = perMemberColumn<[programId: string, value: string], { id: string }>(
  'tiers.lock_member',
  (column) => `select m.id from member m join account a on a.member_id = m.id where m.program_id = ? and m.${column} = ? for update of a`,
);

/** The program's time zone, or null when there is no such program. */
export async function programTimeZone(db: Queryable, programId: string): Promise<string | null> {
  const [row] = await db.run(programTimeZoneStatement, [programId]);
  return row?.time_zone ?? null;
}

/** Locks the program row and returns its time zone (null: no such program). */
export async function lockProgram(tx: Queryable, programId: string): Promise<string | null> {
  const [row] = await tx.run(lockProgramStatement, [programId]);
  return row?.time_zone ?? null;
}

/** A save holds the program's tier-structure lock alone: what shares it commits first, or waits. */
export async function holdStructureForSave(tx: Queryable, programId: string): Promise<void> {
  await tx.run(holdStructureForSaveStatement, [programId]);
}

/**
 * Shares the program's tier-structure lock, holding the structure of `version` (0: none); it
 * goes out before the next statement, which so runs holding it.
 */
export function holdStructureShared(tx: UnitOfWork, programId: string, version: number): void {
  tx.write(holdStructureSharedStatement, [programId, version]);
}

export async function tieredPrograms(db: Queryable): Promise<Array<{ programId: string; timeZone: string }>> {
  const rows = await db.run(tieredProgramsStatement, []);
  return rows.map((r) => ({ programId: r.program_id, timeZone: r.time_zone }));
}

/** The id of the member named by `column = value` in the program, or null. */
export async function findMemberId(db: Queryable, programId: string, column: MemberColumn, value: string): Promise<string | null> {
  const [row] = await db.run(findMemberStatement[column], [programId, value]);
  return row?.id ?? null;
}

/** Locks the member's account and returns the member id, or null when there is no such member. */
export async function lockMemberAccount(tx: Queryable, programId: string, column: MemberColumn, value: string): Promise<string | null> {
  const [row] = await tx.run(lockMemberStatement[column], [programId, value]);
  return row?.id ?? null;
}

// ---- structures ---------------------------------------------------------------------------------

const loadStructureStatement = statement<[programId: string], StructureRow>(
  'tiers.load_structure',
  `select s.*, (select json_agg(l order by l.rank) from tier_level l where l.structure_id = s.id) as levels
   from tier_structure s where s.program_id = ? order by s.version desc limit 1`,
);

const insertStructureStatement = statement<
  [id: string, programId: string, version: number, metric: TierMetric, windowKind: TierWindowKind, windowMonths: number | null,
    downgradePolicy: DowngradePolicy, graceDays: number, createdAt: Date, createdBy: string | null]
>(
  'tiers.insert_structure',
  `insert into tier_structure (id, program_id, version, metric, window_kind, window_months, downgrade_policy, grace_days, created_at, created_by)
   values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
);

/** The levels of a structure from a JSON array of `{rank, code, name, threshold, earn_multiplier, …}`. */
const insertLevelsStatement = statement<[structureId: string, levels: string]>(
  'tiers.insert_levels',
  `insert into tier_level (id, structure_id, rank, code, name, threshold, earn_multiplier, max_redeem_percent, discount_percent, perks)
   select gen_random_uuid(), ?, x.rank, x.code, x.name, x.threshold, x.earn_multiplier, x.max_redeem_percent, x.discount_percent,
     array(select jsonb_array_elements_text(x.perks))
   from jsonb_to_recordset(?::jsonb) as x(rank int, code text, name text, threshold bigint, earn_multiplier numeric,
     max_redeem_percent int, discount_percent numeric, perks jsonb)`,
);

const latestVersionStatement = statement<[programId: string], { version: number | null }>(
  'tiers.latest_version',
  'select max(version) as version from tier_structure where program_id = ?',
);

/** The program's structure in force (its newest version), or null when it has none. */
export async function loadStructure(db: Queryable, programId: string): Promise<TierStructure | null> {
  const [row] = await db.run(loadStructureStatement, [programId]);
  return row ? toStructure(row) : null;
}

/** Writes a new version; the caller checked the input. A concurrent save of the same version fails on the unique index. */
export async function insertStructure(tx: Queryable, s: Omit<TierStructure, 'createdAt'> & { createdAt: Date; createdBy: string | null }) {
  await tx.run(insertStructureStatement, [
    s.id, s.programId, s.version, s.metric, s.window.kind, s.window.months, s.downgradePolicy, s.graceDays, s.createdAt, s.createdBy,
  ]);
  await tx.run(insertLevelsStatement, [s.id, JSON.stringify(s.levels.map((l) => ({
    rank: l.rank, code: l.code, name: l.name, threshold: l.threshold, earn_multiplier: l.earnMultiplier,
    max_redeem_percent: l.maxRedeemPercent, discount_percent: l.discountPercent, perks: l.perks,
  })))]);
}

export async function latestVersion(tx: Queryable, programId: string): Promise<number> {
  const [row] = await tx.run(latestVersionStatement, [programId]);
  return row.version ?? 0;
}

// ---- what orders count for ------------------------------------------------------------------------

interface QualificationRow {
  member_id: string;
  program_id: string;
  qualified_at: Date;
  money_minor: number | string;
  points: number | string;
}

const syncOrderQualificationStatement = statement<[now: Date, orderId: string], QualificationRow>(
  'tiers.sync_order_qualification',
  `insert into tier_qualification (order_id, program_id, member_id, qualified_at, money_minor, points, updated_at)
   select o.id, o.program_id, o.member_id, o.paid_at,
     case when o.status in ('cancelled', 'refunded') then 0 else
       (select coalesce(sum(floor((l.net_minor - l.points_discount_minor)::numeric * (l.quantity - l.refunded_quantity) / l.quantity)), 0)
        from shop_order_line l where l.order_id = o.id) end,
     case when o.status in ('cancelled', 'refunded') then 0 else
       (select coalesce(sum(greatest(a.points - a.taken_back, 0)), 0) from shop_order_award a where a.order_id = o.id and a.member_id = o.member_id) end,
     ?
   from shop_order o where o.id = ? and o.paid_at is not null
   on conflict (order_id) do update set money_minor = excluded.money_minor, points = excluded.points, updated_at = excluded.updated_at
   returning member_id, program_id, qualified_at, money_minor, points`,
);

const orderQualificationStatement = statement<[orderId: string], { money_minor: number | string; points: number | string }>(
  'tiers.order_qualification',
  'select money_minor, points from tier_qualification where order_id = ?',
);

/** The member's contributions in [from, to] one by one, and everything before `from` (when given) as one row dated null. */
const contributionsStatement = perMetric<[memberId: string, to: Date, from: Date | null], { at: Date | null; amount: number | string }>(
  'tiers.contributions',
  (column) => `select qualified_at as at, ${column} as amount from tier_qualification
   where member_id = $1 and qualified_at <= $2 and ${column} > 0 and ($3::timestamptz is null or qualified_at >= $3)
   union all
   select null, coalesce(sum(${column}), 0) from tier_qualification where member_id = $1 and $3::timestamptz is not null and qualified_at < $3`,
);

const windowAmountStatement = perMetric<[memberId: string, to: Date, from: Date | null], { amount: number | string }>(
  'tiers.window_amount',
  (column) => `select coalesce(sum(${column}), 0) as amount from tier_qualification
   where member_id = $1 and qualified_at <= $2 and ($3::timestamptz is null or qualified_at >= $3)`,
);

/**
 * Brings the order's qualification row to what the order counts for now: each line's payable
 * money (net of the shop's discounts and of points) for the units not returned, rounded down,
 * and the member's own awards less what was taken back; nothing once it is cancelled or
 * refunded. Delivery does not count. Returns the member and the row, or null for an unpaid order.
 */
export async function syncOrderQualification(
  tx: Queryable,
  orderId: string,
  now: Date,
): Promise<{ memberId: string; programId: string; qualifiedAt: Date; moneyMinor: number; points: number } | null> {
  const [row] = await tx.run(syncOrderQualificationStatement, [now, orderId]);
  if (!row) return null;
  return { memberId: row.member_id, programId: row.program_id, qualifiedAt: new Date(row.qualified_at), moneyMinor: Number(row.money_minor), points: Number(row.points) };
}

/** {@link syncOrderQualification} when nothing reads the row back: it goes out with the next statement or the commit. */
export function writeOrderQualification(tx: UnitOfWork, orderId: string, now: Date): void {
  tx.write(syncOrderQualificationStatement, [now, orderId]);
}

/** What the order counts for as recorded (before a sync), or null when it never counted. */
export async function orderQualification(tx: Queryable, orderId: string): Promise<{ moneyMinor: number; points: number } | null> {
  const [row] = await tx.run(orderQualificationStatement, [orderId]);
  return row ? { moneyMinor: Number(row.money_minor), points: Number(row.points) } : null;
}

/** The member's contributions dated at or after `from` (all when null), with everything earlier summed into one at `from`. */
export async function loadContributions(db: Queryable, memberId: string, metric: TierMetric, from: Date | null, to: Date): Promise<Contribution[]> {
  const rows = await db.run(contributionsStatement[metric], [memberId, to, from]);
  return rows
    .filter((r) => Number(r.amount) > 0)
    .map((r) => ({ at: r.at ? new Date(r.at) : new Date(from!.getTime() - 1), amount: Number(r.amount) }));
}

/** The sum of the member's contributions dated in [from, to] (from null: all up to `to`). */
export async function windowAmount(db: Queryable, memberId: string, metric: TierMetric, from: Date | null, to: Date): Promise<number> {
  const [row] = await db.run(windowAmountStatement[metric], [memberId, to, from]);
  return Number(row.amount);
}

// ---- a member's tier and its history ----------------------------------------------------------------

const readMemberTierStatement = statement<[memberId: string], MemberTierRow>(
  'tiers.read_member_tier',
  'select * from member_tier where member_id = ?',
);

const lockMemberTierStatement = statement<[memberId: string], MemberTierRow>(
  'tiers.lock_member_tier',
  'select * from member_tier where member_id = ? for update',
);

const writeMemberTierStatement = statement<
  [memberId: string, programId: string, earnedCode: string | null, earnedSince: Date | null, grantCode: string | null,
    grantKind: GrantKind | null, grantUntil: Date | null, tierCode: string | null, tierSince: Date | null, now: Date]
>(
  'tiers.write_member_tier',
  `insert into member_tier (member_id, program_id, earned_code, earned_since, grant_code, grant_kind, grant_until, tier_code, tier_since, updated_at)
   values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
   on conflict (member_id) do update set earned_code = excluded.earned_code, earned_since = excluded.earned_since,
     grant_code = excluded.grant_code, grant_kind = excluded.grant_kind, grant_until = excluded.grant_until,
     tier_code = excluded.tier_code, tier_since = excluded.tier_since, updated_at = excluded.updated_at`,
);

const insertHistoryStatement = statement<
  [programId: string, memberId: string, fromCode: string | null, toCode: string | null, reason: TierChangeReason, detail: string | null,
    structureVersion: number, changedAt: Date]
>(
  'tiers.insert_history',
  `insert into tier_history (program_id, member_id, from_code, to_code, reason, detail, structure_version, changed_at)
   values (?, ?, ?, ?, ?, ?, ?, ?)`,
);

const loadHistoryStatement = statement<[memberId: string, limit: number], HistoryRow>(
  'tiers.load_history',
  'select * from tier_history where member_id = ? order by changed_at desc, id desc limit ?',
);

const toState = (r: MemberTierRow): MemberTierState => ({
  memberId: r.member_id,
  earnedCode: r.earned_code,
  earnedSince: r.earned_since && new Date(r.earned_since),
  grantCode: r.grant_code,
  grantKind: r.grant_kind,
  grantUntil: r.grant_until && new Date(r.grant_until),
  tierCode: r.tier_code,
  tierSince: r.tier_since && new Date(r.tier_since),
});

/** The member's tier row; `lock` holds it for the transaction (callers hold the account lock first). */
export async function readMemberTier(db: Queryable, memberId: string, lock = false): Promise<MemberTierState | null> {
  const [row] = await db.run(lock ? lockMemberTierStatement : readMemberTierStatement, [memberId]);
  return row ? toState(row) : null;
}

export async function writeMemberTier(tx: Queryable, programId: string, s: MemberTierState, now: Date): Promise<void> {
  await tx.run(writeMemberTierStatement, [
    s.memberId, programId, s.earnedCode, s.earnedSince, s.grantCode, s.grantKind, s.grantUntil, s.tierCode, s.tierSince, now,
  ]);
}

export async function insertHistory(tx: Queryable, change: TierChange): Promise<void> {
  await tx.run(insertHistoryStatement, [
    change.programId, change.memberId, change.fromCode, change.toCode, change.reason, change.detail, change.structureVersion, change.changedAt,
  ]);
}

export async function loadHistory(db: Queryable, memberId: string, limit: number): Promise<TierHistoryRecord[]> {
  const rows = await db.run(loadHistoryStatement, [memberId, limit]);
  return rows.map((r) => ({
    id: Number(r.id),
    programId: r.program_id,
    memberId: r.member_id,
    fromCode: r.from_code,
    toCode: r.to_code,
    reason: r.reason,
    detail: r.detail,
    structureVersion: r.structure_version,
    changedAt: new Date(r.changed_at),
  }));
}
