import type { Database } from '../../db/database';
import { badInput } from '../../errors';
import type { RequestContext } from '../shared';
import { BALANCE_CHANGED, type BalanceChangedEvent } from '../ledger';
import type { DeliveredBalanceChange } from './balance-events';
import { eventsAfter } from './outbox-store';


const MAX_EVENTS = 500;

/**
 * A member's balance changes after a sequence number, as subscribers received them: a client
 * that saw a gap in `sequence` (it was offline, or its socket dropped) reads what it missed here.
 * Events are kept for the outbox's retention (7 days by default).
 */
export class MissedEvents {
  constructor(private readonly db: Database) {}

  async balanceChanges(ctx: RequestContext, memberId: string, afterSequence: number, first = 100): Promise<DeliveredBalanceChange[]> {
    if (!Number.isSafeInteger(afterSequence) || afterSequence < 0) {
      throw badInput('afterSequence must be a whole number ≥ 0', { field: 'afterSequence' });
    }
    if (!Number.isSafeInteger(first) || first < 1 || first > MAX_EVENTS) {
      throw badInput(`first must be from 1 to ${MAX_EVENTS}`, { field: 'first' });
    }
    const rows = await this.db.run(eventsAfter, [ctx.programId, memberId, BALANCE_CHANGED, afterSequence, first]);
    return rows.map((row) => {
      const event = row.payload as BalanceChangedEvent;
      return {
        ...event,
        entry: { ...event.entry, createdAt: new Date(event.entry.createdAt) },
        eventId: row.event_id,
        sequence: Number(row.sequence),
        occurredAt: new Date(row.created_at),
      };
    });
  }
}
