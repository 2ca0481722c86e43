import { Migration } from '@mikro-orm/migrations';

/**
 * Fixes from the orders review:
 * - `shop_order.spend_added_minor`: the money paying the order added to the member's
 *   cumulative spend (`member_spend`), so cancelling or returning it takes the same money back
 *   out. Orders paid before this migration added their total when the rules ran on them (an
 *   `earned_source` row); the spend of orders cancelled or returned before it is taken out here.
 * - `shop_order.points_earned` goes: it is the sum of the member's own `shop_order_award` rows.
 * - `shop_order_award.referrer_level`: null for the member's own award, N for the referrer N
 *   levels up; take-backs lock the referrers' accounts in this order, as earning does.
 * - System idempotency keys get the `sys:` prefix that client keys may not use, so a storefront
 *   key can no longer take or hide a registration or a birthday.
 */
export class Migration20261122040000_order_fixes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table shop_order add column spend_added_minor bigint not null default 0 check (spend_added_minor >= 0);
update shop_order o set spend_added_minor = o.total_minor
 where o.paid_at is not null
   and exists (select 1 from earned_source s where s.program_id = o.program_id and s.source_type = 'order' and s.source_id = o.order_id);
with returned as (
  select o.member_id,
         sum(case when o.status in ('cancelled', 'refunded') then o.spend_added_minor
                  else least(o.spend_added_minor,
                             (select coalesce(sum(floor(l.net_minor::numeric * l.refunded_quantity / l.quantity)), 0)
                              from shop_order_line l where l.order_id = o.id))
             end) as minor
  from shop_order o
  where o.spend_added_minor > 0 and o.status in ('cancelled', 'partially_refunded', 'refunded')
  group by o.member_id
)
update member_spend ms set paid_minor = greatest(0, ms.paid_minor - r.minor)
  from returned r where ms.member_id = r.member_id and r.minor > 0;

alter table shop_order drop column points_earned;

alter table shop_order_award add column referrer_level integer null check (referrer_level > 0);
update shop_order_award aw set referrer_level = ra.referrer_level from rule_award ra where ra.entry_id = aw.entry_id;

update idempotency_record set key = 'sys:' || key
 where operation in ('registration', 'birthday') and key not like 'sys:%';
update event set idempotency_key = 'sys:' || idempotency_key
 where type in ('registration', 'birthday') and idempotency_key not like 'sys:%';
`);
  }
}
