import { Migration } from '@mikro-orm/migrations';

/**
 * What a cancelled order or its returned lines undo no longer counts against the rules' limits.
 * `rule_award.withdrawn` is each rule's part of an award that the order's cancellation or
 * returns undid (its share of the returned lines; all of it on a cancel): caps count `points -
 * withdrawn`, a once-only award counts while anything of it stands (the unique index covers
 * only those), and a total budget gets the withdrawn points back.
 *
 * Awards of orders cancelled or wholly returned before this are withdrawn whole; of orders
 * partly returned, in proportion to what the order took back from the award (the exact per-rule
 * shares were never stored), rounded down.
 */
export class Migration20261207100000_award_withdrawn extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table rule_award
  add column withdrawn bigint not null default 0,
  add constraint rule_award_withdrawn_within_points check (withdrawn >= 0 and withdrawn <= points);

drop index rule_award_one_off_unique;
create unique index rule_award_one_off_unique on rule_award (rule_id, source_member_id, member_id) where one_off and withdrawn < points;

with undone as (
  update rule_award ra
  set withdrawn = case when o.status in ('cancelled', 'refunded') then ra.points
                       else least(ra.points, ra.points * oa.taken_back / oa.points) end
  from shop_order_award oa join shop_order o on o.id = oa.order_id
  where oa.entry_id = ra.entry_id and oa.points > 0
    and (o.status in ('cancelled', 'refunded') or oa.taken_back > 0)
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
