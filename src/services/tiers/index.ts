/** The tiers module's only door. */
export { TierService, inForce, type MemberTierBenefits, type TierMembershipRecord } from './tier-service';
export { TIER_CHANGED, type TierChangedEvent } from './events';
export type * from './types';
