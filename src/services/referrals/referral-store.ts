import { randomUUID } from 'node:crypto';
import { statement, type Statement, type Queryable } from '../../db/statement';
import type { ReferralVia } from '../../entities/referral';
import { pgArray } from '../shared';
import type { Signal, SignalKind } from './logic';

/**
 * The referral module's SQL: each statement declared once below, run by the function after it
 * (one function per use, with the rows they read). Writers of referral_code, referral,
 * referral_path, referral_attempt, referral_signal, referral_site (and of member.referrer_id,
 * the mirror of the direct referrer). Arrays go as `pgArray` literals cast in the SQL.
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

export interface TreePositionRow {
  in_network: boolean;
  referrer_level: number;
  network_height: number;
}

export interface TreeRootRow {
  id: string;
  external_id: string;
  name: string | null;
}

/** How a caller names a member: our id, or the shop's id, e-mail or phone. */
export type MemberColumn = 'id' | 'external_id' | 'email' | 'phone';

// ── Statements ────────────────────────────────────────────────────────────────────────────────

const lockTree = statement<[programId: string]>(
  'referrals.lock_program_tree',
  `select pg_advisory_xact_lock(hashtextextended('patron:referrals:' || ?, 0))`,
);

const selectProgramSettings = statement<[programId: string], ProgramReferralSettingsRow>(
  'referrals.program_settings',
  'select referral_link_template, referral_max_depth, return_window_days, pending_days from program where id = ?',
);

const selectCodes = statement<[programId: string, memberIds: string], { member_id: string; code: string }>(
  'referrals.codes_of',
  'select member_id, code from referral_code where program_id = ? and member_id = any(?::uuid[])',
);

const insertCodesStmt = statement<[now: Date, memberIds: string, codes: string, programId: string]>(
  'referrals.insert_codes',
  `insert into referral_code (member_id, program_id, code, created_at)
   select p.member_id, m.program_id, p.code, ? from unnest(?::uuid[], ?::text[]) as p(member_id, code)
   join member m on m.id = p.member_id and m.program_id = ?
   on conflict do nothing`,
);

const selectCodeOwner = statement<[programId: string, code: string], { member_id: string }>(
  'referrals.member_by_code',
  'select member_id from referral_code where program_id = ? and code = ?',
);

const factsBy = (column: MemberColumn) =>
  statement<[programId: string, value: string], MemberFactsRow>(
    `referrals.member_facts_by_${column}`,
    `select m.id, m.email, m.phone, r.referrer_id,
       coalesce((select json_agg(json_build_object('kind', s.kind, 'hash', s.hash)) from referral_signal s where s.member_id = m.id), '[]') as signals
     from member m left join referral r on r.member_id = m.id
     where m.program_id = ? and m.${column} = ?`,
  );

/** One statement per way of naming a member, so each is planned with its own index. */
const selectMemberFacts: Record<MemberColumn, Statement<[programId: string, value: string], MemberFactsRow>> = {
  id: factsBy('id'),
  external_id: factsBy('external_id'),
  email: factsBy('email'),
  phone: factsBy('phone'),
};

const selectPaidOrder = statement<[memberId: string], { one: number }>(
  'referrals.has_paid_order',
  'select 1 as one from shop_order where member_id = ? and paid_at is not null limit 1',
);

const selectTreePosition = statement<[referrerId: string, memberId: string], TreePositionRow>(
  'referrals.tree_position',
  `select exists (select 1 from referral_path where member_id = $1 and ancestor_id = $2) as in_network,
     (select coalesce(max(depth), 0) from referral_path where member_id = $1)::int as referrer_level,
     (select coalesce(max(depth), 0) from referral_path where ancestor_id = $2)::int as network_height`,
);

const insertSignals = statement<[memberId: string, programId: string, now: Date, kinds: string, hashes: string]>(
  'referrals.record_signals',
  `insert into referral_signal (member_id, kind, hash, program_id, created_at)
   select ?, s.kind, s.hash, ?, ? from unnest(?::text[], ?::text[]) as s(kind, hash) on conflict do nothing`,
);

const insertAttempt = statement<
  [id: string, programId: string, memberId: string, referrerId: string | null, via: ReferralVia, detail: string | null,
    accepted: boolean, reason: string | null, now: Date],
  AttemptRow
>(
  'referrals.record_attempt',
  `insert into referral_attempt (id, program_id, member_id, referrer_id, via, detail, accepted, reason, created_at)
   values (?, ?, ?, ?, ?, ?, ?, ?, ?) returning *`,
);

const bindStmt = statement<[memberId: string, programId: string, referrerId: string, via: ReferralVia, now: Date]>(
  'referrals.bind',
  `with edge as (
     insert into referral (member_id, program_id, referrer_id, via, created_at) values ($1, $2, $3, $4, $5)
   ), mirror as (
     update member set referrer_id = $3 where id = $1
   )
   insert into referral_path (member_id, depth, ancestor_id, program_id)
   select d.member_id, d.depth + a.depth, a.ancestor_id, $2
   from (select $1::uuid as member_id, 0 as depth union all select member_id, depth from referral_path where ancestor_id = $1) d
   cross join (select $3::uuid as ancestor_id, 1 as depth union all select ancestor_id, depth + 1 from referral_path where member_id = $3) a`,
);

const clearMirrorStmt = statement<[memberId: string]>(
  'referrals.clear_mirror',
  'update member set referrer_id = null where id = ?',
);

const selectAncestorAt = statement<[memberId: string, depth: number], { ancestor_id: string }>(
  'referrals.ancestor_at',
  'select ancestor_id from referral_path where member_id = ? and depth = ?',
);

const selectTreeRoot = statement<[memberId: string, programId: string], TreeRootRow>(
  'referrals.tree_root',
  'select id, external_id, name from member where id = ? and program_id = ?',
);

const NODE_COLUMNS = `r.member_id, r.referrer_id, m.external_id, m.name, r.via, r.created_at`;

const selectChildren = statement<[programId: string, referrerIds: string], NodeRow>(
  'referrals.children_of',
  `select ${NODE_COLUMNS} from referral r join member m on m.id = r.member_id
   where r.program_id = ? and r.referrer_id = any(?::uuid[]) order by r.created_at, r.member_id`,
);

const selectLevelStats = statement<[memberId: string], LevelStatsRow>(
  'referrals.level_stats',
  `with network as (select member_id, depth from referral_path where ancestor_id = $1),
   members as (select depth, count(*)::int as members from network group by depth),
   orders as (
     select n.depth, count(*)::int as paid_orders from network n
     join shop_order o on o.member_id = n.member_id
     where o.paid_at is not null and o.status not in ('cancelled', 'refunded') group by n.depth
   ),
   points as (
     select a.referrer_level as depth, sum(a.points - coalesce(oa.taken_back, 0))::bigint as points
     from rule_award a left join shop_order_award oa on oa.entry_id = a.entry_id
     where a.member_id = $1 and a.referrer_level is not null group by a.referrer_level
   )
   select m.depth, m.members, coalesce(o.paid_orders, 0) as paid_orders, coalesce(p.points, 0)::bigint as points
   from members m left join orders o using (depth) left join points p using (depth) order by m.depth`,
);

const selectReferees = statement<
  [memberId: string, depth: number, programId: string, afterCreatedAt: Date | null, afterMemberId: string | null, limit: number],
  RefereeRow
>(
  'referrals.referees',
  `select ${NODE_COLUMNS}, p.depth::int as depth,
     (select count(*) from shop_order o where o.member_id = r.member_id and o.paid_at is not null
        and o.status not in ('cancelled', 'refunded'))::int as paid_orders,
     (select coalesce(sum(a.points - coalesce(oa.taken_back, 0)), 0) from rule_award a
        left join shop_order_award oa on oa.entry_id = a.entry_id
        where a.member_id = $1 and a.source_member_id = r.member_id and a.referrer_level is not null)::bigint as points
   from referral_path p join referral r on r.member_id = p.member_id join member m on m.id = p.member_id
   where p.ancestor_id = $1 and p.depth = $2 and p.program_id = $3
     and ($4::timestamptz is null or (r.created_at, r.member_id) > ($4::timestamptz, $5::uuid))
   order by r.created_at, r.member_id limit $6`,
);

const selectAttempts = statement<
  [programId: string, memberId: string | null, refusedOnly: boolean, beforeCreatedAt: Date | null, beforeId: string | null, limit: number],
  AttemptRow
>(
  'referrals.attempts',
  `select * from referral_attempt
   where program_id = $1 and ($2::uuid is null or member_id = $2) and (not $3 or not accepted)
     and ($4::timestamptz is null or (created_at, id) < ($4::timestamptz, $5::uuid))
   order by created_at desc, id desc limit $6`,
);

/** The attempt a member's registration made (a member registers once). */
export const registrationAttempt = statement<[programId: string, memberId: string], AttemptRow>(
  'referrals.registration_attempt',
  `select * from referral_attempt where program_id = $1 and member_id = $2 and via = 'registration' order by created_at desc, id desc limit 1`,
);

const upsertSiteStmt = statement<
  [id: string, programId: string, memberId: string, origin: string, host: string, token: string, now: Date],
  SiteRow
>(
  'referrals.upsert_site',
  `insert into referral_site (id, program_id, member_id, origin, host, token, created_at) values (?, ?, ?, ?, ?, ?, ?)
   on conflict (member_id, host) do update set origin = excluded.origin
   returning *`,
);

const selectSite = statement<[siteId: string, programId: string], SiteRow>(
  'referrals.site',
  'select * from referral_site where id = ? and program_id = ?',
);

const selectSitesOf = statement<[memberId: string], SiteRow>(
  'referrals.sites_of',
  'select * from referral_site where member_id = ? order by created_at, id',
);

const updateSiteCheck = statement<[now: Date, error: string | null, verified: boolean, siteId: string], SiteRow>(
  'referrals.record_site_check',
  `update referral_site set checked_at = $1, last_error = $2,
     verified_at = case when $3 then coalesce(verified_at, $1) else null end
   where id = $4 returning *`,
);

const selectVerifiedSiteOwner = statement<[programId: string, host: string], { member_id: string }>(
  'referrals.verified_site_owner',
  'select member_id from referral_site where program_id = ? and host = ? and verified_at is not null',
);

// ── What the services call ────────────────────────────────────────────────────────────────────

/** Attributions in a program are written one at a time: the closure of a subtree moved under a referrer stays whole. */
export async function lockProgramTree(tx: Queryable, programId: string): Promise<void> {
  await tx.run(lockTree, [programId]);
}

export async function programSettings(db: Queryable, programId: string): Promise<ProgramReferralSettingsRow | null> {
  const [row] = await db.run(selectProgramSettings, [programId]);
  return row ?? null;
}

export async function codesOf(db: Queryable, programId: string, memberIds: readonly string[]): Promise<Map<string, string>> {
  const rows = await db.run(selectCodes, [programId, pgArray(memberIds)]);
  return new Map(rows.map((r) => [r.member_id, r.code]));
}

/** Gives each member in the program the code proposed for them unless they have one (a code taken by another is skipped). */
export async function insertCodes(db: Queryable, programId: string, proposals: Array<{ memberId: string; code: string }>, now: Date) {
  await db.run(insertCodesStmt, [now, pgArray(proposals.map((p) => p.memberId)), pgArray(proposals.map((p) => p.code)), programId]);
}

export async function memberByCode(db: Queryable, programId: string, code: string): Promise<string | null> {
  const [row] = await db.run(selectCodeOwner, [programId, code]);
  return row?.member_id ?? null;
}

/** The member's contacts, current referrer and reported signals, by id or by the shop's reference column. */
export async function memberFacts(db: Queryable, programId: string, column: MemberColumn, value: string): Promise<MemberFactsRow | null> {
  const [row] = await db.run(selectMemberFacts[column], [programId, value]);
  return row ?? null;
}

export async function hasPaidOrder(db: Queryable, memberId: string): Promise<boolean> {
  const rows = await db.run(selectPaidOrder, [memberId]);
  return rows.length > 0;
}

/** Where the two members stand in the tree: is `referrerId` the member or below them, how deep is the referrer, how tall the member's network. */
export async function treePosition(db: Queryable, memberId: string, referrerId: string) {
  const [row] = await db.run(selectTreePosition, [referrerId, memberId]);
  return { inNetwork: row.in_network, referrerLevel: row.referrer_level, networkHeight: row.network_height };
}

export async function recordSignals(db: Queryable, programId: string, memberId: string, signals: Signal[], now: Date): Promise<void> {
  if (signals.length === 0) return;
  await db.run(insertSignals, [memberId, programId, now, pgArray(signals.map((s) => s.kind)), pgArray(signals.map((s) => s.hash))]);
}

export async function recordAttempt(
  db: Queryable,
  a: { programId: string; memberId: string; referrerId: string | null; via: ReferralVia; detail: string | null; reason: string | null; now: Date },
): Promise<AttemptRow> {
  const [row] = await db.run(insertAttempt, [randomUUID(), a.programId, a.memberId, a.referrerId, a.via, a.detail, a.reason === null, a.reason, a.now]);
  return row;
}

/**
 * Binds the member (and their network) under the referrer: the edge, the mirror in
 * member.referrer_id, and the closure rows — every member of the member's network (the member
 * at 0) gets every ancestor of the referrer (the referrer at 1) at the sum of the distances.
 */
export async function bind(db: Queryable, programId: string, memberId: string, referrerId: string, via: ReferralVia, now: Date): Promise<void> {
  await db.run(bindStmt, [memberId, programId, referrerId, via, now]);
}

/** A registration's referrer refused: member.referrer_id no longer names them. */
export async function clearMirror(db: Queryable, memberId: string): Promise<void> {
  await db.run(clearMirrorStmt, [memberId]);
}

/** The referrer `depth` levels above the member: one index lookup. */
export async function ancestorAt(db: Queryable, memberId: string, depth: number): Promise<string | null> {
  const [row] = await db.run(selectAncestorAt, [memberId, depth]);
  return row?.ancestor_id ?? null;
}

/** The tree's root: the member, if in the program. */
export async function member(db: Queryable, programId: string, memberId: string): Promise<TreeRootRow | null> {
  const [row] = await db.run(selectTreeRoot, [memberId, programId]);
  return row ?? null;
}

/** The direct referees of all these members, in one statement (a tree level). */
export async function childrenOf(db: Queryable, programId: string, referrerIds: readonly string[]): Promise<NodeRow[]> {
  return db.run(selectChildren, [programId, pgArray(referrerIds)]);
}

/**
 * The member's network per level: members, their paid orders (not cancelled or wholly returned),
 * and the points the member earned from that level (awards less what was taken back).
 */
export async function levelStats(db: Queryable, memberId: string): Promise<LevelStatsRow[]> {
  return db.run(selectLevelStats, [memberId]);
}

/** One page of the member's referees at `depth`, in the order they joined, after the cursor. */
export async function referees(
  db: Queryable,
  programId: string,
  memberId: string,
  depth: number,
  after: { createdAt: Date; memberId: string } | null,
  limit: number,
): Promise<RefereeRow[]> {
  return db.run(selectReferees, [memberId, depth, programId, after?.createdAt ?? null, after?.memberId ?? null, limit]);
}

/** The program's attempts, newest first, before the cursor; optionally one member's, or refused ones only. */
export async function attempts(
  db: Queryable,
  programId: string,
  filter: { memberId: string | null; refusedOnly: boolean },
  after: { createdAt: Date; id: string } | null,
  limit: number,
): Promise<AttemptRow[]> {
  return db.run(selectAttempts, [programId, filter.memberId, filter.refusedOnly, after?.createdAt ?? null, after?.id ?? null, limit]);
}

export async function upsertSite(db: Queryable, s: { programId: string; memberId: string; origin: string; host: string; token: string; now: Date }) {
  const [row] = await db.run(upsertSiteStmt, [randomUUID(), s.programId, s.memberId, s.origin, s.host, s.token, s.now]);
  return row;
}

export async function site(db: Queryable, programId: string, siteId: string): Promise<SiteRow | null> {
  const [row] = await db.run(selectSite, [siteId, programId]);
  return row ?? null;
}

export async function sitesOf(db: Queryable, memberId: string): Promise<SiteRow[]> {
  return db.run(selectSitesOf, [memberId]);
}

/** Records a check; a verified host stays with the member who verified it first (unique index → error code 23505). */
export async function recordCheck(db: Queryable, siteId: string, verified: boolean, error: string | null, now: Date): Promise<SiteRow> {
  const [row] = await db.run(updateSiteCheck, [now, error, verified, siteId]);
  return row;
}

export async function verifiedSiteOwner(db: Queryable, programId: string, host: string): Promise<string | null> {
  const [row] = await db.run(selectVerifiedSiteOwner, [programId, host]);
  return row?.member_id ?? null;
}

export const signalKinds: readonly SignalKind[] = ['device', 'ip'];
