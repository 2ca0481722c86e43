import type { OutboxRow } from '../../db/outbox-store';
import { statement } from '../../db/statement';

export type { OutboxRow } from '../../db/outbox-store';

/**
 * Locks the oldest unpublished events for the rest of the relay's transaction, skipping rows
 * another instance's relay holds, so two relays never publish the same rows at once.
 */
export const lockUnpublished = statement<[limit: number], OutboxRow>(
  'outbox.lock_unpublished',
  `select id, event_id, type, topic, program_id, member_id, sequence, payload, created_at
   from outbox where published_at is null order by id limit ? for update skip locked`,
);

export const markPublished = statement<[ids: string], never>(
  'outbox.mark_published',
  `update outbox set published_at = clock_timestamp() where id = any(?::bigint[])`,
);

/** A member's events on one topic after a sequence number, oldest first. */
export const eventsAfter = statement<[programId: string, memberId: string, topic: string, afterSequence: number, limit: number], OutboxRow>(
  'outbox.events_after',
  `select id, event_id, type, topic, program_id, member_id, sequence, payload, created_at
   from outbox
   where program_id = ?::uuid and member_id = ?::uuid and topic = ? and sequence > ?
   order by sequence limit ?`,
);

/** Published events older than the retention go, in bounded batches. */
export const prunePublished = statement<[before: Date, limit: number], { id: number }>(
  'outbox.prune_published',
  `delete from outbox where id in (
     select id from outbox where published_at is not null and created_at < ? order by id limit ?
   ) returning id`,
);
