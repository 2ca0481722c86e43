// The earning module's only door: other modules and the GraphQL edge import from here.
// (Its stores, earning-store.ts and event-store.ts, stay behind it.)
export * from './earning-port';
export * from './earning-types';
export type { AwardLimit, PlannedAward } from './award-planner';
export * from './earning-service';
/** The referrer lock order (orders lock through it too), and the referral tree walk. */
export { lockReferrerAccounts, type ReferrerResolver } from './referrers';
export * from './event-types';
export { checkEvent, SYSTEM_EVENT_TYPES } from './event-checks';
export * from './event-service';
export * from './rule-service';
