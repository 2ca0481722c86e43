// The ledger module's only door: other modules and the GraphQL edge import from here. Its
// stores (book-store, sweep-store, authorization-store, queries-store, audit-store) stay inside.
export * from './account-book';
export { accountLock, type AccountLock } from './account-locks';
export type { AccrualPart, NewAccrual, RulePart, RuleSource } from './accruals';
export { DEBT_REPAID, shortfallUnder, toEntryRecord, type AccountState, type AccrualLot, type AccrualLots, type Balances, type Cause, type EntryRecord, type ProgramPolicy, type Shortfall } from './entries';
export * from './authorizations';
export * from './ledger-audit';
export * from './ledger-events';
export * from './ledger-queries';
export * from './ledger-service';
export * from './lot-jobs';
export type { SweepOutcome, SweepScope } from './sweeps';
