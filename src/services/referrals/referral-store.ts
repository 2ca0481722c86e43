import { randomUUID } from 'node:crypto';
import type { Sql } from '../../db/database';
import type { ReferralVia } from '../../entities/referral';
import { pgArray } from '../shared';
import type { Signal, SignalKind } from './logic';

/**
 * The referral module's SQL, one function per statement, with the rows they read. Writers of
 * referral_code, referral, referral_path, referral_attempt, referral_signal, referral_site
 * (and of member.referrer_id, the mirror of the direct referrer).
 */

export interface MemberFactsRow {
  id: string;
  email: string | null;
  phone: string | null;
  referrer_id: string | null;
  signals: Signal[];
}

export interface AttemptRow {
  id: string;
  member_id: string;
  referrer_id: string | null;
  via: ReferralVia;
  detail: string | null;
  accepted: boolean;
  reason: string | null;
  created_at: Date;
}

export interface NodeRow {
  member_id: string;
  referrer_id: string;
  external_id: string;
  name: string | null;
  via: ReferralVia;
  created_at: Date;
}

export interface LevelStatsRow {
  depth: number;
  members: number;
  paid_orders: number;
  points: number;
}

export interface RefereeRow extends NodeRow {
  depth: number;
  paid_orders: number;
  points: number;
}

export interface SiteRow {
  id: string;
  member_id: string;
  origin: string;
  host: string;
  token: string;
  verified_at: Date | null;
  checked_at: Date | null;
  last_error: string | null;
  created_at: Date;
}

export interface ProgramReferralSettingsRow {
  referral_link_template: string;
  referral_max_depth: number;
  return_window_days: number | null;
  pending_days: number;
}

/** Attributions in a program are written one at a time: the closure of a subtree moved under a referrer stays whole. */
export async function lockProgramTree(tx: Sql, programId: string): Promise<void> {
  await tx.execute(`select pg_advisory_xact_lock(hashtextextended('patron:referrals:' || ?, 0))`, [programId]);
}

export async function programSettings(db: Sql, programId: string): Promise<ProgramReferralSettingsRow | null> {
  const [row] = await db.execute<ProgramReferralSettingsRow>(
    'select referral_link_template, referral_max_depth, return_window_days, pending_days from program where id = ?',
    [programId],
  );
  return row ?? null;
}

export async function codesOf(db: Sql, programId: string, memberIds: readonly string[]): Promise<Map<string, string>> {
  const rows = await db.execute<{ member_id: string; code: string }>(
    'select member_id, code from referral_code where program_id = ? and member_id = any(?::uuid[])',
    [programId, pgArray(memberIds)],
  );
  return new Map(rows.map((r) => [r.member_id, r.code]));
}

/** Gives each member in the program the code proposed for them unless they have one; returns the members whose code was taken by another. */
export async function insertCodes(db: Sql, programId: string, proposals: Array<{ memberId: string; code: string }>, now: Date) {
  await db.execute(
    `insert into referral_code (member_id, program_id, code, created_at)
     select p.member_id, m.program_id, p.code, ? from unnest(?::uuid[], ?::text[]) as p(member_id, code)
     join member m on m.id = p.member_id and m.program_id = ?
     on conflict do nothing`,
    [now, pgArray(proposals.map((p) => p.memberId)), pgArray(proposals.map((p) => p.code)), programId],
  );
}

export async function memberByCode(db: Sql, programId: string, code: string): Promise<string | null> {
  const [row] = await db.execute<{ member_id: string }>('select member_id from referral_code where program_id = ? and code = ?', [programId, code]);
  return row?.member_id ?? null;
}

/** The member's contacts, current referrer and reported signals, by id or by the shop's reference column. */
export async function memberFacts(db: Sql, programId: string, column: 'id' | 'external_id' | 'email' | 'phone', value: string) {
  const [row] = await db.execute<MemberFactsRow>(
    `select m.id, m.email, m.phone, r.referrer_id,
       coalesce((select json_agg(json_build_object('kind', s.kind, 'hash', s.hash)) from referral_signal s where s.member_id = m.id), '[]') as signals
     from member m left join referral r on r.member_id = m.id
     where m.program_id = ? and m.${column} = ?`,
    [programId, value],
  );
  return row ?? null;
}

export async function hasPaidOrder(db: Sql, memberId: string): Promise<boolean> {
  const rows = await db.execute('select 1 from shop_order where member_id = ? and paid_at is not null limit 1', [memberId]);
  return rows.length > 0;
}

/** Where the two members stand in the tree: is `referrerId` the member or below them, how deep is the referrer, how tall the member's network. */
export async function treePosition(db: Sql, memberId: string, referrerId: string) {
  const [row] = await db.execute<{ in_network: boolean; referrer_level: number; network_height: number }>(
    `select exists (select 1 from referral_path where member_id = ? and ancestor_id = ?) as in_network,
       (select coalesce(max(depth), 0) from referral_path where member_id = ?)::int as referrer_level,
       (select coalesce(max(depth), 0) from referral_path where ancestor_id = ?)::int as network_height`,
    [referrerId, memberId, referrerId, memberId],
  );
  return { inNetwork: row.in_network, referrerLevel: row.referrer_level, networkHeight: row.network_height };
}

export async function recordSignals(db: Sql, programId: string, memberId: string, signals: Signal[], now: Date): Promise<void> {
  if (signals.length === 0) return;
  await db.execute(
    `insert into referral_signal (member_id, kind, hash, program_id, created_at)
     select ?, s.kind, s.hash, ?, ? from unnest(?::text[], ?::text[]) as s(kind, hash) on conflict do nothing`,
    [memberId, programId, now, pgArray(signals.map((s) => s.kind)), pgArray(signals.map((s) => s.hash))],
  );
}

export async function recordAttempt(
  db: Sql,
  a: { programId: string; memberId: string; referrerId: string | null; via: ReferralVia; detail: string | null; reason: string | null; now: Date },
): Promise<AttemptRow> {
  const [row] = await db.execute<AttemptRow>(
    `insert into referral_attempt (id, program_id, member_id, referrer_id, via, detail, accepted, reason, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?) returning *`,
    [randomUUID(), a.programId, a.memberId, a.referrerId, a.via, a.detail, a.reason === null, a.reason, a.now],
  );
  return row;
}

/**
 * Binds the member (and their network) under the referrer: the edge, the mirror in
 * member.referrer_id, and the closure rows — every member of the member's network (the member
 * at 0) gets every ancestor of the referrer (the referrer at 1) at the sum of the distances.
 */
export async function bind(db: Sql, programId: string, memberId: string, referrerId: string, via: ReferralVia, now: Date): Promise<void> {
  await db.execute(
    `with edge as (
       insert into referral (member_id, program_id, referrer_id, via, created_at) values (?, ?, ?, ?, ?)
     ), mirror as (
       update member set referrer_id = ? where id = ?
     )
     insert into referral_path (member_id, depth, ancestor_id, program_id)
     select d.member_id, d.depth + a.depth, a.ancestor_id, ?
     from (select ?::uuid as member_id, 0 as depth union all select member_id, depth from referral_path where ancestor_id = ?) d
     cross join (select ?::uuid as ancestor_id, 1 as depth union all select ancestor_id, depth + 1 from referral_path where member_id = ?) a`,
    [memberId, programId, referrerId, via, now, referrerId, memberId, programId, memberId, memberId, referrerId, referrerId],
  );
}

/** A registration's referrer refused: member.referrer_id no longer names them. */
export async function clearMirror(db: Sql, memberId: string): Promise<void> {
  await db.execute('update member set referrer_id = null where id = ?', [memberId]);
}

/** The referrer `depth` levels above the member: one index lookup. */
export async function ancestorAt(db: Sql, memberId: string, depth: number): Promise<string | null> {
  const [row] = await db.execute<{ ancestor_id: string }>('select ancestor_id from referral_path where member_id = ? and depth = ?', [memberId, depth]);
  return row?.ancestor_id ?? null;
}

const NODE_COLUMNS = `r.member_id, r.referrer_id, m.external_id, m.name, r.via, r.created_at`;

/** The tree's root: the member, if in the program. */
export async function member(db: Sql, programId: string, memberId: string) {
  const [row] = await db.execute<{ id: string; external_id: string; name: string | null }>(
    'select id, external_id, name from member where id = ? and program_id = ?',
    [memberId, programId],
  );
  return row ?? null;
}

/** The direct referees of all these members, in one statement (a tree level). */
export async function childrenOf(db: Sql, programId: string, referrerIds: readonly string[]): Promise<NodeRow[]> {
  return db.execute<NodeRow>(
    `select ${NODE_COLUMNS} from referral r join member m on m.id = r.member_id
     where r.program_id = ? and r.referrer_id = any(?::uuid[]) order by r.created_at, r.member_id`,
    [programId, pgArray(referrerIds)],
  );
}

/**
 * The member's network per level: members, their paid orders (not cancelled or wholly returned),
 * and the points the member earned from that level (awards less what was taken back).
 */
export async function levelStats(db: Sql, memberId: string): Promise<LevelStatsRow[]> {
  return db.execute<LevelStatsRow>(
    `with network as (select member_id, depth from referral_path where ancestor_id = ?),
     members as (select depth, count(*)::int as members from network group by depth),
     orders as (
       select n.depth, count(*)::int as paid_orders from network n
       join shop_order o on o.member_id = n.member_id
       where o.paid_at is not null and o.status not in ('cancelled', 'refunded') group by n.depth
     ),
     points as (
       select a.referrer_level as depth, sum(a.points - coalesce(oa.taken_back, 0))::bigint as points
       from rule_award a left join shop_order_award oa on oa.entry_id = a.entry_id
       where a.member_id = ? and a.referrer_level is not null group by a.referrer_level
     )
     select m.depth, m.members, coalesce(o.paid_orders, 0) as paid_orders, coalesce(p.points, 0)::bigint as points
     from members m left join orders o using (depth) left join points p using (depth) order by m.depth`,
    [memberId, memberId],
  );
}

/** One page of the member's referees at `depth`, in the order they joined, after the cursor. */
export async function referees(
  db: Sql,
  programId: string,
  memberId: string,
  depth: number,
  after: { createdAt: Date; memberId: string } | null,
  limit: number,
): Promise<RefereeRow[]> {
  return db.execute<RefereeRow>(
    `select ${NODE_COLUMNS}, p.depth::int as depth,
       (select count(*) from shop_order o where o.member_id = r.member_id and o.paid_at is not null
          and o.status not in ('cancelled', 'refunded'))::int as paid_orders,
       (select coalesce(sum(a.points - coalesce(oa.taken_back, 0)), 0) from rule_award a
          left join shop_order_award oa on oa.entry_id = a.entry_id
          where a.member_id = ? and a.source_member_id = r.member_id and a.referrer_level is not null)::bigint as points
     from referral_path p join referral r on r.member_id = p.member_id join member m on m.id = p.member_id
     where p.ancestor_id = ? and p.depth = ? and p.program_id = ?
       and (?::timestamptz is null or (r.created_at, r.member_id) > (?::timestamptz, ?::uuid))
     order by r.created_at, r.member_id limit ?`,
    [memberId, memberId, depth, programId, after?.createdAt ?? null, after?.createdAt ?? null, after?.memberId ?? null, limit],
  );
}

export async function attempts(
  db: Sql,
  programId: string,
  filter: { memberId: string | null; refusedOnly: boolean },
  after: { createdAt: Date; id: string } | null,
  limit: number,
): Promise<AttemptRow[]> {
  return db.execute<AttemptRow>(
    `select * from referral_attempt
     where program_id = ? and (?::uuid is null or member_id = ?) and (not ? or not accepted)
       and (?::timestamptz is null or (created_at, id) < (?::timestamptz, ?::uuid))
     order by created_at desc, id desc limit ?`,
    [programId, filter.memberId, filter.memberId, filter.refusedOnly, after?.createdAt ?? null, after?.createdAt ?? null, after?.id ?? null, limit],
  );
}

export async function upsertSite(db: Sql, s: { programId: string; memberId: string; origin: string; host: string; token: string; now: Date }) {
  const [row] = await db.execute<SiteRow>(
    `insert into referral_site (id, program_id, member_id, origin, host, token, created_at) values (?, ?, ?, ?, ?, ?, ?)
     on conflict (member_id, host) do update set origin = excluded.origin
     returning *`,
    [randomUUID(), s.programId, s.memberId, s.origin, s.host, s.token, s.now],
  );
  return row;
}

export async function site(db: Sql, programId: string, siteId: string): Promise<SiteRow | null> {
  const [row] = await db.execute<SiteRow>('select * from referral_site where id = ? and program_id = ?', [siteId, programId]);
  return row ?? null;
}

export async function sitesOf(db: Sql, memberId: string): Promise<SiteRow[]> {
  return db.execute<SiteRow>('select * from referral_site where member_id = ? order by created_at, id', [memberId]);
}

/** Records a check; a verified host stays with the member who verified it first (unique index → error code 23505). */
export async function recordCheck(db: Sql, siteId: string, verified: boolean, error: string | null, now: Date): Promise<SiteRow> {
  const [row] = await db.execute<SiteRow>(
    `update referral_site set checked_at = ?, last_error = ?,
       verified_at = case when ? then coalesce(verified_at, ?) else null end
     where id = ? returning *`,
    [now, error, verified, now, siteId],
  );
  return row;
}

export async function verifiedSiteOwner(db: Sql, programId: string, host: string): Promise<string | null> {
  const [row] = await db.execute<{ member_id: string }>(
    'select member_id from referral_site where program_id = ? and host = ? and verified_at is not null',
    [programId, host],
  );
  return row?.member_id ?? null;
}

export const signalKinds: readonly SignalKind[] = ['device', 'ip'];
