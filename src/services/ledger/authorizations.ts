import type { Sql } from '../../db/database';
import type { AuthorizationStatus } from '../../entities/authorization';
import type { AccountBook } from './account-book';
import * as store from './authorization-store';
import type { AuthorizationRow } from './authorization-store';

/** Points held for a checkout: captured on payment, released on cancellation or when its TTL passes. */
export interface AuthorizationRecord {
  id: string;
  memberId: string;
  amount: number;
  captured: number;
  status: AuthorizationStatus;
  reference: string | null;
  /** What owns the hold ('order'): captured or released only through it. */
  ownerType: string | null;
  ownerId: string | null;
  expiresAt: Date;
  createdAt: Date;
  closedAt: Date | null;
}

export function toAuthorization(row: AuthorizationRow, memberId: string): AuthorizationRecord {
  return {
    id: row.id,
    memberId,
    amount: Number(row.amount),
    captured: Number(row.captured),
    status: row.status,
    reference: row.reference,
    ownerType: row.owner_type ?? null,
    ownerId: row.owner_id ?? null,
    expiresAt: new Date(row.expires_at),
    createdAt: new Date(row.created_at),
    closedAt: row.closed_at ? new Date(row.closed_at) : null,
  };
}

/** The authorization row for points `book.hold` just reserved under `id`. */
export async function recordAuthorization(
  tx: Sql,
  book: AccountBook,
  a: { id: string; points: number; reference: string | null; expiresAt: Date; owner?: { type: 'order'; id: string } | null },
): Promise<AuthorizationRecord> {
  const [row] = await tx.run(store.insertAuthorization, [
    a.id, book.state.programId, book.state.id, a.points, a.reference, a.owner?.type ?? null, a.owner?.id ?? null, a.expiresAt, book.now,
  ]);
  return toAuthorization(row, book.state.memberId);
}

/** Marks an authorization captured or released; its entries are written by the caller's book. */
export async function closeAuthorization(
  tx: Sql,
  auth: { id: string; memberId: string },
  status: AuthorizationStatus,
  captured: number,
  now: Date,
): Promise<AuthorizationRecord> {
  const [row] = await tx.run(store.closeAuthorization, [status, captured, now, auth.id]);
  return toAuthorization(row, auth.memberId);
}
