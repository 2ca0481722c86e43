import type { UnitOfWork } from './unit-of-work';
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
 * Writes a unit of work's events in one statement, in emit order. Each (member, topic) counter
 * moves by the number of its events; an event's number is the counter's new value less how many
 * of its kind follow it (`from_end`, counted by the caller). The counter row stays locked until
 * commit, so numbers follow commit order per member. Kept plain on purpose (arrays in, no JSON
 * record set, no window function): it runs with every ledger write, and measured, the earlier
 * shape cost PostgreSQL about 0.3 ms of planning and execution per write more.
 */
const insertEvents = statement<
  [counterMembers: string[], counterTopics: string[], counts: number[],
    types: string[], topics: string[], programIds: string[], memberIds: Array<string | null>, fromEnd: number[], payloads: string[]],
  { id: number }
>(
  'outbox.insert_events',
  `with seq as (
     insert into outbox_sequence as s (member_id, topic, last_sequence)
     select * from unnest($1::uuid[], $2::text[], $3::bigint[])
     on conflict (member_id, topic) do update set last_sequence = s.last_sequence + excluded.last_sequence
     returning member_id, topic, last_sequence
   )
   insert into outbox (event_id, type, topic, program_id, member_id, sequence, payload, created_at)
   select gen_random_uuid(), e.type, e.topic, e.program_id, e.member_id, seq.last_sequence - e.from_end, e.payload, clock_timestamp()
   from unnest($4::text[], $5::text[], $6::uuid[], $7::uuid[], $8::bigint[], $9::jsonb[]) with ordinality
     as e(type, topic, program_id, member_id, from_end, payload, ord)
   left join seq on seq.member_id = e.member_id and seq.topic = e.topic
   order by e.ord
   returning id`,
);

/** Queues the events' write: it goes out with the transaction's COMMIT. */
export function writeOutbox(tx: UnitOfWork, events: readonly OutboxEvent[]): void {
  // Per (member, topic): how many events, and for each event how many of its kind come after it.
  const counters = new Map<string, { memberId: string; topic: string; count: number }>();
  for (const e of events) {
    if (!e.memberId) continue;
    const key = `${e.memberId}\u0000${e.topic}`;
    const counter = counters.get(key) ?? { memberId: e.memberId, topic: e.topic, count: 0 };
    counter.count++;
    counters.set(key, counter);
  }
  const seen = new Map<string, number>();
  const fromEnd = events.map((e) => {
    if (!e.memberId) return 0;
    const key = `${e.memberId}\u0000${e.topic}`;
    const before = seen.get(key) ?? 0;
    seen.set(key, before + 1);
    return counters.get(key)!.count - before - 1;
  });
  const list = [...counters.values()];
  tx.write(insertEvents, [
    list.map((c) => c.memberId), list.map((c) => c.topic), list.map((c) => c.count),
    events.map((e) => e.type), events.map((e) => e.topic), events.map((e) => e.programId), events.map((e) => e.memberId),
    fromEnd, events.map((e) => JSON.stringify(e.payload)),
  ]);
}
