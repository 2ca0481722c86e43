import type { Queryable } from './statement';
import { statement } from './statement';

/**
 * A domain event: written to the outbox by the unit of work that caused it, published by the
 * relay once committed. `topic` is the live stream it belongs to (BALANCE_CHANGED …); events of
 * a member are numbered per (member, topic), so a subscriber can tell it missed one.
 */
export interface OutboxEvent {
  /** What happened: 'ledger.entry_posted', 'order.paid' … */
  type: string;
  topic: string;
  programId: string;
  memberId: string | null;
  payload: unknown;
}

/** An outbox row as the relay and the missed-events query read it. */
export interface OutboxRow {
  id: number;
  event_id: string;
  type: string;
  topic: string;
  program_id: string;
  member_id: string | null;
  sequence: number | null;
  payload: unknown;
  created_at: Date;
}

/**
 * Writes a unit of work's events in one statement, in emit order: each event of a member takes
 * the next number of its (member, topic) counter. The counter row is locked until commit, so
 * numbers follow commit order per member.
 */
const insertEvents = statement<[events: string], { id: number }>(
  'outbox.insert_events',
  `with ev as (
     select * from jsonb_to_recordset(?::jsonb) as x(ord int, type text, topic text, program_id uuid, member_id uuid, payload jsonb)
   ), counts as (
     select member_id, topic, count(*)::bigint as n from ev where member_id is not null group by member_id, topic
   ), seq as (
     insert into outbox_sequence (member_id, topic, last_sequence)
     select member_id, topic, n from counts
     on conflict (member_id, topic) do update set last_sequence = outbox_sequence.last_sequence + excluded.last_sequence
     returning member_id, topic, last_sequence
   ), numbered as (
     select ev.*, seq.last_sequence - c.n
         + row_number() over (partition by ev.member_id, ev.topic order by ev.ord) as sequence
     from ev left join counts c on c.member_id = ev.member_id and c.topic = ev.topic
     left join seq on seq.member_id = ev.member_id and seq.topic = ev.topic
   )
   insert into outbox (event_id, type, topic, program_id, member_id, sequence, payload, created_at)
   select gen_random_uuid(), type, topic, program_id, member_id, sequence, payload, clock_timestamp()
   from numbered order by ord
   returning id`,
);

export async function flushOutbox(tx: Queryable, events: readonly OutboxEvent[]): Promise<void> {
  const rows = events.map((e, i) => ({
    ord: i,
    type: e.type,
    topic: e.topic,
    program_id: e.programId,
    member_id: e.memberId,
    payload: e.payload,
  }));
  await tx.run(insertEvents, [JSON.stringify(rows)]);
}
