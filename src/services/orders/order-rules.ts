import type { EarningRequest } from '../earning';
import type { CheckoutQuote } from './checkout-math';
import { orderTotal, type CheckedOrder } from './order-input';
import type { OrderLineRecord, OrderRecord } from './order-records';

/**
 * The bridge to the earning rules: what they see of an order, paid or only quoted. The rules
 * themselves run behind the Earning port (services/earning).
 */

/** What the rules see of an order: an OrderRecord, or a quoted order that has no record yet. */
export type RuleOrderView = Pick<
  OrderRecord,
  'totalMinor' | 'deliveryMinor' | 'currency' | 'paymentMethod' | 'channel' | 'shopCode' | 'pointsRedeemed'
> & {
  orderId: string | null;
  lines: Array<Pick<OrderLineRecord, 'sku' | 'category' | 'unitPriceMinor' | 'quantity' | 'onSale' | 'giftCard' | 'earnBaseMinor'>>;
};

/**
 * The 'order_paid' event for the rules. Each line's eligibleMoneyMinor is the money paid for
 * it (net of the shop's discounts and of points, unless the program earns on the points-paid
 * part too); totalMinor is the order's total before points, for conditions on the order size.
 */
export function orderPaidEvent(order: RuleOrderView, now: Date): Omit<EarningRequest, 'source'> {
  return {
    trigger: 'order_paid',
    occurredAt: now,
    payload: {
      orderId: order.orderId,
      totalMinor: order.totalMinor,
      deliveryMinor: order.deliveryMinor,
      currency: order.currency,
      paymentMethod: order.paymentMethod,
      channel: order.channel,
      shopCode: order.shopCode,
      pointsRedeemed: order.pointsRedeemed,
      lines: order.lines.map((l) => ({ sku: l.sku, category: l.category, quantity: l.quantity, giftCard: l.giftCard })),
    },
    order: {
      totalMinor: order.totalMinor,
      paymentMethod: order.paymentMethod,
      channel: order.channel,
      lines: order.lines.map((l) => ({
        sku: l.sku,
        category: l.category,
        unitPriceMinor: l.unitPriceMinor,
        quantity: l.quantity,
        onSale: l.onSale,
        eligibleMoneyMinor: l.earnBaseMinor,
      })),
    },
  };
}

/** The rules' view of a quoted order, as if it were paid with the quoted points. */
export function quotedOrderView(order: CheckedOrder, currency: string, quote: CheckoutQuote): RuleOrderView {
  return {
    orderId: order.orderId,
    totalMinor: orderTotal(order),
    deliveryMinor: order.deliveryMinor,
    currency,
    paymentMethod: order.paymentMethod,
    channel: order.channel,
    shopCode: order.shopCode,
    pointsRedeemed: quote.points,
    lines: order.lines.map((l, i) => ({
      sku: l.sku,
      category: l.category ?? null,
      unitPriceMinor: l.unitPriceMinor,
      quantity: l.quantity,
      onSale: l.onSale ?? false,
      giftCard: l.giftCard ?? false,
      earnBaseMinor: quote.earningBase.lines[i].eligibleMoneyMinor,
    })),
  };
}
