import { statement } from '../../db/statement';
import type { CauseType, EntryKind } from '../../entities/ledger-entry';
import type { MemberStatus } from '../../entities/member';
import type { NegativeBalancePolicy } from '../../entities/program';

/**
 * The account book's SQL: locking an account, writing an entry with its lots and balances in one
 * statement, and reading the lots a write takes from or gives back to. Every statement runs under
 * the account's row lock, taken by `lockAccount*` first.
 */

/** A ledger_entry row as statements return it (`returning *`, plus the lot an accrual created). */
export interface EntryRow {
  id: number;
  program_id: string;
  account_id: string;
  kind: EntryKind;
  amount: number;
  delta_available: number;
  delta_pending: number;
  delta_reserved: number;
  delta_debt: number;
  available_after: number;
  pending_after: number;
  reserved_after: number;
  cause_type: CauseType;
  cause_id: string | null;
  rule_version_id: string | null;
  reason: string | null;
  idempotency_key: string | null;
  reverses_entry_id: number | null;
  partly_reverses_entry_id: number | null;
  authorization_id: string | null;
  owner_type: string | null;
  owner_id: string | null;
  created_at: Date;
  lot_id?: number | null;
}

/** The `account` table's row. */
export interface AccountRow {
  id: string;
  program_id: string;
  member_id: string;
  available: number;
  pending: number;
  reserved: number;
  debt: number;
  lifetime_earned: number;
  lifetime_redeemed: number;
  lifetime_expired: number;
}

export interface LockedAccountRow extends AccountRow {
  member_status: MemberStatus;
  default_lifetime_days: number | null;
  pending_days: number;
  authorization_ttl_seconds: number;
  point_value_minor: number;
  currency: string;
  negative_balance_policy: NegativeBalancePolicy;
  has_overdue: boolean;
  has_due: boolean;
}

type LockParams = [now: Date, now: Date, member: string, programId: string];

/** The account of the member `memberIs` finds, locked, with the program settings a write needs. */
const lockAccountWhere = (memberIs: string) =>
  `select a.*, m.status as member_status, p.default_lifetime_days, p.pending_days, p.authorization_ttl_seconds,
     p.point_value_minor, p.currency, p.negative_balance_policy,
     exists (select 1 from lot l where l.account_id = a.id and l.remaining > 0 and l.expires_at <= ?) as has_overdue,
     exists (select 1 from lot l where l.account_id = a.id and l.remaining > 0
               and l.activated_at is null and l.available_at <= ?) as has_due
   from member m join account a on a.member_id = m.id join program p on p.id = m.program_id
   where ${memberIs} and m.program_id = ?
   for update of a`;

/** The account of a member found by one column, locked. */
const lockAccountBy = (name: string, column: string) =>
  statement<LockParams, LockedAccountRow>(`ledger.lock_account_by_${name}`, lockAccountWhere(`m.${column} = ?`));

/**
 * The account of the member another module's SQL finds (`memberIdSql` selects one member id
 * from `key`), locked: one round trip where a lookup and then the lock would be two.
 */
export const lockAccountOfMemberIn = (name: string, memberIdSql: string) =>
  statement<[now: Date, now: Date, ...key: unknown[], programId: string], LockedAccountRow>(name, lockAccountWhere(`m.id = (${memberIdSql})`));

/** By the member column a reference names (see memberRefColumn). */
export const lockAccount: Readonly<Record<string, ReturnType<typeof lockAccountBy>>> = {
  id: lockAccountBy('id', 'id'),
  external_id: lockAccountBy('external_id', 'external_id'),
  email: lockAccountBy('email', 'email'),
  phone: lockAccountBy('phone', 'phone'),
};

/** An entry's own values and the account's balances after it ($1–$25 of every posting statement). */
export type PostEntryParams = [
  programId: string, accountId: string, kind: EntryKind, amount: number,
  deltaAvailable: number, deltaPending: number, deltaReserved: number, deltaDebt: number,
  availableAfter: number, pendingAfter: number, reservedAfter: number,
  causeType: CauseType, causeId: string | null, ruleVersionId: string | null, reason: string | null, idempotencyKey: string | null,
  reversesEntryId: number | null, partlyReversesEntryId: number | null, authorizationId: string | null,
  ownerType: string | null, ownerId: string | null, now: Date,
  debtAfter: number, lifetimeEarned: number, lifetimeRedeemed: number,
];
/** A new lot: its amount, availableAt, activatedAt, expiresAt. */
export type NewLotParams = [amount: number, availableAt: Date, activatedAt: Date | null, expiresAt: Date | null];
/** Lot changes, one element per lot (an update must not touch a row twice): ids, amounts, forgiven. */
export type LotChangeParams = [lotIds: string, amounts: string, forgiven: string];

const POST_ENTRY = `with e as (
     insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
       delta_debt, available_after, pending_after, reserved_after, cause_type, cause_id, rule_version_id, reason,
       idempotency_key, reverses_entry_id, partly_reverses_entry_id, authorization_id, owner_type, owner_id, created_at)
     values ($1, $2, $3::entry_kind, $4, $5, $6, $7, $8, $9, $10, $11, $12::cause_type, $13, $14::uuid, $15, $16,
       $17::bigint, $18::bigint, $19::uuid, $20, $21, $22)
     returning *
   ), a as (
     update account set available = $9, pending = $10, reserved = $11, debt = $23, lifetime_earned = $24,
       lifetime_redeemed = $25, entry_count = entry_count + 1, updated_at = $22
     where id = $2
   )`;

const NEW_LOT = (at: number) => `, l as (
     insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at)
     select $1, $2, e.id, $${at}::bigint, $${at}::bigint, $${at + 1}, $${at + 2}, $${at + 3}, $22 from e
     returning id
   )`;

// ledger_lot_changes is unnest with a fixed row estimate: planned generically, the statement costs
// what it costs with its values, so PostgreSQL keeps the generic plan instead of planning every call.
const LOT_CHANGES = (at: number) => `, ch as (
     select * from ledger_lot_changes($${at}::bigint[], $${at + 1}::bigint[], $${at + 2}::bigint[]) as ch
   ), al as (
     insert into lot_allocation (entry_id, lot_id, amount)
     select e.id, ch.lot_id, ch.amount from e, ch where ch.amount <> 0
   ), lu as (
     update lot set remaining = lot.remaining + ch.amount, forgiven = lot.forgiven + ch.forgiven
     from ch where lot.id = ch.lot_id
   )`;

/**
 * One entry, its new lot or its lot changes, and the account's new cached balances, in one
 * statement, so the account lock is held no longer than the SQL needs. One statement per shape
 * (plain, with a new lot, with lot changes): each is planned for just what it does.
 */
export const postEntry = {
  plain: statement<PostEntryParams, EntryRow>('ledger.post_entry', `${POST_ENTRY}\n   select e.*, null::bigint as lot_id from e`),
  newLot: statement<[...PostEntryParams, ...NewLotParams], EntryRow>(
    'ledger.post_entry_new_lot',
    `${POST_ENTRY}${NEW_LOT(26)}\n   select e.*, (select id from l) as lot_id from e`,
  ),
  lotChanges: statement<[...PostEntryParams, ...LotChangeParams], EntryRow>(
    'ledger.post_entry_lot_changes',
    `${POST_ENTRY}${LOT_CHANGES(26)}\n   select e.*, null::bigint as lot_id from e`,
  ),
};

/**
 * Several accruals in their order (`accruals`: a JSON array of rows), each with its lots (`lots`:
 * one per lifetime: an entry whose parts live differently splits into several) and, for an
 * entry rules gave, its per-rule parts (`rules`: one rule_award row each, naming the entry and
 * the source — what the rules' caps count and what the history shows), and the account's
 * balances after the last. Entries are inserted in the accruals' order, so their ids ascend in
 * it; each lot and part joins its entry by that order. `lot_id` is the entry's first lot.
 */
export const accrueMany = statement<
  [accruals: string, programId: string, accountId: string, reserved: number, now: Date,
    available: number, pending: number, lifetimeEarned: number, count: number, memberId: string],
  EntryRow
>(
  'ledger.accrue_many',
  `with x as (
     select * from jsonb_to_recordset($1::jsonb) as x(ord int, kind entry_kind, amount bigint, delta_available bigint,
       delta_pending bigint, available_after bigint, pending_after bigint, cause_type cause_type, cause_id text,
       rule_version_id uuid, reason text, idempotency_key text, owner_type text, owner_id text, lots jsonb, rules jsonb,
       source_member_id uuid, source_type text, source_id text)
   ), e as (
     insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
       delta_debt, available_after, pending_after, reserved_after, cause_type, cause_id, rule_version_id, reason,
       idempotency_key, reverses_entry_id, partly_reverses_entry_id, authorization_id, owner_type, owner_id, created_at)
     select $2, $3, x.kind, x.amount, x.delta_available, x.delta_pending, 0, 0, x.available_after, x.pending_after, $4,
       x.cause_type, x.cause_id, x.rule_version_id, x.reason, x.idempotency_key, null, null, null, x.owner_type, x.owner_id, $5
     from x order by x.ord
     returning *
   ), a as (
     update account set available = $6, pending = $7, lifetime_earned = $8, entry_count = entry_count + $9, updated_at = $5
     where id = $3
   ), n as (
     select e.*, row_number() over (order by e.id) as ord from e
   ), l as (
     insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at)
     select $2, $3, n.id, lt.amount, lt.amount, lt.available_at, lt.activated_at, lt.expires_at, $5
     from n join x on x.ord = n.ord
       cross join lateral rows from (jsonb_to_recordset(x.lots) as (amount bigint, available_at timestamptz,
         activated_at timestamptz, expires_at timestamptz)) with ordinality as lt(amount, available_at, activated_at, expires_at, i)
     order by n.id, lt.i
     returning id, source_entry_id
   ), ra as (
     insert into rule_award (program_id, source_member_id, source_type, source_id, awarded_at,
       rule_id, rule_version_id, member_id, account_id, referrer_level, points, one_off, entry_id)
     select $2, x.source_member_id, x.source_type, x.source_id, $5,
       r.rule_id, r.rule_version_id, $10, $3, r.referrer_level, r.points, r.one_off, n.id
     from n join x on x.ord = n.ord
       cross join lateral rows from (jsonb_to_recordset(x.rules) as (rule_id uuid, rule_version_id uuid, referrer_level int,
         points bigint, one_off boolean)) with ordinality as r(rule_id, rule_version_id, referrer_level, points, one_off, i)
     order by n.id, r.i
   )
   select n.*, (select min(l.id) from l where l.source_entry_id = n.id) as lot_id from n order by n.id`,
);

/** One lot of an accrual. */
export interface AccrualLotRow {
  id: number;
  remaining: number;
  active: boolean;
  expired: number;
  forgiven: number;
  /** What entries other than expiry and the accrual's own take-backs took from the lot, net (what may be forgiven). */
  spent_elsewhere: number;
}

/**
 * The lots an accrual created (one, or one per lifetime), nearest expiry first: what each still
 * holds, what expired from it unused, and what others took from it (see verifyLedger's
 * lot_forgiven check).
 */
export const accrualLots = statement<[entryId: number, accountId: string], AccrualLotRow>(
  'ledger.accrual_lots',
  `select l.id, l.remaining, l.activated_at is not null as active, l.forgiven,
     coalesce(-sum(la.amount) filter (where e.kind = 'expiry'), 0) as expired,
     coalesce(-sum(la.amount) filter (where e.kind <> 'expiry' and e.reverses_entry_id is distinct from l.source_entry_id
       and e.partly_reverses_entry_id is distinct from l.source_entry_id), 0) as spent_elsewhere
   from lot l left join lot_allocation la on la.lot_id = l.id left join ledger_entry e on e.id = la.entry_id
   where l.source_entry_id = ? and l.account_id = ?
   group by l.id order by l.expires_at nulls last, l.id`,
);

/** An entry that reversed the given one, whole or (with `includingParts`) in part. */
export const reversalOf = statement<[entryId: number, includingParts: boolean], { id: number; partial: boolean }>(
  'ledger.reversal_of',
  `select id, reverses_entry_id is null as partial from ledger_entry
   where reverses_entry_id = $1 or ($2 and partly_reverses_entry_id = $1)
   order by reverses_entry_id nulls last limit 1`,
);

/** What a take-back still owes back to one lot it covered from (`lot_id`), or as debt (`lot_id` null). */
export interface OutstandingCoverRow {
  returned_lot_id: number;
  takeback_id: number;
  lot_id: number | null;
  outstanding: number;
}

/**
 * For each of the given lots (an accrual's, that points just came back to): the take-backs of
 * its accrual that covered its spent points from other lots or booked them as debt, and what of
 * that cover is not given back yet — the cover less what entries partly reversing the take-back
 * returned. Take-backs oldest first; per take-back the debt first, then its lots by id.
 */
export const outstandingCover = statement<[lotIds: string], OutstandingCoverRow>(
  'ledger.outstanding_cover',
  `with returned as (select id, source_entry_id from lot where id = any(?::bigint[])),
   takeback as (
     select r.id as returned_lot_id, r.source_entry_id, e.id, e.delta_debt
     from returned r join ledger_entry e on e.reverses_entry_id = r.source_entry_id or e.partly_reverses_entry_id = r.source_entry_id
     where e.amount < 0
   ), cover as (
     select t.returned_lot_id, t.id as takeback_id, null::bigint as lot_id, t.delta_debt as covered
     from takeback t where t.delta_debt > 0
     union all
     select t.returned_lot_id, t.id, la.lot_id, -la.amount
     from takeback t join lot_allocation la on la.entry_id = t.id join lot l on l.id = la.lot_id
     where la.amount < 0 and l.source_entry_id <> t.source_entry_id
   )
   select c.returned_lot_id, c.takeback_id, c.lot_id,
     c.covered - coalesce((
       select case when c.lot_id is null then -sum(g.delta_debt) else sum(ga.amount) end
       from ledger_entry g left join lot_allocation ga on ga.entry_id = g.id and ga.lot_id = c.lot_id
       where g.partly_reverses_entry_id = c.takeback_id
     ), 0) as outstanding
   from cover c
   order by c.returned_lot_id, c.takeback_id, c.lot_id nulls first`,
);

/** Lots among the given that forgave points to a take-back. */
export const forgivingLots = statement<[lotIds: string], { id: number; source_entry_id: number; forgiven: number }>(
  'ledger.forgiving_lots',
  'select id, source_entry_id, forgiven from lot where id = any(?::bigint[]) and forgiven > 0 order by id',
);

/** How many lots a spend reads before it falls back to all of an account's lots. */
export const FIRST_LOTS = 50;

type SpendableRow = { id: number; take: number };
type SpendableParams = [wanted: number, accountId: string, now: Date, wanted: number];
type SpendableExceptParams = [wanted: number, accountId: string, now: Date, excludeLotIds: string, wanted: number];

/** The lots a spend may take from: active, not past `now`, and (`except`) not among the lots named. */
const spendable = (except: boolean) => `l.account_id = ? and l.remaining > 0 and l.activated_at is not null
         and (l.expires_at is null or l.expires_at > ?)${except ? ' and l.id <> all(?::bigint[])' : ''}`;

/**
 * An account's spendable lots, nearest expiry first, with `before`: the points of the lots ahead.
 * Taking `least(remaining, wanted - before)` from the lots `where before < wanted` covers
 * `wanted`. `first` walks only the first FIRST_LOTS lots (an index range): most spends are
 * covered by a few. The limit is written in the text, and the exclusion of named lots (a
 * take-back spares the entry's own lots) is a statement of its own: as parameters, their generic
 * plans were costed unlike the values' and never chosen, so redemptions were planned again on
 * every call.
 */
const firstSpendable = (except: boolean) => `select id, least(remaining, ? - before) as take from (
     select id, remaining, (sum(remaining) over (order by expires_at nulls last, id) - remaining)::bigint as before
     from (
       select l.id, l.remaining, l.expires_at from lot l
       where ${spendable(except)}
       order by l.expires_at nulls last, l.id limit ${FIRST_LOTS}
     ) first_lots
   ) lots where before < ? order by before`;

const allSpendable = (except: boolean) => `select id, least(remaining, ? - before) as take from (
     select l.id, l.remaining,
       (sum(l.remaining) over (order by l.expires_at nulls last, l.id) - l.remaining)::bigint as before
     from lot l
     where ${spendable(except)}
   ) lots where before < ? order by before`;

export const spendableLots = {
  first: statement<SpendableParams, SpendableRow>('ledger.first_spendable_lots', firstSpendable(false)),
  all: statement<SpendableParams, SpendableRow>('ledger.all_spendable_lots', allSpendable(false)),
  firstExcept: statement<SpendableExceptParams, SpendableRow>('ledger.first_spendable_lots_except', firstSpendable(true)),
  allExcept: statement<SpendableExceptParams, SpendableRow>('ledger.all_spendable_lots_except', allSpendable(true)),
};

/** What the given entries took from lots, per lot, as changes that give it back. */
export const allocationsOf = statement<[entryIds: string], { lot_id: number; amount: number }>(
  'ledger.allocations_of',
  `select lot_id, -sum(amount) as amount from lot_allocation where entry_id = any(?::bigint[])
   group by lot_id having sum(amount) <> 0 order by lot_id`,
);

/** Points an authorization still holds, per lot, latest expiry first (released first). */
export const heldByAuthorization = statement<[accountId: string, authorizationId: string], { lot_id: number; held: number }>(
  'ledger.held_by_authorization',
  `select la.lot_id, -sum(la.amount) as held
   from lot_allocation la
   join ledger_entry e on e.id = la.entry_id
   join lot l on l.id = la.lot_id
   where e.account_id = ? and e.authorization_id = ?
   group by la.lot_id, l.expires_at
   having sum(la.amount) < 0
   order by l.expires_at desc nulls first, la.lot_id desc`,
);

/** A new member's account, empty. */
export const openAccount = statement<[id: string, programId: string, memberId: string, now: Date], never>(
  'ledger.open_account',
  'insert into account (id, program_id, member_id, updated_at) values (?, ?, ?, ?)',
);
