import type { UnitOfWork } from '../../db/database';
import { raise } from '../shared';
import type { TierChange } from './types';

/** The outbox topic of tier changes; subscriptions route them by member id. */
export const TIER_CHANGED = 'TIER_CHANGED';

/** What subscribers of TIER_CHANGED receive (JSON between instances: dates arrive as strings). */
export type TierChangedEvent = TierChange;

declare module '../shared/hooks' {
  interface DomainEvents {
    'tier.changed': TierChange;
  }
}

/** The one place tier changes leave the module: raised in the transaction that made them, published after commit. */
export async function emitTierChanges(tx: UnitOfWork, programId: string, changes: readonly TierChange[]): Promise<void> {
  for (const change of changes) await raise(tx, 'tier.changed', TIER_CHANGED, { programId, memberId: change.memberId }, change);
}
