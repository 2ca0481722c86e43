import { statement } from '../../db/statement';

/**
 * The event side's SQL: the event table (written here only), the member an event is about, and
 * what the birthday run reads (each program's settings, the members whose birthday it is).
 */

export interface EventRow {
  id: string;
  program_id: string;
  member_id: string;
  type: string;
  payload: Record<string, unknown>;
  occurred_at: Date;
  idempotency_key: string;
  created_at: Date;
}

export const insertEvent = statement<
  [id: string, programId: string, memberId: string, type: string, payload: string, occurredAt: Date, key: string, now: Date],
  EventRow
>(
  'events.insert_event',
  `insert into event (id, program_id, member_id, type, payload, occurred_at, idempotency_key, created_at)
   values (?, ?, ?, ?, ?::jsonb, ?, ?, ?) returning *`,
);

// The member an event names, by each kind of reference (memberRefColumn's columns).
type MemberIdRow = { id: string };
export const memberIdBy = {
  id: statement<[programId: string, id: string], MemberIdRow>('events.member_id_by_id', 'select id from member where program_id = ? and id = ?'),
  external_id: statement<[programId: string, externalId: string], MemberIdRow>(
    'events.member_id_by_external_id',
    'select id from member where program_id = ? and external_id = ?',
  ),
  email: statement<[programId: string, email: string], MemberIdRow>('events.member_id_by_email', 'select id from member where program_id = ? and email = ?'),
  phone: statement<[programId: string, phone: string], MemberIdRow>('events.member_id_by_phone', 'select id from member where program_id = ? and phone = ?'),
} as const;

/** Every program, in id order: the birthday job visits each. */
export const programIds = statement<[], { id: string }>('events.program_ids', 'select id from program order by id');

export const birthdaySettings = statement<[programId: string], { time_zone: string; birthday_days_before: number }>(
  'events.birthday_settings',
  'select time_zone, birthday_days_before from program where id = ?',
);

/**
 * One batch of a program's members born on `month` and one of `days`, after `after` in id
 * order, skipping those whose birthday event of `year` exists (its key: `prefix:member:year`).
 */
export const birthdayMembers = statement<
  [programId: string, month: number, days: number[], after: string, keyPrefix: string, year: string, limit: number],
  { id: string; birthday: string }
>(
  'events.birthday_members',
  `select m.id, to_char(m.birthday, 'YYYY-MM-DD') as birthday from member m
   where m.program_id = ? and m.birthday is not null
     and extract(month from m.birthday) = ?::numeric and extract(day from m.birthday) = any(?::numeric[]) and m.id > ?
     and not exists (select 1 from event e where e.program_id = m.program_id
                       and e.idempotency_key = ?::text || ':' || m.id || ':' || ?::text)
   order by m.id limit ?`,
);
