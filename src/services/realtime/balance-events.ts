import type { OutboxEvent } from '../../db/database';
import type { Balances, EntryRecord } from '../ledger/account-book';

/** Publishes events to live subscribers. Implemented by the pub/sub; fed by the outbox relay. */
export interface EventPublisher {
  publish(topic: string, id: string, payload: unknown): void;
  /** Resolves once everything published so far has been sent on (the relay marks rows published after it). */
  flushNow?(): Promise<void>;
}

export const Topic = {
  /** id: member id */
  BALANCE_CHANGED: 'BALANCE_CHANGED',
} as const;

export const EventType = {
  ENTRY_POSTED: 'ledger.entry_posted',
} as const;

export interface BalanceChangedEvent {
  memberId: string;
  balances: Balances;
  entry: EntryRecord;
}

/** What subscribers receive: the event as written, numbered in its member's stream. */
export interface Delivered<T> {
  eventId: string;
  /** The member's sequence number on this topic: 1, 2, 3 … without gaps. */
  sequence: number;
  occurredAt: Date;
  event: T;
}

/** The outbox event for one written entry, carrying the balances right after it. */
export function entryPosted(entry: EntryRecord): OutboxEvent {
  const payload: BalanceChangedEvent = {
    memberId: entry.memberId,
    balances: { available: entry.available, pending: entry.pending, reserved: entry.reserved },
    entry,
  };
  return { type: EventType.ENTRY_POSTED, topic: Topic.BALANCE_CHANGED, programId: entry.programId, memberId: entry.memberId, payload };
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

/** @deprecated Entries are published through the outbox now (AccountBook emits them); kept until every caller is gone. */
export function publishBalanceChanges(_events: EventPublisher, _entries: EntryRecord[]): void {}
