// The orders module's only door: other modules and the GraphQL edge import from here. Its store
// and its helpers (books, points, records, rules bridge) stay inside.
export * from './checkout-math';
export * from './order-math';
export * from './order-events';
export { OrderService, type CheckoutReferrals } from './order-service';
export type { CheckoutQuoteRecord, CheckoutTier, CheckoutTiers, QuoteLineRecord, TierDiscountOptionRecord } from './order-checkout';
export type {
  CheckoutQuoteInput, OrderActionInput, OrderInput, OrderLineInput, PlaceOrderInput, RefundLineInput, RefundOrderLinesInput,
} from './order-input';
export type { CheckoutAttribution, OrderAwardRecord, OrderLineRecord, OrderRecord, OrderRefundRecord, OrderResult, RefundResult } from './order-records';
export { ORDER_AUTHORIZATION_TTL_SECONDS } from './order-points';
export { ORDER_TRANSITIONS, canTransition } from './order-state';
