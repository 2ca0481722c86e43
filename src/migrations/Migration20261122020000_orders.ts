import { Migration } from '@mikro-orm/migrations';

/**
 * Orders (S1–S5): the shop's orders with their lines, the points they redeemed and earned, and
 * the program's checkout policy. The ledger learns two things orders need:
 * - a `debt` bucket: earned points taken back after they were spent are owed (policy
 *   'allow_debt') and repaid first by points that become available. An entry's amount stays
 *   the sum of its deltas, with the debt counted against the member:
 *   amount = delta_available + delta_pending + delta_reserved − delta_debt;
 * - partial reversals: returning some lines undoes part of a capture and of each award, so an
 *   entry may be reversed in several parts (`partly_reverses_entry_id`), while
 *   `reverses_entry_id` stays unique for whole reversals.
 */
export class Migration20261122020000_orders extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table program
  add column exclude_on_sale boolean not null default true,
  add column exclude_gift_cards boolean not null default true,
  add column delivery_eligible boolean not null default false,
  add column earn_on_points_paid_part boolean not null default false,
  add column negative_balance_policy text not null default 'take_available'
    check (negative_balance_policy in ('allow_debt', 'take_available'));

alter type entry_kind add value if not exists 'debt_repayment';
alter table account add column debt bigint not null default 0 check (debt >= 0);
alter table ledger_entry add column delta_debt bigint not null default 0;
alter table ledger_entry add column partly_reverses_entry_id bigint null references ledger_entry (id);
create index ledger_entry_partly_reverses_entry_id_index on ledger_entry (partly_reverses_entry_id)
  where partly_reverses_entry_id is not null;
alter table ledger_entry drop constraint ledger_entry_amount_is_sum_of_deltas;
alter table ledger_entry add constraint ledger_entry_amount_is_sum_of_deltas
  check (amount = delta_available + delta_pending + delta_reserved - delta_debt);

create type order_status as enum ('placed', 'paid', 'cancelled', 'partially_refunded', 'refunded');
create table shop_order (
  id uuid primary key,
  program_id uuid not null references program (id) on delete cascade,
  -- The shop's own order id: one order per id and program.
  order_id text not null,
  member_id uuid not null references member (id),
  account_id uuid not null references account (id),
  status order_status not null,
  currency text not null,
  delivery_minor bigint not null check (delivery_minor >= 0),
  delivery_points_discount_minor bigint not null default 0 check (delivery_points_discount_minor between 0 and delivery_minor),
  -- Lines net of the shop's own discounts, plus delivery: what the order costs before points.
  total_minor bigint not null check (total_minor >= 0),
  payment_method text null,
  channel text null,
  shop_code text null,
  -- The point value when the order was placed: refunds give points back at the same rate.
  point_value_minor integer not null check (point_value_minor > 0),
  points_redeemed bigint not null check (points_redeemed >= 0),
  points_returned bigint not null default 0,
  -- Points the rules gave the member when the order was paid (referrers' awards are in shop_order_award).
  points_earned bigint not null default 0 check (points_earned >= 0),
  authorization_id uuid null references "authorization" (id),
  capture_entry_id bigint null references ledger_entry (id),
  placed_at timestamptz not null,
  paid_at timestamptz null,
  cancelled_at timestamptz null,
  refunded_at timestamptz null,
  updated_at timestamptz not null,
  constraint shop_order_program_id_order_id_unique unique (program_id, order_id),
  constraint shop_order_points_returned_within_redeemed check (points_returned between 0 and points_redeemed)
);
create index shop_order_member_id_placed_at_index on shop_order (member_id, placed_at);

create table shop_order_line (
  order_id uuid not null references shop_order (id) on delete cascade,
  line_index integer not null check (line_index >= 0),
  sku text not null,
  category text null,
  unit_price_minor bigint not null check (unit_price_minor >= 0),
  quantity integer not null check (quantity > 0),
  on_sale boolean not null,
  gift_card boolean not null,
  -- The shop's own discounts on the line (coupons, tier discount), in total.
  discount_minor bigint not null check (discount_minor >= 0),
  net_minor bigint not null check (net_minor >= 0),
  -- The receipt's share of the points discount; returned lines give their share back.
  points_discount_minor bigint not null check (points_discount_minor between 0 and net_minor),
  -- Money paid for the line that earning rules saw; returned lines take their share of awards back.
  earn_base_minor bigint not null check (earn_base_minor between 0 and net_minor),
  refunded_quantity integer not null default 0,
  primary key (order_id, line_index),
  constraint shop_order_line_refunded_within_quantity check (refunded_quantity between 0 and quantity)
);

-- Points the rules awarded for an order, to the member or a referrer, and how much was taken back.
create table shop_order_award (
  order_id uuid not null references shop_order (id) on delete cascade,
  entry_id bigint not null references ledger_entry (id),
  account_id uuid not null references account (id),
  member_id uuid not null references member (id),
  points bigint not null check (points > 0),
  taken_back bigint not null default 0,
  primary key (order_id, entry_id),
  constraint shop_order_award_taken_back_within_points check (taken_back between 0 and points)
);

create table shop_order_refund (
  id uuid primary key,
  order_id uuid not null references shop_order (id) on delete cascade,
  -- [{ lineIndex, sku, quantity }]
  lines jsonb not null,
  points_returned bigint not null check (points_returned >= 0),
  points_taken_back bigint not null check (points_taken_back >= 0),
  reason text null,
  created_at timestamptz not null
);
create index shop_order_refund_order_id_index on shop_order_refund (order_id, created_at);
`);
  }
}
