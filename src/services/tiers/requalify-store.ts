/**
 * Set-based requalification: one statement per program, whatever the number of members. The
 * same definitions as qualification.ts (a test holds them together):
 * - window_start(s): lifetime −∞; calendar_year local New Year of s; rolling N months s − N
 *   months on the local wall calendar;
 * - last_counted(at): the last instant a contribution dated `at` is counted;
 * - the justified amount of a member: the most they qualified with at any of the moments that
 *   can be a maximum within the lookback [lookback, t] (t, lookback, each contribution's date, each
 *   contribution's last counted instant).
 * The job's three statements are exported so that `npm run bench` can run them raw as the
 * job's baseline (bench/tiers.ts).
 */
import { statement, type Queryable } from '../../db/statement';
import { pgArray } from '../shared';
import { lookbackStart } from './qualification';
import { perMetric } from './tier-store';
import type { DowngradePolicy, TierChange, TierChangeReason, TierStructure, TierWindowKind } from './types';

const windowStart = (x: string) =>
  `(case p.kind when 'lifetime' then '-infinity'::timestamptz
     when 'calendar_year' then date_trunc('year', ${x} at time zone p.tz) at time zone p.tz
     else (${x} at time zone p.tz - make_interval(months => p.months)) at time zone p.tz end)`;

const lastCounted = (x: string) =>
  `(case p.kind when 'lifetime' then 'infinity'::timestamptz
     when 'calendar_year' then (date_trunc('year', ${x} at time zone p.tz) + interval '1 year') at time zone p.tz - interval '1 millisecond'
     else (${x} at time zone p.tz + make_interval(months => p.months)) at time zone p.tz end)`;

/**
 * CTEs `p`, `c`, `cand`, `amounts`, `justified(member_id, amount)` over the members of the CTE
 * `subjects(member_id)`, which the caller defines before them, summing the metric's `column`.
 * Parameters: JustifiedParams.
 */
function justifiedCtes(column: 'money_minor' | 'points'): string {
  return `
p as (select ?::text as tz, ?::text as kind, ?::int as months, ?::timestamptz as lookback, ?::timestamptz as t),
c as (
  select q.member_id, q.qualified_at as at, q.${column} as amount
  from tier_qualification q join subjects s on s.member_id = q.member_id cross join p
  where q.qualified_at <= p.t and q.${column} > 0 and (p.lookback is null or q.qualified_at >= ${windowStart('p.lookback')})
),
cand as (
  select s.member_id, p.t as s from subjects s cross join p
  union select s.member_id, p.lookback from subjects s cross join p where p.lookback is not null
  union select c.member_id, c.at from c cross join p where p.lookback is null or c.at >= p.lookback
  union select c.member_id, x.last from c cross join p cross join lateral (select ${lastCounted('c.at')} as last) x
    where x.last <= p.t and (p.lookback is null or x.last >= p.lookback)
),
amounts as (
  select cand.member_id, cand.s, coalesce(sum(c.amount), 0) as amount
  from cand cross join p left join c on c.member_id = cand.member_id and c.at <= cand.s and c.at >= ${windowStart('cand.s')}
  group by cand.member_id, cand.s
),
justified as (select member_id, max(amount) as amount from amounts group by member_id)`;
}

type JustifiedParams = [timeZone: string, windowKind: TierWindowKind, windowMonths: number, lookback: Date | null, t: Date];

function justifiedParams(structure: TierStructure, timeZone: string, t: Date): JustifiedParams {
  return [timeZone, structure.window.kind, structure.window.months ?? 0, lookbackStart(t, structure.graceDays, structure.downgradePolicy), t];
}

/** The levels as a CTE `lv(code, threshold, rank)`; parameters: levelParams. */
const levelsCte = (name: string) => `${name} as (select * from unnest(?::text[], ?::bigint[], ?::int[]) as x(code, threshold, rank))`;
/** The levels' codes, thresholds and ranks as PostgreSQL array literals. */
type LevelParams = [codes: string, thresholds: string, ranks: string];

const levelParams = (structure: TierStructure | null): LevelParams => [
  pgArray((structure?.levels ?? []).map((l) => `"${l.code.replace(/["\\]/g, '\\$&')}"`)),
  pgArray((structure?.levels ?? []).map((l) => l.threshold)),
  pgArray((structure?.levels ?? []).map((l) => l.rank)),
];

const justifiedAmountsStatement = perMetric<[programId: string, ...JustifiedParams], { member_id: string; amount: number | string }>(
  'tiers.justified_amounts',
  (column) => `with subjects as (select id as member_id from member where program_id = ?), ${justifiedCtes(column)}
   select member_id, amount from justified`,
);

/** A justified amount per member, for a test to compare with qualification.ts. */
export async function justifiedAmounts(db: Queryable, programId: string, structure: TierStructure, timeZone: string, t: Date) {
  const rows = await db.run(justifiedAmountsStatement[structure.metric], [programId, ...justifiedParams(structure, timeZone, t)]);
  return new Map(rows.map((r) => [r.member_id, Number(r.amount)]));
}

/**
 * Each member's tier before and after requalifying every member of the program under `next`:
 * earned = the level of the justified amount; in force = a still-running grant if its level is
 * higher, else earned. `current` is the structure in force now (null: none yet).
 */
function planCtes(column: 'money_minor' | 'points'): string {
  return `
subjects as (select m.id as member_id from member m where m.program_id = ?),
${justifiedCtes(column)},
${levelsCte('old_lv')},
${levelsCte('new_lv')},
plan as (
  select s.member_id, mt.member_id is not null as has_row,
    mt.earned_code as old_earned_code, mt.earned_since as old_earned_since, mt.tier_since as old_tier_since,
    mt.grant_code, mt.grant_kind, mt.grant_until,
    coalesce(case when mt.grant_until > p.t and og.rank > coalesce(oe.rank, -1) then mt.grant_code end,
             oe.code, (select code from old_lv where threshold = 0 order by rank limit 1)) as old_code,
    coalesce((select code from new_lv where new_lv.threshold <= coalesce(j.amount, 0) order by rank desc limit 1), null) as new_earned_code
  from subjects s cross join p
  left join member_tier mt on mt.member_id = s.member_id
  left join justified j on j.member_id = s.member_id
  left join old_lv oe on oe.code = mt.earned_code
  left join old_lv og on og.code = mt.grant_code
),
planned as (
  select pl.*, ne.rank as new_earned_rank,
    case when pl.grant_until > p.t and ng.rank > coalesce(ne.rank, -1) then pl.grant_code else pl.new_earned_code end as new_code
  from plan pl cross join p
  left join new_lv ne on ne.code = pl.new_earned_code
  left join new_lv ng on ng.code = pl.grant_code
),
moves as (
  select pl.*, coalesce(nl.rank, ol.rank, -1) as old_rank, coalesce(nn.rank, -1) as new_rank
  from planned pl
  left join new_lv nl on nl.code = pl.old_code
  left join old_lv ol on ol.code = pl.old_code
  left join new_lv nn on nn.code = pl.new_code
)`;
}

type PlanParams = [programId: string, ...JustifiedParams, ...old: LevelParams, ...next: LevelParams];

function planParams(programId: string, current: TierStructure | null, next: TierStructure, timeZone: string, t: Date): PlanParams {
  return [programId, ...justifiedParams(next, timeZone, t), ...levelParams(current), ...levelParams(next)];
}

export interface PreviewCounts {
  code: string | null;
  before: number;
  after: number;
  movingUp: number;
  movingDown: number;
}

type Count = number | string;

const previewCountsStatement = perMetric<PlanParams, { code: string | null; before: Count; after: Count; up: Count; down: Count }>(
  'tiers.preview_counts',
  (column) => `with ${planCtes(column)}
   select code, sum(before) as before, sum(after) as after, sum(up) as up, sum(down) as down from (
     select old_code as code, 1 as before, 0 as after, 0 as up, 0 as down from moves
     union all
     select new_code, 0, 1, (old_code is distinct from new_code and new_rank > old_rank)::int,
       (old_code is distinct from new_code and new_rank <= old_rank)::int from moves
   ) x group by code`,
);

/** How many members hold each tier now and would hold it under `next`, and how many would move. */
export async function previewCounts(
  db: Queryable, programId: string, current: TierStructure | null, next: TierStructure, timeZone: string, t: Date,
): Promise<PreviewCounts[]> {
  const rows = await db.run(previewCountsStatement[next.metric], planParams(programId, current, next, timeZone, t));
  return rows.map((r) => ({ code: r.code, before: Number(r.before), after: Number(r.after), movingUp: Number(r.up), movingDown: Number(r.down) }));
}

interface ChangeRow {
  member_id: string;
  from_code: string | null;
  to_code: string | null;
}

const applyRequalificationStatement = perMetric<[...PlanParams, programId: string, programId: string, detail: string, version: number], ChangeRow>(
  'tiers.apply_requalification',
  (column) => `with ${planCtes(column)},
   written as (
     insert into member_tier (member_id, program_id, earned_code, earned_since, grant_code, grant_kind, grant_until, tier_code, tier_since, updated_at)
     select m.member_id, ?, m.new_earned_code,
       case when m.has_row and m.new_earned_code is not distinct from m.old_earned_code then m.old_earned_since else (select t from p) end,
       m.grant_code, m.grant_kind, m.grant_until, m.new_code,
       case when m.has_row and m.new_code is not distinct from m.old_code then m.old_tier_since else (select t from p) end,
       (select t from p)
     from moves m
     where m.has_row or m.new_code is distinct from m.old_code or m.new_rank > 0
     on conflict (member_id) do update set earned_code = excluded.earned_code, earned_since = excluded.earned_since,
       tier_code = excluded.tier_code, tier_since = excluded.tier_since, updated_at = excluded.updated_at
     returning member_id
   )
   insert into tier_history (program_id, member_id, from_code, to_code, reason, detail, structure_version, changed_at)
   select ?, m.member_id, m.old_code, m.new_code, 'structure_changed', ?, ?, (select t from p)
   from moves m where m.old_code is distinct from m.new_code
   returning member_id, from_code, to_code`,
);

/** Requalifies every member under `next` (already saved), records each change of the tier in force, returns the changes. */
export async function applyRequalification(
  tx: Queryable, programId: string, current: TierStructure | null, next: TierStructure, timeZone: string, t: Date,
): Promise<TierChange[]> {
  const rows = await tx.run(applyRequalificationStatement[next.metric], [
    ...planParams(programId, current, next, timeZone, t), programId, programId, `Tier structure version ${next.version}`, next.version,
  ]);
  return rows.map((r) => change(programId, r, 'structure_changed', `Tier structure version ${next.version}`, next.version, t));
}

const change = (
  programId: string,
  r: ChangeRow,
  reason: TierChangeReason,
  detail: string | null,
  version: number,
  at: Date,
): TierChange => ({ programId, memberId: r.member_id, fromCode: r.from_code, toCode: r.to_code, reason, detail, structureVersion: version, changedAt: at });

/**
 * Grants (VIP, paid memberships) of the program that ended by `t` fall away: the tier in force
 * becomes the earned one (or the base level). Returns every ended grant, changed or not.
 */
export const endGrantsStatement = statement<[...LevelParams, programId: string, t: Date, t: Date, t: Date], ChangeRow & { grant_kind: string }>(
  'tiers.end_grants',
  `with ${levelsCte('lv')},
   ended as (
     select mt.member_id, mt.tier_code as from_code, coalesce(mt.earned_code, (select code from lv where threshold = 0 order by rank limit 1)) as to_code,
       mt.grant_kind
     from member_tier mt where mt.program_id = ? and mt.grant_until <= ?
   ),
   updated as (
     update member_tier mt set grant_code = null, grant_kind = null, grant_until = null, tier_code = e.to_code,
       tier_since = case when e.to_code is distinct from e.from_code then ?::timestamptz else mt.tier_since end, updated_at = ?
     from ended e where mt.member_id = e.member_id returning mt.member_id
   )
   select e.* from ended e`,
);

/**
 * Members of the program holding an earned tier above the base since `graceStart` or earlier
 * who did not qualify for it at any moment of the lookback go down by `policy`; the tier in
 * force follows unless a running grant is higher. Returns each member moved.
 */
export const downgradeStatement = perMetric<[...LevelParams, programId: string, graceStart: Date, ...JustifiedParams, policy: DowngradePolicy], ChangeRow>(
  'tiers.downgrade',
  (column) => `with ${levelsCte('lv')},
   held as (
     select mt.member_id, l.rank as held_rank, mt.tier_code, mt.grant_code, mt.grant_until
     from member_tier mt join lv l on l.code = mt.earned_code
     where mt.program_id = ? and l.threshold > 0 and mt.earned_since <= ?
   ),
   subjects as (select member_id from held),
   ${justifiedCtes(column)},
   target as (
     select h.member_id, h.tier_code as from_code,
       (select code from lv where lv.rank = case when ?::text = 'one_level' then greatest(h.held_rank - 1, coalesce(jr.rank, -1)) else coalesce(jr.rank, -1) end) as earned_code,
       h.grant_code, h.grant_until
     from held h join justified j on j.member_id = h.member_id
     left join lateral (select max(rank) as rank from lv where lv.threshold <= j.amount) jr on true
     where coalesce(jr.rank, -1) < h.held_rank
   ),
   final as (
     select t.*, case when t.grant_until > p.t and g.rank > coalesce(e.rank, -1) then t.grant_code else t.earned_code end as to_code
     from target t cross join p left join lv e on e.code = t.earned_code left join lv g on g.code = t.grant_code
   ),
   updated as (
     update member_tier mt set earned_code = f.earned_code, earned_since = (select t from p), tier_code = f.to_code,
       tier_since = case when f.to_code is distinct from f.from_code then (select t from p) else mt.tier_since end, updated_at = (select t from p)
     from final f where mt.member_id = f.member_id returning mt.member_id
   )
   select f.member_id, f.from_code, f.to_code from final f`,
);

/** The job's changes in one statement, from a JSON array of `{member_id, from_code, to_code, reason, detail}`. */
export const insertHistorySetStatement = statement<[programId: string, structureVersion: number, changedAt: Date, changes: string]>(
  'tiers.insert_history_set',
  `insert into tier_history (program_id, member_id, from_code, to_code, reason, detail, structure_version, changed_at)
   select ?, x.member_id, x.from_code, x.to_code, x.reason, x.detail, ?, ?
   from jsonb_to_recordset(?::jsonb) as x(member_id uuid, from_code text, to_code text, reason text, detail text)`,
);

/**
 * The requalify job's work for one program at `t`:
 * 1. grants (VIP, paid memberships) that ended fall away: the tier in force becomes the earned one;
 * 2. members holding an earned tier above the base who have held it for a grace period and have
 *    not qualified for it at any moment of the lookback go down by the structure's policy.
 * Each change of the tier in force is recorded. Returns the changes.
 */
export async function runRequalify(tx: Queryable, programId: string, structure: TierStructure, timeZone: string, t: Date): Promise<TierChange[]> {
  const lapsed = await tx.run(endGrantsStatement, [...levelParams(structure), programId, t, t, t]);
  const changes: TierChange[] = [];
  for (const r of lapsed) {
    if (r.from_code === r.to_code) continue;
    const paid = r.grant_kind === 'paid';
    changes.push(change(programId, r, paid ? 'membership_lapsed' : 'assignment_ended', paid ? 'Paid membership ended' : 'Assignment ended', structure.version, t));
  }
  if (structure.downgradePolicy !== 'none') {
    const graceStart = new Date(t.getTime() - structure.graceDays * 86_400_000);
    const down = await tx.run(downgradeStatement[structure.metric], [
      ...levelParams(structure), programId, graceStart, ...justifiedParams(structure, timeZone, t), structure.downgradePolicy,
    ]);
    for (const r of down) {
      if (r.from_code !== r.to_code) changes.push(change(programId, r, 'grace_ended', `Not qualified for ${structure.graceDays} days`, structure.version, t));
    }
  }
  if (changes.length > 0) {
    await tx.run(insertHistorySetStatement, [programId, structure.version, t, JSON.stringify(changes.map((c) => ({
      member_id: c.memberId, from_code: c.fromCode, to_code: c.toCode, reason: c.reason, detail: c.detail,
    })))]);
  }
  return changes;
}
