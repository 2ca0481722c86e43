import type { OutboxEvent } from '../../db/database';
import type { Balances, EntryRecord } from './entries';

/** The outbox topic of balance changes; subscriptions route them by member id. */
export const BALANCE_CHANGED = 'BALANCE_CHANGED';

/** The outbox topic of reversed accruals (for webhooks; no subscription reads it). */
export const ACCRUAL_REVERSED = 'ACCRUAL_REVERSED';

export const LedgerEvent = {
  ENTRY_POSTED: 'ledger.entry_posted',
  ACCRUAL_REVERSED: 'ledger.accrual_reversed',
} as const;

/** One posted entry with the balances right after it: what balance subscribers receive. */
export interface BalanceChangedEvent {
  memberId: string;
  balances: Balances;
  entry: EntryRecord;
}

/**
 * An accrual undone by reverseEntry: `recovered` is what the reversal took back (what expired
 * unused is not). Earning hooks it to give the points back to the rules' limits.
 */
export interface AccrualReversed {
  entryId: number;
  reversalEntryId: number;
  recovered: number;
}

declare module '../shared/hooks' {
  interface DomainEvents {
    'ledger.entry_posted': BalanceChangedEvent;
    'ledger.accrual_reversed': AccrualReversed;
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
