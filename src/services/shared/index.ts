// The shared module's only door: other modules and the GraphQL edge import from here.
export * from './clock';
export * from './context';
export * from './idempotency';
export * from './input';
export * from './hooks';
export * from './page';
