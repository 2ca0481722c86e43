import { statement, type Statement } from '../../db/statement';
import type { EntryRow } from './book-store';

/**
 * Set-based statements over locked accounts: a book runs them for its own account, the jobs for
 * a batch of accounts, so expiry, activation and debt repayment are written one way only. Each
 * reads the lots under the callers' account locks (a writer may have moved some meanwhile), and
 * writes per account one entry whose *_after values come from the updated account row, the lots'
 * allocations and the lots themselves.
 */

/** A sweep's entry with the account's member, debt and lifetime expired right after, and the lots it changed. */
export interface SweptRow extends EntryRow {
  member_id: string;
  debt: number;
  lifetime_expired: number;
  lot_count: number;
}

type SweepParams = [accountIds: string, asOf: Date, asOf: Date, asOf: Date];

/** A slice of the accounts with due lots, by account id (inclusive at both ends). */
export interface AccountRange {
  from_id: string;
  to_id: string;
}

/**
 * A pass over due lots: the statement that moves them (all due lots of a set of locked
 * accounts), and for the jobs the statements that split the accounts with due lots into ranges
 * and lock a range's accounts in id order.
 */
export interface LotSweep {
  apply: Statement<SweepParams, SweptRow>;
  /**
   * The accounts with due lots, in id order, cut into ranges of about `batchSize` due lots:
   * an account starts a new range when the lots before it cross a multiple of `batchSize`, so
   * an account is never split and each gets one entry per sweep. One pass through the partial index.
   */
  dueRanges: Statement<[batchSize: number, asOf: Date], AccountRange>;
  lockAccounts: Statement<[fromAccountId: string, toAccountId: string, asOf: Date], { id: string }>;
}

function lotSweep(name: string, due: string, apply: string): LotSweep {
  return {
    apply: statement<SweepParams, SweptRow>(`ledger.${name}`, apply),
    dueRanges: statement(
      `ledger.${name}_due_ranges`,
      `select distinct on (band) first_value(account_id) over b as from_id, last_value(account_id) over b as to_id
       from (
         select l.account_id, (sum(count(*)) over (order by l.account_id) - count(*))::bigint / ?::bigint as band
         from lot l where ${due} group by l.account_id
       ) per_account
       window b as (partition by band order by account_id rows between unbounded preceding and unbounded following)
       order by band`,
    ),
    // By primary key over the range, each account probed for a due lot through its index:
    // a plan that does not depend on how many accounts the range holds.
    lockAccounts: statement(
      `ledger.${name}_lock_accounts`,
      `select a.id from account a
       where a.id between ? and ? and exists (select 1 from lot l where l.account_id = a.id and ${due})
       order by a.id for update of a`,
    ),
  };
}

/**
 * Why the sweeps have this shape: the jobs run them as prepared statements, and after five runs
 * PostgreSQL may keep a generic plan, made without the parameters. It then expects about one due
 * lot, so a join between two CTE results becomes a nested loop over both — with a thousand lots
 * a batch, a million rows compared per join (a 1 000 000-lot sweep took 162 s where fresh plans
 * took 62). So no CTE result is joined with another: each account's entry id is drawn from the
 * entries' sequence beside its sums, its lots travel with it as arrays (the allocations unnest
 * them), and the result reads the member, debt and lifetime total from the account table by
 * primary key. That read sees the account as it was when the statement began (the update is in
 * the same statement): member and debt do not change here, lifetime expired is what it was plus
 * what the entry took. test/integration/sweep-plan.test.ts holds the shape to that.
 */
const SWEPT_RESULT = (lifetimeExpired: string) => `
select e.*, a.member_id, a.debt, ${lifetimeExpired} as lifetime_expired, (select count(*) from due) as lot_count
from e join account a on a.id = e.account_id order by e.id`;

/** Lots past their expiry give up their remainder: available or pending, into lifetime expired. */
export const EXPIRY = lotSweep('expire_lots', 'l.remaining > 0 and l.expires_at <= ?', `
with due as (
  select l.id, l.account_id, l.remaining, l.activated_at is not null as active
  from lot l
  where l.account_id = any(?::uuid[]) and l.remaining > 0 and l.expires_at <= ?
), per_account as (
  select account_id, nextval('ledger_entry_id_seq') as entry_id,
    coalesce(sum(remaining) filter (where active), 0) as from_available,
    coalesce(sum(remaining) filter (where not active), 0) as from_pending,
    array_agg(id) as lot_ids, array_agg(remaining) as remainders
  from due group by account_id order by account_id
), acc as (
  update account a set
    available = a.available - p.from_available,
    pending = a.pending - p.from_pending,
    lifetime_expired = a.lifetime_expired + p.from_available + p.from_pending,
    entry_count = a.entry_count + 1,
    updated_at = ?
  from per_account p where a.id = p.account_id
  returning a.id, a.program_id, a.available, a.pending, a.reserved, p.entry_id, p.from_available, p.from_pending, p.lot_ids, p.remainders
), e as (
  insert into ledger_entry (id, program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
    available_after, pending_after, reserved_after, cause_type, cause_id, reason, created_at)
  overriding system value
  select entry_id, program_id, id, 'expiry'::entry_kind, -(from_available + from_pending), -from_available, -from_pending, 0,
    available, pending, reserved, 'job'::cause_type, 'expire-lots', 'Points expired', ?
  from acc
  returning *
), allocated as (
  insert into lot_allocation (entry_id, lot_id, amount)
  select acc.entry_id, taken.lot_id, -taken.remaining from acc, unnest(acc.lot_ids, acc.remainders) as taken (lot_id, remaining)
), emptied as (
  update lot set remaining = 0 from due where lot.id = due.id
)${SWEPT_RESULT('a.lifetime_expired - e.amount')}`);

/** Pending lots whose availableAt has come become available (activated as of their availableAt). */
export const ACTIVATION = lotSweep('activate_lots', 'l.remaining > 0 and l.activated_at is null and l.available_at <= ?', `
with due as (
  select l.id, l.account_id, l.remaining
  from lot l
  where l.account_id = any(?::uuid[]) and l.remaining > 0 and l.activated_at is null and l.available_at <= ?
), per_account as (
  select account_id, sum(remaining) as points from due group by account_id
), acc as (
  update account a set
    available = a.available + p.points,
    pending = a.pending - p.points,
    entry_count = a.entry_count + 1,
    updated_at = ?
  from per_account p where a.id = p.account_id
  returning a.id, a.program_id, a.available, a.pending, a.reserved, p.points
), e as (
  insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
    available_after, pending_after, reserved_after, cause_type, cause_id, reason, created_at)
  select program_id, id, 'activation'::entry_kind, 0, points, -points, 0,
    available, pending, reserved, 'job'::cause_type, 'activate-lots', 'Pending points became available', ?
  from acc order by id
  returning *
), activated as (
  update lot set activated_at = lot.available_at from due where lot.id = due.id
)${SWEPT_RESULT('a.lifetime_expired')}`);

/**
 * Pays the debts of the given (locked) accounts from their spendable points, nearest-expiry
 * lots first: per account one entry that lowers available and the debt alike.
 */
export const repayDebtsStatement = statement<
  [accountIds: string, asOf: Date, excludeLotId: null, asOf: Date, causeType: string, causeId: string | null,
    ruleVersionId: string | null, reason: string | null, idempotencyKey: string | null, asOf: Date],
  SweptRow
>('ledger.repay_debts', `
with lots as (
  select l.id, l.account_id, l.remaining,
    (sum(l.remaining) over (partition by l.account_id order by l.expires_at nulls last, l.id) - l.remaining)::bigint as before
  from lot l
  where l.account_id = any(?::uuid[]) and l.remaining > 0 and l.activated_at is not null
    and (l.expires_at is null or l.expires_at > ?) and l.id is distinct from ?::bigint
), taken as (
  select lots.id, lots.account_id, least(lots.remaining, a.debt - lots.before) as amount
  from lots join account a on a.id = lots.account_id where lots.before < a.debt
), per_account as (
  select account_id, sum(amount)::bigint as points from taken group by account_id
), acc as (
  update account a set available = a.available - p.points, debt = a.debt - p.points,
    entry_count = a.entry_count + 1, updated_at = ?
  from per_account p where a.id = p.account_id
  returning a.id, a.program_id, a.member_id, a.available, a.pending, a.reserved, a.debt, a.lifetime_expired, p.points
), e as (
  insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved, delta_debt,
    available_after, pending_after, reserved_after, cause_type, cause_id, rule_version_id, reason, idempotency_key, created_at)
  select program_id, id, 'debt_repayment'::entry_kind, 0, -points, 0, 0, -points,
    available, pending, reserved, ?::cause_type, ?, ?::uuid, ?, ?, ?
  from acc order by id
  returning *
), allocated as (
  insert into lot_allocation (entry_id, lot_id, amount)
  select e.id, taken.id, -taken.amount from taken join e on e.account_id = taken.account_id
), emptied as (
  update lot set remaining = lot.remaining - taken.amount from taken where lot.id = taken.id
)
select e.*, acc.member_id, acc.debt, acc.lifetime_expired, (select count(*) from taken) as lot_count
from e join acc on acc.id = e.account_id order by e.id`);
