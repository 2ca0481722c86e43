import type { EventPublisher } from '../events';
import type { TierChange } from './types';

/** Pub/sub topic of tier changes; id: member id. */
export const TIER_CHANGED = 'TIER_CHANGED';

/** What subscribers of TIER_CHANGED receive (JSON between instances: dates arrive as strings). */
export type TierChangedEvent = TierChange;

/**
 * The one place tier changes leave the module, after their transaction committed. (To move to
 * the outbox: emit these from the unit of work instead.)
 */
export function publishTierChanges(events: EventPublisher, changes: readonly TierChange[]): void {
  for (const change of changes) events.publish(TIER_CHANGED, change.memberId, change);
}
