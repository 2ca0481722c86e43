import { OrderStatus } from '../../entities/order';
import { ErrorCode, PatronError, apiEnum } from '../../errors';

/**
 * The order's statuses and the moves between them, in one table: a use case asks for the
 * status it leads to before it does anything, and a move the table does not list is
 * INVALID_STATE, with its message built here.
 *
 * ```
 * placed ──pay──▶ paid ──return lines──▶ partially_refunded ──return lines──▶ refunded
 *   │               │ └──────────────return every line──────────────────────▶ refunded
 *   └──cancel──▶ cancelled ◀──cancel──┘
 * ```
 * Cancelled and refunded are final.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  [OrderStatus.PLACED]: [OrderStatus.PAID, OrderStatus.CANCELLED],
  [OrderStatus.PAID]: [OrderStatus.CANCELLED, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED],
  [OrderStatus.PARTIALLY_REFUNDED]: [OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED],
  [OrderStatus.CANCELLED]: [],
  [OrderStatus.REFUNDED]: [],
};

export const canTransition = (from: OrderStatus, to: OrderStatus): boolean => ORDER_TRANSITIONS[from].includes(to);

/**
 * Why an order in `from` cannot move to `to`, as the client reads it. Returning lines leads to
 * partially_refunded or refunded: both are asked for as `refunded`.
 */
function refusal(from: OrderStatus, to: OrderStatus): { wanted: string; message: string } {
  switch (to) {
    case OrderStatus.PAID:
      return { wanted: 'paid', message: 'Only a placed order can be paid' };
    case OrderStatus.CANCELLED: {
      const hint = from === OrderStatus.PARTIALLY_REFUNDED ? '; return the remaining lines with refundOrderLines' : '';
      return { wanted: 'cancelled', message: `A ${prose(from)} order cannot be cancelled${hint}` };
    }
    case OrderStatus.PARTIALLY_REFUNDED:
    case OrderStatus.REFUNDED: {
      const hint = from === OrderStatus.PLACED ? '; an unpaid order is cancelled instead' : '';
      return { wanted: 'refunded', message: `Lines of a ${prose(from)} order cannot be returned${hint}` };
    }
    case OrderStatus.PLACED:
      return { wanted: 'placed', message: 'An order is placed only once' };
  }
}

/** Throws INVALID_STATE unless the order may move from its status to `to`. */
export function assertTransition(order: { orderId: string; status: OrderStatus }, to: OrderStatus): void {
  if (canTransition(order.status, to)) return;
  const { wanted, message } = refusal(order.status, to);
  throw new PatronError(ErrorCode.INVALID_STATE, message, { orderId: order.orderId, status: apiEnum(order.status), wanted: apiEnum(wanted) });
}

/** A status as a sentence says it: partially_refunded → partially refunded. */
const prose = (status: OrderStatus): string => status.replace(/_/g, ' ');
