import type { OutboxEvent } from '../../db/database';
import type { Balances, EntryRecord } from './account-book';

/** The outbox topic of balance changes; subscriptions route them by member id. */
export const BALANCE_CHANGED = 'BALANCE_CHANGED';

export const LedgerEvent = {
  ENTRY_POSTED: 'ledger.entry_posted',
} as const;

/** One posted entry with the balances right after it: what balance subscribers receive. */
export interface BalanceChangedEvent {
  memberId: string;
  balances: Balances;
  entry: EntryRecord;
}

declare module '../shared/hooks' {
  interface DomainEvents {
    'ledger.entry_posted': BalanceChangedEvent;
  }
}

/** The outbox event for one written entry (AccountBook and the lot jobs emit one per entry). */
export function entryPosted(entry: EntryRecord): OutboxEvent {
  const payload: BalanceChangedEvent = {
    memberId: entry.memberId,
    balances: { available: entry.available, pending: entry.pending, reserved: entry.reserved },
    entry,
  };
  return { type: LedgerEvent.ENTRY_POSTED, topic: BALANCE_CHANGED, programId: entry.programId, memberId: entry.memberId, payload };
}
