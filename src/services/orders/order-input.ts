import { OrderBenefit } from '../../entities/order';
import { apiEnum, badInput } from '../../errors';
import { MAX_POINTS } from '../ledger';
import type { MemberRef } from '../shared';
import { checkReason, checkText } from '../shared';
import type { CheckoutLine, CheckoutOrder } from './checkout-math';
import type { OrderRecord } from './order-records';

/**
 * What the storefront sends, and the checks it passes before anything is read or written:
 * BAD_USER_INPUT names the field.
 */

export const MAX_LINES = 500;
const MAX_QUANTITY = 1_000_000;
const MAX_MONEY = 1e13;
export const MAX_TEXT = 200;

export interface OrderLineInput {
  sku: string;
  category?: string | null;
  unitPriceMinor: number;
  quantity: number;
  onSale?: boolean | null;
  /** The shop's own discounts on the line (coupons, tier discount), in total, minor units. */
  discountMinor?: number | null;
  giftCard?: boolean | null;
}

/** An order as the storefront describes it; money in minor units of the program's currency. */
export interface OrderInput {
  /** The shop's order id; a quote may leave it out. */
  orderId?: string | null;
  member: MemberRef;
  lines: OrderLineInput[];
  deliveryMinor?: number | null;
  paymentMethod?: string | null;
  channel?: string | null;
  shopCode?: string | null;
  /** When given, must be the program's currency. */
  currency?: string | null;
  /** Referrals (R2): a referral code; placeOrder binds the buyer to its owner (a quote only checks it exists). */
  referralCode?: string | null;
}

export interface CheckoutQuoteInput {
  order: OrderInput;
  /** Points to split; default the most allowed. */
  points?: number | null;
}

export interface PlaceOrderInput extends OrderInput {
  orderId: string;
  /** Points to pay with; at most what the quote allows. Default 0; none with the tier discount. */
  points?: number | null;
  /** Points (default) or the member's tier discount instead (T4). */
  benefit?: OrderBenefit | null;
  idempotencyKey: string;
}

export interface OrderActionInput {
  orderId: string;
  reason?: string | null;
  idempotencyKey: string;
}

/** Units to return: the line by its index in the order, or by SKU when only one line has it. */
export interface RefundLineInput {
  lineIndex?: number | null;
  sku?: string | null;
  quantity: number;
}

export interface RefundOrderLinesInput extends OrderActionInput {
  lines: RefundLineInput[];
}

/** A checked order: the lines checkout-math works on, and the rest of what was said about it. */
export interface CheckedOrder extends CheckoutOrder {
  orderId: string | null;
  member: MemberRef;
  lines: Array<CheckoutLine & { category?: string }>;
  deliveryMinor: number;
  paymentMethod: string | null;
  channel: string | null;
  shopCode: string | null;
  currency: string | null;
}

/** A line's price net of the shop's own discounts. */
export const lineNet = (l: CheckoutLine): number => Math.max(0, l.unitPriceMinor * l.quantity - (l.discountMinor ?? 0));

/** What the order costs before points: its lines net of the shop's discounts, plus delivery. */
export const orderTotal = (order: CheckedOrder): number => order.lines.reduce((s, l) => s + lineNet(l), 0) + order.deliveryMinor;

function checkMoney(value: number | null | undefined, field: string): number {
  const v = value ?? 0;
  if (!Number.isSafeInteger(v) || v < 0 || v > MAX_MONEY) {
    throw badInput(`${field} must be a whole number of minor units from 0 to ${MAX_MONEY}`, { field, value });
  }
  return v;
}

export function checkPointsAmount(points: number, allowZero: boolean): void {
  if (!Number.isSafeInteger(points) || points < (allowZero ? 0 : 1) || points > MAX_POINTS) {
    throw badInput(`points must be a whole number from ${allowZero ? 0 : 1} to ${MAX_POINTS}`, { field: 'points', value: points });
  }
}

/** Checks the order the storefront describes; placing one needs its orderId, a quote does not. */
export function checkOrder(input: OrderInput, needsOrderId: boolean): CheckedOrder {
  const orderId = checkText(input.orderId, 'orderId', MAX_TEXT, needsOrderId);
  if (!Array.isArray(input.lines) || input.lines.length === 0 || input.lines.length > MAX_LINES) {
    throw badInput(`An order has 1 to ${MAX_LINES} lines`, { field: 'lines' });
  }
  const lines = input.lines.map((l, i) => checkLine(l, `lines[${i}]`));
  const currency = checkText(input.currency, 'currency', 3);
  if (currency != null && !/^[A-Z]{3}$/.test(currency)) throw badInput('currency must be an ISO 4217 code', { field: 'currency' });
  return {
    orderId,
    member: input.member,
    lines,
    deliveryMinor: checkMoney(input.deliveryMinor, 'deliveryMinor'),
    paymentMethod: checkText(input.paymentMethod, 'paymentMethod', 50),
    channel: checkText(input.channel, 'channel', 50),
    shopCode: checkText(input.shopCode, 'shopCode', 100),
    currency,
  };
}

function checkLine(l: OrderLineInput, field: string): CheckoutLine & { category?: string } {
  const quantity = l.quantity;
  if (!Number.isSafeInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
    throw badInput(`${field}.quantity must be a whole number from 1 to ${MAX_QUANTITY}`, { field: `${field}.quantity` });
  }
  const unitPriceMinor = checkMoney(l.unitPriceMinor, `${field}.unitPriceMinor`);
  const discountMinor = checkMoney(l.discountMinor, `${field}.discountMinor`);
  if (unitPriceMinor * quantity > MAX_MONEY) throw badInput(`${field} costs more than ${MAX_MONEY} minor units`, { field });
  if (discountMinor > unitPriceMinor * quantity) {
    throw badInput(`${field}.discountMinor is more than the line costs`, { field: `${field}.discountMinor` });
  }
  const category = checkText(l.category, `${field}.category`, MAX_TEXT);
  return {
    sku: checkText(l.sku, `${field}.sku`, MAX_TEXT, true)!,
    ...(category != null ? { category } : {}),
    unitPriceMinor,
    quantity,
    onSale: l.onSale ?? false,
    discountMinor,
    giftCard: l.giftCard ?? false,
  };
}

/**
 * The benefit an order asks for: points unless it names the tier discount, which takes no
 * points — an order gets points or the discount, never both (BAD_USER_INPUT).
 */
export function checkBenefit(benefit: OrderBenefit | null | undefined, points: number): OrderBenefit {
  if (benefit == null || benefit === OrderBenefit.POINTS) return OrderBenefit.POINTS;
  if (benefit !== OrderBenefit.TIER_DISCOUNT) throw badInput('benefit must be POINTS or TIER_DISCOUNT', { field: 'benefit' });
  if (points > 0) {
    throw badInput('An order takes the tier discount or points, not both: leave points out (or 0) with benefit TIER_DISCOUNT', {
      field: 'points',
      points,
      benefit: apiEnum(benefit),
    });
  }
  return OrderBenefit.TIER_DISCOUNT;
}

/** Pay and cancel: the order named, the reason short enough. */
export function checkAction(input: OrderActionInput): void {
  checkText(input.orderId, 'orderId', MAX_TEXT, true);
  checkReason(input.reason);
}

/** A return: an action with 1 to MAX_LINES lines (each checked against the order by resolveReturns). */
export function checkRefund(input: RefundOrderLinesInput): void {
  checkAction(input);
  if (!Array.isArray(input.lines) || input.lines.length === 0 || input.lines.length > MAX_LINES) {
    throw badInput(`lines must list 1 to ${MAX_LINES} returns`, { field: 'lines' });
  }
}

/** Units returned per line index; by SKU only when exactly one line has it. More than was bought is BAD_USER_INPUT. */
export function resolveReturns(order: OrderRecord, requested: RefundLineInput[]): Map<number, number> {
  const returned = new Map<number, number>();
  // The return that last named each line: the one to fix when the line's total is too many.
  const lastNamed = new Map<number, number>();
  requested.forEach((r, i) => {
    const index = returnedLine(order, r, `lines[${i}]`);
    returned.set(index, (returned.get(index) ?? 0) + r.quantity);
    lastNamed.set(index, i);
  });
  for (const [index, quantity] of returned) {
    const line = order.lines[index];
    if (line.refundedQuantity + quantity > line.quantity) {
      throw badInput(
        `Line ${index} (${line.sku}): ${quantity} asked back, ${line.quantity - line.refundedQuantity} of ${line.quantity} left to return`,
        { field: `lines[${lastNamed.get(index)}].quantity`, lineIndex: index, requested: quantity, returnable: line.quantity - line.refundedQuantity },
      );
    }
  }
  return returned;
}

/** The index of the line one return names. */
function returnedLine(order: OrderRecord, r: RefundLineInput, field: string): number {
  if (!Number.isSafeInteger(r.quantity) || r.quantity < 1) {
    throw badInput(`${field}.quantity must be a whole number of at least 1`, { field: `${field}.quantity` });
  }
  if (r.lineIndex != null) {
    const line = order.lines[r.lineIndex];
    if (!line) throw badInput(`${field}: the order has no line ${r.lineIndex}`, { field: `${field}.lineIndex` });
    if (r.sku != null && line.sku !== r.sku) throw badInput(`${field}: line ${r.lineIndex} is SKU ${line.sku}, not ${r.sku}`, { field: `${field}.sku` });
    return r.lineIndex;
  }
  if (r.sku != null) {
    const matches = order.lines.filter((l) => l.sku === r.sku);
    if (matches.length === 0) throw badInput(`${field}: the order has no line with SKU ${r.sku}`, { field: `${field}.sku` });
    if (matches.length > 1) throw badInput(`${field}: several lines have SKU ${r.sku}; name the lineIndex`, { field: `${field}.sku` });
    return matches[0].index;
  }
  throw badInput(`${field}: name the line by lineIndex or sku`, { field });
}
