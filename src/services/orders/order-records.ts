import type { Queryable } from '../../db/statement';
import type { UnitOfWork } from '../../db/unit-of-work';
import { OrderBenefit, OrderStatus } from '../../entities/order';
import { ErrorCode, PatronError, apiEnum, notFound } from '../../errors';
import type { AwardPart, EarnedAward } from '../earning';
import type { AccountBook, AccountSnapshot } from '../ledger';
import type { CheckoutQuote } from './checkout-math';
import type { TierDiscount } from './order-checkout';
import { lineNet, orderTotal, type CheckedOrder } from './order-input';
import * as store from './order-store';
import type { OrderAwardReadRow, OrderLineRow, OrderRefundRow, OrderRow } from './order-store';

/** The order as services return it: records built from its rows, and read or written here. */

export interface OrderLineRecord {
  index: number;
  sku: string;
  category: string | null;
  unitPriceMinor: number;
  quantity: number;
  onSale: boolean;
  giftCard: boolean;
  /** The shop's own discounts, as it sent them. */
  discountMinor: number;
  /** Price × quantity less the shop's discounts and the tier discount: the line's money before points. */
  netMinor: number;
  pointsDiscountMinor: number;
  /** The line's share of the member's tier discount (an order with benefit tier_discount). */
  tierDiscountMinor: number;
  payableMinor: number;
  earnBaseMinor: number;
  refundedQuantity: number;
}

/** What one beneficiary got for the order: one ledger entry, broken down by the rules that gave it. */
export interface OrderAwardRecord {
  memberId: string;
  entryId: number;
  points: number;
  takenBack: number;
  breakdown: AwardPart[];
}

export interface OrderRefundRecord {
  id: string;
  lines: Array<{ lineIndex: number; sku: string; quantity: number }>;
  pointsReturned: number;
  /** Points taken back from the member (referrers' take-backs are in the order's awards). */
  pointsTakenBack: number;
  reason: string | null;
  createdAt: Date;
}

export interface OrderRecord {
  id: string;
  orderId: string;
  memberId: string;
  status: OrderStatus;
  /** Points, or the member's tier discount instead (T4). */
  benefit: OrderBenefit;
  currency: string;
  /** Lines net of the shop's discounts and the tier discount, plus delivery less its tier discount, before points. */
  totalMinor: number;
  deliveryMinor: number;
  deliveryPointsDiscountMinor: number;
  /** The tier and its discount percent when the order was placed with the tier discount; else null. */
  tierCode: string | null;
  tierDiscountPercent: number | null;
  /** The whole tier discount: the lines' shares plus delivery's. 0 for an order with points. */
  tierDiscountMinor: number;
  deliveryTierDiscountMinor: number;
  pointValueMinor: number;
  pointsRedeemed: number;
  pointsDiscountMinor: number;
  payableMinor: number;
  pointsReturned: number;
  /** What the rules gave the member for the order: the sum of the member's own awards. */
  pointsEarned: number;
  pointsTakenBack: number;
  paymentMethod: string | null;
  channel: string | null;
  shopCode: string | null;
  authorizationId: string | null;
  placedAt: Date;
  paidAt: Date | null;
  cancelledAt: Date | null;
  refundedAt: Date | null;
  updatedAt: Date;
  lines: OrderLineRecord[];
  awards: OrderAwardRecord[];
  refunds: OrderRefundRecord[];
}

export interface OrderResult {
  order: OrderRecord;
  /** The member's account right after the write. */
  account: AccountSnapshot;
  /** placeOrder with a referral code: what it came to (the order is placed either way). */
  referral?: CheckoutAttribution | null;
}

/** What a referral code given at checkout came to (the referrals module's attribution result). */
export interface CheckoutAttribution {
  accepted: boolean;
  reason: string | null;
  memberId: string;
  referrerId: string;
  via: string;
  attemptId: string | null;
}

export interface RefundResult extends OrderResult {
  refund: OrderRefundRecord;
}

// ── Reading ──────────────────────────────────────────────────────────────────

/** The order by our id, in the program; NOT_FOUND when there is none. */
export async function loadOrder(db: Queryable, programId: string, by: { id: string }): Promise<OrderRecord> {
  const [row] = await db.run(store.readOrder, [by.id, programId]);
  if (!row) throw notFound('Order', by);
  return orderFromRow(db, row);
}

/**
 * The order whose shop_order row the caller has read already (e.g. locked). Awards are written
 * only when an order is paid and refunds only for a paid order, so a placed order has neither
 * and they are not read for one.
 */
export async function orderFromRow(db: Queryable, row: OrderRow, linesRead?: OrderLineRow[]): Promise<OrderRecord> {
  // One after another: inside a transaction they share one connection.
  const lines = linesRead ?? (await db.run(store.readLines, [row.id]));
  const placed = row.status === OrderStatus.PLACED;
  const awards = placed ? [] : await db.run(store.readAwards, [row.id]);
  const refunds = placed ? [] : await db.run(store.readRefunds, [row.id]);
  return toOrderRecord(row, lines, awards, refunds);
}

function toOrderRecord(row: OrderRow, lines: OrderLineRow[], awards: OrderAwardReadRow[], refunds: OrderRefundRow[]): OrderRecord {
  const pointsDiscountMinor = Number(row.points_redeemed) * row.point_value_minor;
  const awardRecords = awards.map(toAwardRecord);
  const lineRecords = lines.map(toLineRecord);
  const deliveryTierDiscountMinor = Number(row.delivery_tier_discount_minor);
  return {
    id: row.id,
    orderId: row.order_id,
    memberId: row.member_id,
    status: row.status,
    benefit: row.benefit,
    currency: row.currency,
    totalMinor: Number(row.total_minor),
    deliveryMinor: Number(row.delivery_minor),
    deliveryPointsDiscountMinor: Number(row.delivery_points_discount_minor),
    tierCode: row.tier_code,
    tierDiscountPercent: row.tier_discount_percent == null ? null : Number(row.tier_discount_percent),
    tierDiscountMinor: lineRecords.reduce((sum, l) => sum + l.tierDiscountMinor, deliveryTierDiscountMinor),
    deliveryTierDiscountMinor,
    pointValueMinor: row.point_value_minor,
    pointsRedeemed: Number(row.points_redeemed),
    pointsDiscountMinor,
    payableMinor: Number(row.total_minor) - pointsDiscountMinor,
    pointsReturned: Number(row.points_returned),
    pointsEarned: earnedBy(row.member_id, awardRecords),
    pointsTakenBack: awards.filter((a) => a.member_id === row.member_id).reduce((s, a) => s + Number(a.taken_back), 0),
    paymentMethod: row.payment_method,
    channel: row.channel,
    shopCode: row.shop_code,
    authorizationId: row.authorization_id,
    placedAt: new Date(row.placed_at),
    paidAt: row.paid_at ? new Date(row.paid_at) : null,
    cancelledAt: row.cancelled_at ? new Date(row.cancelled_at) : null,
    refundedAt: row.refunded_at ? new Date(row.refunded_at) : null,
    updatedAt: new Date(row.updated_at),
    lines: lineRecords,
    awards: awardRecords,
    refunds: refunds.map(toRefundRecord),
  };
}

const toLineRecord = (l: OrderLineRow): OrderLineRecord => ({
  index: l.line_index,
  sku: l.sku,
  category: l.category,
  unitPriceMinor: Number(l.unit_price_minor),
  quantity: l.quantity,
  onSale: l.on_sale,
  giftCard: l.gift_card,
  discountMinor: Number(l.discount_minor),
  netMinor: Number(l.net_minor),
  pointsDiscountMinor: Number(l.points_discount_minor),
  tierDiscountMinor: Number(l.tier_discount_minor),
  payableMinor: Number(l.net_minor) - Number(l.points_discount_minor),
  earnBaseMinor: Number(l.earn_base_minor),
  refundedQuantity: l.refunded_quantity,
});

export const toAwardRecord = (a: OrderAwardReadRow): OrderAwardRecord => ({
  memberId: a.member_id,
  entryId: Number(a.entry_id),
  points: Number(a.points),
  takenBack: Number(a.taken_back),
  breakdown: a.breakdown.map((p) => ({
    ruleId: p.rule_id, ruleVersionId: p.rule_version_id, version: p.version, ruleName: p.rule_name, points: Number(p.points),
  })),
});

const toRefundRecord = (r: OrderRefundRow): OrderRefundRecord => ({
  id: r.id,
  lines: r.lines,
  pointsReturned: Number(r.points_returned),
  pointsTakenBack: Number(r.points_taken_back),
  reason: r.reason,
  createdAt: new Date(r.created_at),
});

/** Points the order's member earned: their own awards (the referrers' are the rest). */
const earnedBy = (memberId: string, awards: OrderAwardRecord[]) =>
  awards.filter((a) => a.memberId === memberId).reduce((s, a) => s + a.points, 0);

/** The order as payOrder leaves it: what loadOrder would read back, without reading it again. */
export function asPaid(order: OrderRecord, awards: PaidAward[], now: Date): OrderRecord {
  const records = awards.map(({ memberId, entryId, points, breakdown }) => ({ memberId, entryId, points, takenBack: 0, breakdown }));
  return { ...order, status: OrderStatus.PAID, paidAt: now, updatedAt: now, awards: records, pointsEarned: earnedBy(order.memberId, records) };
}

/** An award of a paid order: one beneficiary's entry, with its rules' parts. */
export interface PaidAward extends Omit<OrderAwardRecord, 'takenBack'> {
  accountId: string;
  referrerLevel: number | null;
}

/** The rules' awards (one per rule and beneficiary) as the order keeps them: one per entry, in entry order, broken down by rule. */
export function paidAwards(earned: readonly EarnedAward[]): PaidAward[] {
  const byEntry = new Map<number, PaidAward>();
  for (const a of earned) {
    let award = byEntry.get(a.entry.id);
    if (!award) {
      award = { memberId: a.memberId, entryId: a.entry.id, accountId: a.entry.accountId, referrerLevel: a.referrerLevel, points: 0, breakdown: [] };
      byEntry.set(a.entry.id, award);
    }
    award.points += a.points;
    award.breakdown.push({ ruleId: a.ruleId, ruleVersionId: a.ruleVersionId, version: a.version, ruleName: a.ruleName, points: a.points });
  }
  return [...byEntry.values()].sort((a, b) => a.entryId - b.entryId);
}

// ── Writing ──────────────────────────────────────────────────────────────────

export function duplicateOrder(orderId: string, status: OrderStatus | null): PatronError {
  return new PatronError(ErrorCode.CONFLICT, `Order ${orderId} already exists`, { orderId, ...(status ? { status: apiEnum(status) } : {}) });
}

/**
 * A placed order and its lines, as the quote priced them: with points (`quote`'s split), or with
 * the member's tier discount, which comes off each line's net amount (and off delivery) — so the
 * order's total, its lines' net and everything counted from them (cumulative spend, tier
 * qualification, returns) are the money paid. Such an order earns nothing: its lines bring the
 * rules nothing (earn base 0).
 */
export async function insertOrder(
  tx: UnitOfWork,
  o: {
    id: string; programId: string; book: AccountBook; order: CheckedOrder; currency: string; pointValueMinor: number;
    quote: CheckoutQuote; authorizationId: string | null; tierDiscount: TierDiscount | null;
  },
): Promise<void> {
  const { order, quote, book, tierDiscount } = o;
  const tierSplit = tierDiscount?.split;
  try {
    await tx.run(store.insertOrder, [
      o.id, o.programId, order.orderId!, book.state.memberId, book.state.id, o.currency, order.deliveryMinor,
      quote.split.delivery?.discountMinor ?? 0, orderTotal(order) - (tierSplit?.totalDiscountMinor ?? 0), order.paymentMethod,
      order.channel, order.shopCode, o.pointValueMinor, quote.points, o.authorizationId,
      tierDiscount ? OrderBenefit.TIER_DISCOUNT : OrderBenefit.POINTS, tierDiscount?.tierCode ?? null, tierSplit?.percent ?? null,
      tierSplit?.delivery?.discountMinor ?? 0, book.now, book.now,
    ]);
  } catch (error) {
    // Another member's order with this id committed first (ours was checked under our own lock only).
    if ((error as { code?: string }).code === '23505') throw duplicateOrder(order.orderId!, null);
    throw error;
  }
  const lines: store.NewLine[] = order.lines.map((l, i) => {
    const tierDiscountMinor = tierSplit?.lines[i].discountMinor ?? 0;
    return {
      line_index: i,
      sku: l.sku,
      category: l.category ?? null,
      unit_price_minor: l.unitPriceMinor,
      quantity: l.quantity,
      on_sale: l.onSale ?? false,
      gift_card: l.giftCard ?? false,
      discount_minor: l.discountMinor ?? 0,
      net_minor: lineNet(l) - tierDiscountMinor,
      points_discount_minor: quote.split.lines[i].discountMinor,
      tier_discount_minor: tierDiscountMinor,
      earn_base_minor: tierSplit ? 0 : quote.earningBase.lines[i].eligibleMoneyMinor,
    };
  });
  tx.write(store.insertLines, [o.id, JSON.stringify(lines)]);
}

/** The order paid: its capture, the money it added to the spend and what the rules gave for it, in one statement. */
export function markPaid(
  tx: UnitOfWork,
  orderId: string,
  paid: { now: Date; captureEntryId: number | null; spendAddedMinor: number; awards: readonly PaidAward[] },
): void {
  const rows: store.NewAward[] = paid.awards.map((a) => ({
    entry_id: a.entryId, account_id: a.accountId, member_id: a.memberId, points: a.points, referrer_level: a.referrerLevel,
  }));
  tx.write(store.markPaid, [orderId, paid.now, paid.captureEntryId, paid.spendAddedMinor, JSON.stringify(rows)]);
}

// ── Idempotent replays ───────────────────────────────────────────────────────

const date = (v: string | null) => (v ? new Date(v) : null);

/** An order result stored as JSON by the idempotency record, with its dates back. */
export function reviveOrderResult(json: any): OrderResult {
  return { order: reviveOrder(json.order), account: json.account, referral: json.referral ?? null };
}

export function reviveRefundResult(json: any): RefundResult {
  return { ...reviveOrderResult(json), refund: reviveRefund(json.refund) };
}

function reviveOrder(json: any): OrderRecord {
  return {
    ...json,
    placedAt: new Date(json.placedAt),
    paidAt: date(json.paidAt),
    cancelledAt: date(json.cancelledAt),
    refundedAt: date(json.refundedAt),
    updatedAt: new Date(json.updatedAt),
    refunds: json.refunds.map(reviveRefund),
  };
}

const reviveRefund = (json: any): OrderRefundRecord => ({ ...json, createdAt: new Date(json.createdAt) });
