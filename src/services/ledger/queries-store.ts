import { statement } from '../../db/statement';
import type { AccountRow, EntryRow } from './book-store';

/**
 * The balances of an account row with what of them is past expiry but not yet burnt by a job or
 * a write: only the columns a read shows (no ids, counters or timestamps to parse).
 */
export interface AccountReadRow extends Pick<AccountRow, 'member_id' | 'available' | 'pending' | 'reserved' | 'debt' | 'lifetime_earned' | 'lifetime_redeemed' | 'lifetime_expired'> {
  overdue_available: number;
  overdue_pending: number;
}

/**
 * Balance reads leave out points past expiry that no job or write burnt yet (one lookup in the
 * open-lots index per account), so a member never sees points they cannot spend. `now` is sent
 * as ISO text: pg's own Date formatting (local time, field by field) costs microseconds a read.
 */
const accountWithOverdue = (ref: string) => `
  select ${ref} as ref, a.member_id, a.available, a.pending, a.reserved, a.debt, a.lifetime_earned, a.lifetime_redeemed, a.lifetime_expired,
         overdue.available as overdue_available, overdue.pending as overdue_pending
  from account a cross join lateral (
    select coalesce(sum(l.remaining) filter (where l.activated_at is not null), 0) as available,
           coalesce(sum(l.remaining) filter (where l.activated_at is null), 0) as pending
    from lot l where l.account_id = a.id and l.remaining > 0 and l.expires_at <= ?
  ) overdue`;

/** An account read with the reference it was found by (`ref`: the member's id, or the member column's value). */
export interface AccountByRefRow extends AccountReadRow {
  ref: string;
}

type ManyParams = [now: string, programId: string, values: string[]];
type OneParams = [now: string, programId: string, value: string];

/** By the member's id, the account's own key: no member row to read. */
const byMemberId = <P extends ManyParams | OneParams>(name: string, compare: string) =>
  statement<P, AccountByRefRow>(name, `${accountWithOverdue('a.member_id::text')} where a.program_id = ? and a.member_id = ${compare}`);

const byMemberColumn = <P extends ManyParams | OneParams>(name: string, column: string, compare: string) =>
  statement<P, AccountByRefRow>(
    name,
    `${accountWithOverdue(`m.${column}`)} join member m on m.id = a.member_id where m.program_id = ? and m.${column} = ${compare}`,
  );

const COLUMNS = ['external_id', 'email', 'phone'] as const;

/** Accounts of several members of one program, by the member column their references name (see memberRefColumn). */
export const accountsByMember: Readonly<Record<string, ReturnType<typeof byMemberId<ManyParams>>>> = {
  id: byMemberId<ManyParams>('ledger.accounts_by_member_id', 'any(?::uuid[])'),
  ...Object.fromEntries(COLUMNS.map((column) => [column, byMemberColumn<ManyParams>(`ledger.accounts_by_${column}`, column, 'any(?::text[])')])),
};

/** One member's account: `=` costs PostgreSQL less than `= any` of a one-element array. */
export const accountByMember: Readonly<Record<string, ReturnType<typeof byMemberId<OneParams>>>> = {
  id: byMemberId<OneParams>('ledger.account_by_member_id', '?::uuid'),
  ...Object.fromEntries(COLUMNS.map((column) => [column, byMemberColumn<OneParams>(`ledger.account_by_${column}`, column, '?')])),
};

type MemberEntriesParams = [programId: string, memberId: string, beforeId: number | null, kinds: string | null, from: Date | null, to: Date | null];

/** Entries of one member within optional kinds and a period, after a cursor; `where` narrows further. */
const memberEntriesWhere = (where: string) => `select e.*, (select min(id) from lot where source_entry_id = e.id) as lot_id
   from ledger_entry e join account a on a.id = e.account_id
   where e.program_id = $1 and a.member_id = $2
     and ($3::bigint is null or e.id < $3)
     and ($4::entry_kind[] is null or e.kind = any($4::entry_kind[]))
     and ($5::timestamptz is null or e.created_at >= $5)
     and ($6::timestamptz is null or e.created_at < $6)${where}`;

/** A member's entries, newest first, after a cursor and within optional kinds and a period. */
export const memberEntries = statement<[...MemberEntriesParams, limit: number], EntryRow>(
  'ledger.member_entries',
  `${memberEntriesWhere('')}
   order by e.id desc limit $7`,
);

/** The same, of one order only: found through the index of the entries orders own, not by walking the member's history. */
export const memberOrderEntries = statement<[...MemberEntriesParams, orderId: string, limit: number], EntryRow>(
  'ledger.member_order_entries',
  `${memberEntriesWhere(`
     and e.owner_type = 'order' and e.owner_id = $7`)}
   order by e.id desc limit $8`,
);

export interface LotReadRow {
  id: number;
  amount: number;
  remaining: number;
  available_at: Date;
  activated_at: Date | null;
  expires_at: Date | null;
  created_at: Date;
  expired: boolean;
}

export const memberLots = statement<[programId: string, memberId: string, beforeId: number | null, openOnly: boolean, limit: number], LotReadRow>(
  'ledger.member_lots',
  `select l.*,
     exists (select 1 from lot_allocation la join ledger_entry e on e.id = la.entry_id
             where la.lot_id = l.id and e.kind = 'expiry') as expired
   from lot l join account a on a.id = l.account_id
   where l.program_id = $1 and a.member_id = $2 and ($3::bigint is null or l.id < $3::bigint)
     and (not $4::boolean or l.remaining > 0)
   order by l.id desc limit $5`,
);

const memberIdBy = (column: string) =>
  statement<[programId: string, value: string], { id: string }>(`ledger.member_id_by_${column}`, `select id from member where program_id = ? and ${column} = ?`);

/** A member's id by the column a reference names (see memberRefColumn). */
export const memberIdByRef: Readonly<Record<string, ReturnType<typeof memberIdBy>>> = {
  id: memberIdBy('id'),
  external_id: memberIdBy('external_id'),
  email: memberIdBy('email'),
  phone: memberIdBy('phone'),
};
