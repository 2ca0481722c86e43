// The orders module's only door: other modules and the GraphQL edge import from here.
export * from './checkout-math';
export * from './order-math';
export * from './order-service';
export * from './order-events';
