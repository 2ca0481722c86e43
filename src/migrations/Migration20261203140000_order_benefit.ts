import { Migration } from '@mikro-orm/migrations';

/**
 * T4: per order the shop takes the member's tier discount instead of points.
 * - `shop_order.benefit`: `points` (redeem and earn, as before) or `tier_discount` (the tier's
 *   discount, no points redeemed, nothing earned); every existing order is `points`.
 * - `shop_order.tier_code`, `tier_discount_percent`: the tier and percent the discount was
 *   taken at, as placeOrder found them; `delivery_tier_discount_minor`: delivery's share.
 * - `shop_order_line.tier_discount_minor`: the line's share of the discount. The line's
 *   `net_minor` is net of it (and `shop_order.total_minor` of the whole discount), so what the
 *   order counts for — cumulative spend, tier qualification, returns — is the money paid.
 */
export class Migration20261203140000_order_benefit extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create type order_benefit as enum ('points', 'tier_discount');

alter table shop_order
  add column benefit order_benefit not null default 'points',
  add column tier_code text null,
  add column tier_discount_percent numeric(5,2) null check (tier_discount_percent > 0 and tier_discount_percent <= 100),
  add column delivery_tier_discount_minor bigint not null default 0 check (delivery_tier_discount_minor >= 0),
  add constraint shop_order_benefit_check check (
    case benefit
      when 'points' then tier_code is null and tier_discount_percent is null and delivery_tier_discount_minor = 0
      else tier_code is not null and tier_discount_percent is not null and points_redeemed = 0 and delivery_points_discount_minor = 0
    end);

alter table shop_order_line
  add column tier_discount_minor bigint not null default 0 check (tier_discount_minor >= 0),
  add constraint shop_order_line_one_discount_check check (tier_discount_minor = 0 or points_discount_minor = 0);
`);
  }
}
