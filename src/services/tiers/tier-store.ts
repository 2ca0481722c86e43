/**
 * The tiers module's SQL, per member: structures, what orders count for, a member's tier and
 * its history. (The set-based requalification is in requalify-store.ts.) Every statement runs on
 * the caller's transaction or the pool.
 */
import type { Sql } from '../../db/database';
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

/** The program's structure in force (its newest version), or null when it has none. */
export async function loadStructure(db: Sql, programId: string): Promise<TierStructure | null> {
  const [row] = await db.execute<StructureRow>(
    `select s.*, (select json_agg(l order by l.rank) from tier_level l where l.structure_id = s.id) as levels
     from tier_structure s where s.program_id = ? order by s.version desc limit 1`,
    [programId],
  );
  return row ? toStructure(row) : null;
}

/** Writes a new version; the caller checked the input. A concurrent save of the same version fails on the unique index. */
export async function insertStructure(tx: Sql, s: Omit<TierStructure, 'createdAt'> & { createdAt: Date; createdBy: string | null }) {
  await tx.execute(
    `insert into tier_structure (id, program_id, version, metric, window_kind, window_months, downgrade_policy, grace_days, created_at, created_by)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [s.id, s.programId, s.version, s.metric, s.window.kind, s.window.months, s.downgradePolicy, s.graceDays, s.createdAt, s.createdBy],
  );
  await tx.execute(
    `insert into tier_level (id, structure_id, rank, code, name, threshold, earn_multiplier, max_redeem_percent, discount_percent, perks)
     select gen_random_uuid(), ?, x.rank, x.code, x.name, x.threshold, x.earn_multiplier, x.max_redeem_percent, x.discount_percent,
       array(select jsonb_array_elements_text(x.perks))
     from jsonb_to_recordset(?::jsonb) as x(rank int, code text, name text, threshold bigint, earn_multiplier numeric,
       max_redeem_percent int, discount_percent numeric, perks jsonb)`,
    [s.id, JSON.stringify(s.levels.map((l) => ({
      rank: l.rank, code: l.code, name: l.name, threshold: l.threshold, earn_multiplier: l.earnMultiplier,
      max_redeem_percent: l.maxRedeemPercent, discount_percent: l.discountPercent, perks: l.perks,
    })))],
  );
}

export async function latestVersion(tx: Sql, programId: string): Promise<number> {
  const [row] = await tx.execute<{ version: number | null }>('select max(version) as version from tier_structure where program_id = ?', [programId]);
  return row.version ?? 0;
}

/**
 * Brings the order's qualification row to what the order counts for now: each line's payable
 * money (net of the shop's discounts and of points) for the units not returned, rounded down,
 * and the member's own awards less what was taken back; nothing once it is cancelled or
 * refunded. Delivery does not count. Returns the member and the row, or null for an unpaid order.
 */
export async function syncOrderQualification(
  tx: Sql,
  orderId: string,
  now: Date,
): Promise<{ memberId: string; programId: string; qualifiedAt: Date; moneyMinor: number; points: number } | null> {
  const [row] = await tx.execute<{ member_id: string; program_id: string; qualified_at: Date; money_minor: number; points: number }>(
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
    [now, orderId],
  );
  if (!row) return null;
  return { memberId: row.member_id, programId: row.program_id, qualifiedAt: new Date(row.qualified_at), moneyMinor: Number(row.money_minor), points: Number(row.points) };
}

/** The member's contributions dated at or after `from` (all when null), with everything earlier summed into one at `from`. */
export async function loadContributions(db: Sql, memberId: string, metric: TierMetric, from: Date | null, to: Date): Promise<Contribution[]> {
  const column = METRIC_COLUMN[metric];
  const rows = await db.execute<{ at: Date | null; amount: number }>(
    `select qualified_at as at, ${column} as amount from tier_qualification
     where member_id = ? and qualified_at <= ? and ${column} > 0 and (?::timestamptz is null or qualified_at >= ?)
     union all
     select null, coalesce(sum(${column}), 0) from tier_qualification where member_id = ? and ?::timestamptz is not null and qualified_at < ?`,
    [memberId, to, from, from, memberId, from, from],
  );
  return rows
    .filter((r) => Number(r.amount) > 0)
    .map((r) => ({ at: r.at ? new Date(r.at) : new Date(from!.getTime() - 1), amount: Number(r.amount) }));
}

/** The sum of the member's contributions dated in [from, to] (from null: all up to `to`). */
export async function windowAmount(db: Sql, memberId: string, metric: TierMetric, from: Date | null, to: Date): Promise<number> {
  const column = METRIC_COLUMN[metric];
  const [row] = await db.execute<{ amount: number }>(
    `select coalesce(sum(${column}), 0) as amount from tier_qualification
     where member_id = ? and qualified_at <= ? and (?::timestamptz is null or qualified_at >= ?)`,
    [memberId, to, from, from],
  );
  return Number(row.amount);
}

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
export async function readMemberTier(db: Sql, memberId: string, lock = false): Promise<MemberTierState | null> {
  const [row] = await db.execute<MemberTierRow>(
    `select * from member_tier where member_id = ?${lock ? ' for update' : ''}`,
    [memberId],
  );
  return row ? toState(row) : null;
}

export async function writeMemberTier(tx: Sql, programId: string, s: MemberTierState, now: Date): Promise<void> {
  await tx.execute(
    `insert into member_tier (member_id, program_id, earned_code, earned_since, grant_code, grant_kind, grant_until, tier_code, tier_since, updated_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (member_id) do update set earned_code = excluded.earned_code, earned_since = excluded.earned_since,
       grant_code = excluded.grant_code, grant_kind = excluded.grant_kind, grant_until = excluded.grant_until,
       tier_code = excluded.tier_code, tier_since = excluded.tier_since, updated_at = excluded.updated_at`,
    [s.memberId, programId, s.earnedCode, s.earnedSince, s.grantCode, s.grantKind, s.grantUntil, s.tierCode, s.tierSince, now],
  );
}

export async function insertHistory(tx: Sql, change: TierChange): Promise<void> {
  await tx.execute(
    `insert into tier_history (program_id, member_id, from_code, to_code, reason, detail, structure_version, changed_at)
     values (?, ?, ?, ?, ?, ?, ?, ?)`,
    [change.programId, change.memberId, change.fromCode, change.toCode, change.reason, change.detail, change.structureVersion, change.changedAt],
  );
}

export async function loadHistory(db: Sql, memberId: string, limit: number): Promise<TierHistoryRecord[]> {
  const rows = await db.execute<HistoryRow>(
    'select * from tier_history where member_id = ? order by changed_at desc, id desc limit ?',
    [memberId, limit],
  );
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
