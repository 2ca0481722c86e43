import type { Database } from '../../db/database';
import type { Logger } from '../../logger';
import type { EventPublisher } from './balance-events';
import { claimUnpublished, prunePublished, type OutboxRow } from './outbox-store';

export interface OutboxRelayOptions {
  /** Events claimed per statement. */
  batchSize?: number;
  /** How often the relay looks for events it was not told about (another instance died mid-way, or a kick was lost). */
  pollMs?: number;
  /** How long a commit's kick waits for others to join it: one claim then carries many commits' events. */
  gatherMs?: number;
}

/** What a relay hands to the pub/sub for a row: the payload with its place in the member's stream. */
export function delivered(row: OutboxRow): Record<string, unknown> {
  return {
    ...(row.payload as Record<string, unknown>),
    eventId: row.event_id,
    sequence: row.sequence,
    occurredAt: row.created_at,
  };
}

/**
 * Publishes committed outbox events to the pub/sub. A commit that wrote events kicks it; a poll
 * picks up what an instance that died between commit and publish left, and what was committed
 * while this one was down — so an event is published once its transaction commits, never before
 * and never lost. Several instances share the work: a row is claimed by one relay only.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly gatherMs: number;
  private gathering: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly publisher: EventPublisher,
    private readonly logger: Pick<Logger, 'warn' | 'error'>,
    options: OutboxRelayOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.pollMs = options.pollMs ?? 1_000;
    this.gatherMs = options.gatherMs ?? 25;
  }

  /** Publishes what is waiting, then keeps polling; wakes at once after each commit with events. */
  start(): void {
    this.db.onOutboxCommitted(() => this.soon());
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** A kick a moment from now, shared by every commit until then. */
  private soon(): void {
    if (this.gathering || this.stopped) return;
    this.gathering = setTimeout(() => {
      this.gathering = null;
      this.kick();
    }, this.gatherMs);
  }

  kick(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Publishes everything committed so far (tests and shutdown wait on it). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
    await this.drain();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.gathering) clearTimeout(this.gathering);
    await this.draining;
  }

  /** Deletes published events older than `before`; returns how many. */
  async prune(before: Date, batchSize = 5_000): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.db.run(prunePublished, [before, batchSize]);
      total += rows.length;
      if (rows.length < batchSize) return total;
    }
  }

  /**
   * Batches of: claim the oldest unpublished rows (marked published, not yet committed), hand
   * them to the pub/sub, wait until it has sent them, commit. A crash before the commit publishes
   * them again (at least once; subscribers tell a repeat by its sequence number), never not at all.
   */
  private async drain(): Promise<void> {
    try {
      for (;;) {
        const published = await this.db.transaction(async (tx) => {
          const rows = await tx.run(claimUnpublished, [this.batchSize]);
          for (const row of rows) {
            if (row.member_id) this.publisher.publish(row.topic, row.member_id, delivered(row));
          }
          if (rows.length > 0) await this.publisher.flushNow?.();
          return rows.length;
        });
        if (published < this.batchSize) return;
      }
    } catch (error) {
      // The batch rolls back and stays unpublished; the next kick or poll tries again.
      this.logger.warn({ err: error }, 'outbox relay could not publish; will retry');
    }
  }
}
