import type { BalanceChangedEvent } from '../ledger';

/** Publishes events to live subscribers. Implemented by the pub/sub; fed by the outbox relay. */
export interface EventPublisher {
  publish(topic: string, id: string, payload: unknown): void;
  /** Resolves once everything published so far has been sent on (the relay marks rows published after it). */
  flushNow?(): Promise<void>;
}

/** What subscribers receive: the event as written, numbered in its member's stream. */
export interface DeliveredBalanceChange extends BalanceChangedEvent {
  eventId: string;
  /** The member's sequence number on this topic: 1, 2, 3 … without gaps. */
  sequence: number;
  occurredAt: Date;
}
