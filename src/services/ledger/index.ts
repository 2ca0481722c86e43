// The ledger module's only door: other modules and the GraphQL edge import from here.
export * from './account-book';
export * from './ledger-audit';
export * from './ledger-queries';
export * from './ledger-service';
export * from './lot-jobs';
