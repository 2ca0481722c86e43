/** The order lifecycle's domain events: raised inside the order's transaction, published after commit. */
export const OrderEvent = {
  PAID: 'order.paid',
  CANCELLED: 'order.cancelled',
  LINES_REFUNDED: 'order.lines_refunded',
} as const;

/** The outbox topic of order events (a member's order events are numbered on it). */
export const ORDER_TOPIC = 'ORDER_CHANGED';

/** Which order changed; hooks read what they need of it inside the same transaction. */
export interface OrderChanged {
  /** Our id of the order (shop_order.id). */
  id: string;
  /** The shop's id of the order. */
  orderId: string;
  occurredAt: Date;
}

declare module '../shared/hooks' {
  interface DomainEvents {
    'order.paid': OrderChanged;
    'order.cancelled': OrderChanged;
    'order.lines_refunded': OrderChanged;
  }
}
