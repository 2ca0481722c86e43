import { Migration } from '@mikro-orm/migrations';

/**
 * What an order's cancellation or returned lines took back no longer counts against the rules'
 * limits. `rule_award.withdrawn` is the part of each rule's award that a take-back recovered
 * (points taken, or owed as debt; not points forgiven because the member had spent them): caps
 * count `points - withdrawn` (the cap index carries both), a once-only award counts while
 * anything of it stands (the unique index covers only those), and a total budget gets the
 * withdrawn points back.
 *
 * Awards of orders taken back before this get what the order's take-back entries recovered,
 * spread over the award's rule parts in order, each up to its share of what the order undid.
 *
 * An order's entries are found by its id (`ledgerEntries(filter: { orderId })`) through a
 * partial index on the entries orders own.
 */
export class Migration20261207100000_award_withdrawn extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table rule_award
  add column withdrawn bigint not null default 0,
  add constraint rule_award_withdrawn_within_points check (withdrawn >= 0 and withdrawn <= points);

drop index rule_award_one_off_unique;
create unique index rule_award_one_off_unique on rule_award (rule_id, source_member_id, member_id) where one_off and withdrawn < points;
drop index rule_award_cap_index;
create index rule_award_cap_index on rule_award (rule_id, member_id, awarded_at) include (points, withdrawn);

create index ledger_entry_order_index on ledger_entry (owner_id, account_id) where owner_type = 'order';

with recovered as (
  -- What the order's own take-backs of each award recovered (not points forgiven and taken
  -- later, when another write gave them back: the live code counts those as given too).
  select aw.entry_id, aw.points as award_points, aw.taken_back, -sum(t.amount) as points
  from shop_order_award aw join shop_order o on o.id = aw.order_id
  join ledger_entry t on (t.reverses_entry_id = aw.entry_id or t.partly_reverses_entry_id = aw.entry_id)
    and t.amount < 0 and t.owner_type = 'order' and t.owner_id = o.order_id
  where aw.points > 0
  group by aw.entry_id, aw.points, aw.taken_back
), shares as (
  -- Each rule part's share of what the order undid, as the live code caps it.
  select ra.id, ra.entry_id, r.points as recovered, least(ra.points, ra.points * r.taken_back / r.award_points) as share
  from rule_award ra join recovered r on r.entry_id = ra.entry_id
), parts as (
  select s.id, s.recovered, s.share,
    coalesce(sum(s.share) over (partition by s.entry_id order by s.id rows between unbounded preceding and 1 preceding), 0) as before
  from shares s
), undone as (
  update rule_award ra set withdrawn = least(p.share, p.recovered - p.before)
  from parts p where p.id = ra.id and p.recovered > p.before and p.share > 0
  returning ra.rule_id, ra.rule_version_id, ra.withdrawn
), budgeted as (
  select u.rule_id, sum(u.withdrawn) as withdrawn
  from undone u join rule_version v on v.id = u.rule_version_id
  where coalesce((v.definition -> 'caps' ->> 'totalBudget')::numeric, 0) > 0
  group by u.rule_id
)
update rule r set budget_used = greatest(r.budget_used - b.withdrawn, 0)
from budgeted b where r.id = b.rule_id;
`);
  }
}
