import { statement } from '../../db/statement';

export const countAccounts = statement<[programId: string], { accounts: number }>(
  'audit.count_accounts',
  'select count(*)::int as accounts from account where program_id = ?',
);

type Program9 = [string, string, string, string, string, string, string, string, string];

/** The checks listed on LedgerVerification, one row per disagreement (see ledger-audit.ts). */
export const verifyLedger = statement<
  Program9,
  { account_id: string; member_id: string; check_name: string; expected: number; actual: number; lot_id: number | null }
>('audit.verify_ledger', `
with acc as (
  select a.id, a.member_id, a.available, a.pending, a.reserved, a.debt, a.entry_count,
    a.lifetime_earned, a.lifetime_redeemed, a.lifetime_expired
  from account a where a.program_id = ?
), entries as (
  select e.account_id,
    sum(e.delta_available) as available, sum(e.delta_pending) as pending, sum(e.delta_reserved) as reserved,
    sum(e.delta_debt) as debt,
    count(*) as entry_count,
    coalesce(-sum(e.amount) filter (where e.kind = 'expiry'), 0) as expired,
    min(least(e.available_after, e.pending_after, e.reserved_after)) as lowest_after
  from ledger_entry e where e.program_id = ? group by e.account_id
), last_entry as (
  select distinct on (e.account_id) e.account_id, e.available_after, e.pending_after, e.reserved_after
  from ledger_entry e where e.program_id = ? order by e.account_id, e.id desc
), lots as (
  select l.account_id,
    coalesce(sum(l.remaining) filter (where l.activated_at is not null), 0) as available,
    coalesce(sum(l.remaining) filter (where l.activated_at is null), 0) as pending,
    sum(l.forgiven) as forgiven,
    min(l.remaining) as lowest_remaining
  from lot l where l.program_id = ? group by l.account_id
), open_auth as (
  select au.account_id, sum(au.amount) as amount
  from "authorization" au where au.program_id = ? and au.status = 'open' group by au.account_id
), held as (
  select e.account_id, -sum(la.amount) as points
  from "authorization" au
  join ledger_entry e on e.authorization_id = au.id and e.account_id = au.account_id
  join lot_allocation la on la.entry_id = e.id
  where au.program_id = ? and au.status = 'open'
  group by e.account_id
)
select acc.id as account_id, acc.member_id, c.check_name, c.expected, c.actual, null::bigint as lot_id
from acc
left join entries en on en.account_id = acc.id
left join last_entry le on le.account_id = acc.id
left join lots lo on lo.account_id = acc.id
left join open_auth oa on oa.account_id = acc.id
left join held h on h.account_id = acc.id
cross join lateral (values
  ('entries_available', coalesce(en.available, 0), acc.available),
  ('entries_pending', coalesce(en.pending, 0), acc.pending),
  ('entries_reserved', coalesce(en.reserved, 0), acc.reserved),
  ('entries_debt', coalesce(en.debt, 0), acc.debt),
  ('last_entry_available', coalesce(le.available_after, 0), acc.available),
  ('last_entry_pending', coalesce(le.pending_after, 0), acc.pending),
  ('last_entry_reserved', coalesce(le.reserved_after, 0), acc.reserved),
  ('entry_count', coalesce(en.entry_count, 0), acc.entry_count),
  ('lifetime_expired', coalesce(en.expired, 0), acc.lifetime_expired),
  ('lots_available', coalesce(lo.available, 0), acc.available),
  ('lots_pending', coalesce(lo.pending, 0), acc.pending),
  ('open_authorizations', coalesce(oa.amount, 0), acc.reserved),
  ('authorization_holds', coalesce(h.points, 0), acc.reserved),
  ('lifetime_totals', acc.lifetime_earned - acc.lifetime_redeemed - acc.lifetime_expired + coalesce(lo.forgiven, 0),
    acc.available + acc.pending + acc.reserved - acc.debt),
  ('negative_available', greatest(acc.available, 0), acc.available),
  ('negative_pending', greatest(acc.pending, 0), acc.pending),
  ('negative_reserved', greatest(acc.reserved, 0), acc.reserved),
  ('negative_debt', greatest(acc.debt, 0), acc.debt),
  ('negative_entry_balance', greatest(coalesce(en.lowest_after, 0), 0), coalesce(en.lowest_after, 0)),
  ('negative_lot_remaining', greatest(coalesce(lo.lowest_remaining, 0), 0), coalesce(lo.lowest_remaining, 0))
) as c(check_name, expected, actual)
where c.expected is distinct from c.actual
union all
select l.account_id, a.member_id, 'lot_remaining', l.amount + coalesce(sum(la.amount), 0), l.remaining, l.id
from lot l
join account a on a.id = l.account_id
left join lot_allocation la on la.lot_id = l.id
where l.program_id = ?
group by l.id, a.member_id
having l.amount + coalesce(sum(la.amount), 0) <> l.remaining
union all
select l.account_id, a.member_id, 'lot_forgiven', elsewhere.points, l.forgiven, l.id
from lot l
join account a on a.id = l.account_id
cross join lateral (
  -- What entries other than expiry and the take-backs of the lot's own accrual took from it, net.
  select coalesce(-sum(la.amount), 0) as points
  from lot_allocation la join ledger_entry e on e.id = la.entry_id
  where la.lot_id = l.id and e.kind <> 'expiry'
    and e.reverses_entry_id is distinct from l.source_entry_id
    and e.partly_reverses_entry_id is distinct from l.source_entry_id
) elsewhere
where l.program_id = ? and l.forgiven > 0 and l.forgiven > elsewhere.points
union all
-- An accrual's lots (one per lifetime of its parts) hold exactly its points.
select e.account_id, a.member_id, 'accrual_lots', e.amount, sum(l.amount), min(l.id)
from lot l
join ledger_entry e on e.id = l.source_entry_id
join account a on a.id = e.account_id
where l.program_id = ?
group by e.id, a.member_id
having sum(l.amount) <> e.amount
order by account_id, check_name, lot_id`);
