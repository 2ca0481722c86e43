import type { OutboxRow } from '../../db/outbox-store';
import { statement } from '../../db/statement';

export type { OutboxRow } from '../../db/outbox-store';

/**
 * Takes the oldest unpublished events off the queue and returns them, skipping ids another
 * instance's relay holds. The relay runs it in a transaction it commits only after the pub/sub
 * sent the events, so a crash in between leaves them queued (sent again: at least once).
 */
export const claimUnpublished = statement<[limit: number], OutboxRow>(
  'outbox.claim_unpublished',
  // The events are read by id (an array of the claimed ones), not joined with the claim: a join
  // let a generic plan hash the whole outbox, days of events, for each handful claimed.
  `with due as (
     delete from outbox_unpublished where id in (
       select id from outbox_unpublished order by id limit ? for update skip locked
     ) returning id
   )
   select o.id, o.event_id, o.type, o.topic, o.program_id, o.member_id, o.sequence, o.payload, o.created_at
   from outbox o where o.id = any (array(select id from due))
   order by o.id`,
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
     select o.id from outbox o
     where o.created_at < ? and not exists (select 1 from outbox_unpublished u where u.id = o.id)
     order by o.id limit ?
   ) returning id`,
);
