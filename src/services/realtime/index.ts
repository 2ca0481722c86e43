// The realtime module's only door: domain events for live subscribers, the outbox relay that
// publishes them after commit, and the read of a member's events a client missed.
export * from './balance-events';
export * from './outbox-relay';
export * from './missed-events';
