import type { Balances, EntryRecord } from '../ledger';

/** Publishes domain events after their transaction committed. Implemented by the pub/sub. */
export interface EventPublisher {
  publish(topic: string, id: string, payload: unknown): void;
}

export const Topic = {
  /** id: member id */
  BALANCE_CHANGED: 'BALANCE_CHANGED',
} as const;

export interface BalanceChangedEvent {
  memberId: string;
  balances: Balances;
  entry: EntryRecord;
}

/** One event per written entry, each carrying the balances right after it. */
export function publishBalanceChanges(events: EventPublisher, entries: EntryRecord[]): void {
  for (const entry of entries) {
    const event: BalanceChangedEvent = {
      memberId: entry.memberId,
      balances: { available: entry.available, pending: entry.pending, reserved: entry.reserved },
      entry,
    };
    events.publish(Topic.BALANCE_CHANGED, entry.memberId, event);
  }
}

/**
 * The entries of several lists, each once, in the order they were written (by id): one write
 * may reach the same entry through several books (the member's own, and the Earning port's).
 */
export function uniqueEntries(...lists: ReadonlyArray<readonly EntryRecord[]>): EntryRecord[] {
  const byId = new Map<number, EntryRecord>();
  for (const list of lists) for (const entry of list) byId.set(entry.id, entry);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}
