import { statement } from '../../db/statement';
import type { AuthorizationStatus } from '../../entities/authorization';
import type { EntryRow } from './book-store';

export interface AuthorizationRow {
  id: string;
  program_id: string;
  account_id: string;
  amount: number;
  captured: number;
  status: AuthorizationStatus;
  reference: string | null;
  owner_type: string | null;
  owner_id: string | null;
  expires_at: Date;
  created_at: Date;
  closed_at: Date | null;
}

export const insertAuthorization = statement<
  [id: string, programId: string, accountId: string, amount: number, reference: string | null,
    ownerType: string | null, ownerId: string | null, expiresAt: Date, now: Date],
  AuthorizationRow
>(
  'ledger.insert_authorization',
  `insert into "authorization" (id, program_id, account_id, amount, reference, owner_type, owner_id, expires_at, created_at)
   values (?, ?, ?, ?, ?, ?, ?, ?, ?) returning *`,
);

export const closeAuthorization = statement<[status: AuthorizationStatus, captured: number, now: Date, id: string], AuthorizationRow>(
  'ledger.close_authorization',
  `update "authorization" set status = ?::authorization_status, captured = ?, closed_at = ? where id = ? returning *`,
);

export const loadAuthorization = statement<[id: string, programId: string], AuthorizationRow & { member_id: string }>(
  'ledger.load_authorization',
  `select au.*, a.member_id from "authorization" au join account a on a.id = au.account_id
   where au.id = ? and au.program_id = ?`,
);

/** Open authorizations past their TTL, a keyset page after (expiresAt, id) when given. */
export const dueAuthorizations = statement<
  [asOf: Date, afterExpiresAt: Date | null, afterId: string | null, limit: number],
  { id: string; program_id: string; expires_at: Date }
>(
  'ledger.due_authorizations',
  `select id, program_id, expires_at from "authorization"
   where status = 'open' and expires_at <= $1 and ($2::timestamptz is null or (expires_at, id) > ($2, $3::uuid))
   order by expires_at, id limit $4`,
);

/** One entry of a program with its member and the lot it created. */
export const findEntry = statement<[entryId: number, programId: string], EntryRow & { member_id: string }>(
  'ledger.find_entry',
  `select e.*, a.member_id, (select min(id) from lot where source_entry_id = e.id) as lot_id
   from ledger_entry e join account a on a.id = e.account_id where e.id = ? and e.program_id = ?`,
);
