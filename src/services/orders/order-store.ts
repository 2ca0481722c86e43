import { statement, type Statement } from '../../db/statement';
import type { AuthorizationStatus } from '../../entities/authorization';
import type { MemberStatus } from '../../entities/member';
import type { OrderBenefit, OrderStatus } from '../../entities/order';
import type { toEntryRecord } from '../ledger';

/**
 * The orders module's SQL. Tables written here: shop_order, shop_order_line, shop_order_award and
 * shop_order_refund. Read besides them, each for one reason: the member's lots (what a quote may
 * spend, without a lock), the program's checkout settings, the authorization holding an order's
 * points, and the ledger entries an order wrote (to give them back). Every write runs under the
 * lock of the order's member's account, taken first (see order-books.ts). Arrays of rows travel as
 * one jsonb parameter.
 */

// ── Rows ─────────────────────────────────────────────────────────────────────

/** A shop_order row (`select *`). */
export interface OrderRow {
  id: string;
  program_id: string;
  order_id: string;
  member_id: string;
  account_id: string;
  status: OrderStatus;
  currency: string;
  delivery_minor: number;
  delivery_points_discount_minor: number;
  /** Lines net of the shop's discounts and the tier discount, plus delivery less its tier discount. */
  total_minor: number;
  benefit: OrderBenefit;
  tier_code: string | null;
  /** numeric(5,2), read as a string. */
  tier_discount_percent: string | null;
  delivery_tier_discount_minor: number;
  payment_method: string | null;
  channel: string | null;
  shop_code: string | null;
  point_value_minor: number;
  points_redeemed: number;
  points_returned: number;
  authorization_id: string | null;
  capture_entry_id: number | null;
  /** The money paying the order added to the member's cumulative spend. */
  spend_added_minor: number;
  placed_at: Date;
  paid_at: Date | null;
  cancelled_at: Date | null;
  refunded_at: Date | null;
  updated_at: Date;
}

/** A shop_order_line row. */
export interface OrderLineRow {
  order_id: string;
  line_index: number;
  sku: string;
  category: string | null;
  unit_price_minor: number;
  quantity: number;
  on_sale: boolean;
  gift_card: boolean;
  discount_minor: number;
  /** Price × quantity less the shop's discounts and the tier discount. */
  net_minor: number;
  points_discount_minor: number;
  tier_discount_minor: number;
  earn_base_minor: number;
  refunded_quantity: number;
}

/** A shop_order_award row: points the rules gave for the order to the member or a referrer, in one entry. */
export interface OrderAwardRow {
  order_id: string;
  entry_id: number;
  account_id: string;
  member_id: string;
  points: number;
  taken_back: number;
  /** null: the order's member; N: their referrer N levels up. */
  referrer_level: number | null;
}

/** One rule's part of an award (its rule_award row, with the version's number and the rule's name). */
export interface AwardPartRow {
  rule_id: string;
  rule_version_id: string;
  version: number;
  rule_name: string;
  points: number;
  /** Of them, what the order's cancellation or returns took back so far (see Earning.withdraw). */
  withdrawn: number;
}

/** An award as read back: with its breakdown by rule. */
export type OrderAwardReadRow = OrderAwardRow & { breakdown: AwardPartRow[] };

/** A shop_order_refund row. */
export interface OrderRefundRow {
  id: string;
  order_id: string;
  lines: Array<{ lineIndex: number; sku: string; quantity: number }>;
  points_returned: number;
  points_taken_back: number;
  reason: string | null;
  created_at: Date;
}

// ── Finding and locking an order ─────────────────────────────────────────────

type ByShopId = [programId: string, orderId: string];

/** Whether the shop's order id is taken (placeOrder refuses a second order with it). */
export const findOrderStatus = statement<ByShopId, { status: OrderStatus }>(
  'orders.find_order_status',
  'select status from shop_order where program_id = ? and order_id = ?',
);

/** Which of the given shop order ids are the member's own orders. */
export const ownOrderIds = statement<[programId: string, memberId: string, orderIds: string[]], { order_id: string }>(
  'orders.own_order_ids',
  'select order_id from shop_order where program_id = ? and member_id = ? and order_id = any(?::text[])',
);

/** Our id of an order, by the shop's id. */
export const findOrderId = statement<ByShopId, { id: string }>(
  'orders.find_order_id',
  'select id from shop_order where program_id = ? and order_id = ?',
);

/**
 * The order's member, as the account lock finds them (see order-books.ts): read without a lock,
 * as an order's member never changes; the order itself is locked after the account.
 */
export const MEMBER_OF_ORDER = 'select member_id from shop_order where program_id = ? and order_id = ?';

/** The order, locked, once its member's account is. */
export const lockOrder = statement<ByShopId, OrderRow>(
  'orders.lock_order',
  'select * from shop_order where program_id = ? and order_id = ? for update',
);

/** The authorization holding a placed order's points, as paying the order reads it. */
export interface HoldRow {
  id: string;
  amount: number;
  captured: number;
  status: AuthorizationStatus;
  expires_at: Date;
}

/** An order to pay: the row, with its hold (null without points) and its lines (JSON), all read under its lock at once. */
export type OrderToPayRow = OrderRow & { hold: HoldRow | null; lines: OrderLineRow[] };

export const lockOrderToPay = statement<ByShopId, OrderToPayRow>(
  'orders.lock_order_to_pay',
  `select o.*,
     (select jsonb_build_object('id', au.id, 'amount', au.amount, 'captured', au.captured, 'status', au.status,
        'expires_at', au.expires_at) from "authorization" au where au.id = o.authorization_id) as hold,
     (select coalesce(jsonb_agg(to_jsonb(l) order by l.line_index), '[]'::jsonb) from shop_order_line l where l.order_id = o.id) as lines
   from shop_order o where o.program_id = ? and o.order_id = ? for update of o`,
);

// ── Reading an order ─────────────────────────────────────────────────────────

export const readOrder = statement<[id: string, programId: string], OrderRow>(
  'orders.read_order',
  'select * from shop_order where id = ? and program_id = ?',
);

export const readLines = statement<[orderId: string], OrderLineRow>(
  'orders.read_lines',
  'select * from shop_order_line where order_id = ? order by line_index',
);

/** Each award's rules, from the rule_award rows naming its entry (written with the entry). */
const AWARD_BREAKDOWN = `(select coalesce(jsonb_agg(jsonb_build_object('rule_id', ra.rule_id, 'rule_version_id', ra.rule_version_id,
     'version', v.version, 'rule_name', r.name, 'points', ra.points, 'withdrawn', ra.withdrawn) order by ra.id), '[]'::jsonb)
   from rule_award ra join rule_version v on v.id = ra.rule_version_id join rule r on r.id = ra.rule_id
   where ra.entry_id = aw.entry_id) as breakdown`;

export const readAwards = statement<[orderId: string], OrderAwardReadRow>(
  'orders.read_awards',
  `select aw.*, ${AWARD_BREAKDOWN} from shop_order_award aw where aw.order_id = ? order by aw.entry_id`,
);

/** The awards as a take-back walks them: the member's own first, then the referrers' up the tree. */
export const readAwardsUpwards = statement<[orderId: string], OrderAwardReadRow>(
  'orders.read_awards_upwards',
  `select aw.*, ${AWARD_BREAKDOWN} from shop_order_award aw where aw.order_id = ? order by aw.referrer_level nulls first, aw.entry_id`,
);

export const readRefunds = statement<[orderId: string], OrderRefundRow>(
  'orders.read_refunds',
  'select * from shop_order_refund where order_id = ? order by created_at, id',
);

// ── Writing an order ─────────────────────────────────────────────────────────

export const insertOrder = statement<
  [id: string, programId: string, orderId: string, memberId: string, accountId: string, currency: string,
    deliveryMinor: number, deliveryPointsDiscountMinor: number, totalMinor: number, paymentMethod: string | null,
    channel: string | null, shopCode: string | null, pointValueMinor: number, pointsRedeemed: number,
    authorizationId: string | null, benefit: OrderBenefit, tierCode: string | null, tierDiscountPercent: number | null,
    deliveryTierDiscountMinor: number, placedAt: Date, updatedAt: Date]
>(
  'orders.insert_order',
  `insert into shop_order (id, program_id, order_id, member_id, account_id, status, currency, delivery_minor,
     delivery_points_discount_minor, total_minor, payment_method, channel, shop_code, point_value_minor, points_redeemed,
     authorization_id, benefit, tier_code, tier_discount_percent, delivery_tier_discount_minor, placed_at, updated_at)
   values (?, ?, ?, ?, ?, 'placed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::order_benefit, ?, ?, ?, ?, ?)`,
);

/** One line of `insertLines`' jsonb parameter. */
export type NewLine = Omit<OrderLineRow, 'order_id' | 'refunded_quantity'>;

/** All the order's lines, from a jsonb array of {@link NewLine}. */
export const insertLines = statement<[orderId: string, lines: string]>(
  'orders.insert_lines',
  `insert into shop_order_line (order_id, line_index, sku, category, unit_price_minor, quantity, on_sale, gift_card,
     discount_minor, net_minor, points_discount_minor, tier_discount_minor, earn_base_minor)
   select ?, x.line_index, x.sku, x.category, x.unit_price_minor, x.quantity, x.on_sale, x.gift_card, x.discount_minor,
     x.net_minor, x.points_discount_minor, x.tier_discount_minor, x.earn_base_minor
   from jsonb_to_recordset(?::jsonb) as x(line_index int, sku text, category text, unit_price_minor bigint, quantity int,
     on_sale boolean, gift_card boolean, discount_minor bigint, net_minor bigint, points_discount_minor bigint,
     tier_discount_minor bigint, earn_base_minor bigint)`,
);

/** One line of `markPaid`'s jsonb parameter of awards: one per entry (beneficiary). */
export type NewAward = Omit<OrderAwardRow, 'order_id' | 'taken_back'>;

/** The order paid, with what the rules gave for it (a jsonb array of {@link NewAward}), in one statement. */
export const markPaid = statement<[id: string, paidAt: Date, captureEntryId: number | null, spendAddedMinor: number, awards: string]>(
  'orders.mark_paid',
  `with aw as (
     insert into shop_order_award (order_id, entry_id, account_id, member_id, points, referrer_level)
     select $1, x.entry_id, x.account_id, x.member_id, x.points, x.referrer_level
     from jsonb_to_recordset($5::jsonb) as x(entry_id bigint, account_id uuid, member_id uuid, points bigint, referrer_level int)
   )
   update shop_order set status = 'paid', paid_at = $2, capture_entry_id = $3, spend_added_minor = $4, updated_at = $2 where id = $1`,
);

export const markCancelled = statement<[pointsReturned: number, cancelledAt: Date, now: Date, id: string]>(
  'orders.mark_cancelled',
  `update shop_order set status = 'cancelled', points_returned = ?, cancelled_at = ?, updated_at = ? where id = ?`,
);

/** partially_refunded or refunded, with the points returned so far. */
export const markRefunded = statement<[status: OrderStatus, pointsReturned: number, refundedAt: Date, now: Date, id: string]>(
  'orders.mark_refunded',
  `update shop_order set status = ?::order_status, points_returned = ?, refunded_at = ?, updated_at = ? where id = ?`,
);

/** Units returned so far per line, from a jsonb array of { line_index, refunded_quantity }. */
export const setRefundedQuantities = statement<[quantities: string, orderId: string]>(
  'orders.set_refunded_quantities',
  `update shop_order_line l set refunded_quantity = x.refunded_quantity
   from jsonb_to_recordset(?::jsonb) as x(line_index int, refunded_quantity int)
   where l.order_id = ? and l.line_index = x.line_index`,
);

export const insertRefund = statement<
  [id: string, orderId: string, lines: string, pointsReturned: number, pointsTakenBack: number, reason: string | null, createdAt: Date]
>(
  'orders.insert_refund',
  `insert into shop_order_refund (id, order_id, lines, points_returned, points_taken_back, reason, created_at)
   values (?, ?, ?::jsonb, ?, ?, ?, ?)`,
);

/** Each award's points taken back so far, from a jsonb array of { entry_id, taken_back }. */
export const setTakenBack = statement<[takenBack: string, orderId: string]>(
  'orders.set_taken_back',
  `update shop_order_award aw set taken_back = x.taken_back
   from jsonb_to_recordset(?::jsonb) as x(entry_id bigint, taken_back bigint)
   where aw.order_id = ? and aw.entry_id = x.entry_id`,
);

// ── What checkout reads ──────────────────────────────────────────────────────

/** The program's checkout settings. (The programs module owns the table; orders only read these.) */
export interface CheckoutProgramRow {
  currency: string;
  point_value_minor: number;
  max_redeem_percent: number;
  exclude_on_sale: boolean;
  exclude_gift_cards: boolean;
  delivery_eligible: boolean;
  earn_on_points_paid_part: boolean;
}

const PROGRAM_TERMS = `select currency, point_value_minor, max_redeem_percent, exclude_on_sale, exclude_gift_cards, delivery_eligible,
     earn_on_points_paid_part
   from program where id = ?`;

export const readProgram = statement<[programId: string], CheckoutProgramRow>('orders.read_program', PROGRAM_TERMS);

/**
 * The terms an order is placed on, with the program's row key-share locked until the order
 * commits: a currency change (which locks the row for update) waits for it, then sees the order.
 */
export const readProgramForOrder = statement<[programId: string], CheckoutProgramRow>(
  'orders.read_program_for_order',
  `${PROGRAM_TERMS} for key share`,
);

/** The member and what their lots hold now, read without a lock (see readSpender in order-checkout.ts). */
export interface SpenderRow {
  id: string;
  status: MemberStatus;
  debt: number;
  /** A sum of bigints: numeric, read as a string. */
  lots: string | number;
}

export type MemberColumn = 'id' | 'external_id' | 'email' | 'phone';

type SpenderParams = [now: Date, now: Date, member: string, programId: string];

const readSpenderBy = (column: MemberColumn) =>
  statement<SpenderParams, SpenderRow>(
    `orders.read_spender_by_${column}`,
    `select m.id, m.status, a.debt,
       coalesce((select sum(l.remaining) from lot l
                 where l.account_id = a.id and l.remaining > 0 and (l.activated_at is not null or l.available_at <= ?)
                   and (l.expires_at is null or l.expires_at > ?)), 0) as lots
     from member m join account a on a.member_id = m.id
     where m.${column} = ? and m.program_id = ?`,
  );

/** One statement per way of naming the member, each planned with its own index. */
export const readSpender: Readonly<Record<MemberColumn, Statement<SpenderParams, SpenderRow>>> = {
  id: readSpenderBy('id'),
  external_id: readSpenderBy('external_id'),
  email: readSpenderBy('email'),
  phone: readSpenderBy('phone'),
};

// ── The order's points in the ledger ─────────────────────────────────────────

/** The authorization holding a placed order's points (the ledger writes it; the order reads it to capture or release). */
export const readHold = statement<[id: string], HoldRow>(
  'orders.read_hold',
  'select id, amount, captured, status, expires_at from "authorization" where id = ?',
);

/** A ledger entry the order wrote, with its member, its lot and whether it was reversed whole. */
export type OrderEntryRow = Parameters<typeof toEntryRecord>[0] & { member_id: string; reversed: boolean };

/** The order's capture and award entries by id (a PostgreSQL array literal), in one read. */
export const readEntries = statement<[ids: string], OrderEntryRow>(
  'orders.read_entries',
  `select e.*, a.member_id, (select min(id) from lot where source_entry_id = e.id) as lot_id,
     exists (select 1 from ledger_entry r where r.reverses_entry_id = e.id) as reversed
   from ledger_entry e join account a on a.id = e.account_id where e.id = any(?::bigint[])`,
);
