import type { Database } from '../../db/database';
import type { EntryKind } from '../../entities/ledger-entry';
import { memberLookup } from '../members';
import { checkClientKey, checkIdempotencyKey, idempotencyConflict, requestHash, type MemberRef, type RequestContext } from '../shared';
import type { Cause } from './entries';
import { BALANCE_CHANGED, LedgerEvent } from './ledger-events';
import { ledgerWrite } from './write-functions-store';

/** What the one-statement write needs besides the request: the entry's kind, signed points, cause and lot times. */
export interface OneStatementWrite {
  operation: 'accrue' | 'redeem' | 'adjust';
  input: { idempotencyKey: string; member: MemberRef };
  kind: EntryKind;
  /** > 0 credits a new lot; < 0 spends nearest-expiry lots first. */
  points: number;
  /** A spend a frozen member may not make (redeem; an admin's adjustment may). */
  refuseFrozen: boolean;
  cause: Cause;
  now: Date;
  lot?: { availableAt?: Date | null; expiresAt?: Date | null; delayDays?: number | null; lifetimeDays?: number | null };
}

/**
 * An accrual, redemption or adjustment in one round trip: the `ledger_write` function takes the
 * idempotency key's lock, locks the account, looks the key up, writes the entry with its lots,
 * balances, outbox event and, last, the key with its stored response, and commits with the
 * statement. Returns the stored response (revive it as the general path does), or null when the
 * function left the case to the general path — anything unusual, where nothing was written. A
 * deadlock is retried like a transaction; the relay is woken after a commit that wrote an event,
 * as after a transaction.
 */
export async function writeInOneStatement(ctx: RequestContext, db: Database, w: OneStatementWrite): Promise<unknown | null> {
  const { idempotencyKey, ...rest } = w.input;
  // The general path's checks, in its order, before anything is read.
  checkClientKey(idempotencyKey);
  checkIdempotencyKey(idempotencyKey);
  let member: [string, string];
  try {
    member = await memberLookup(db, ctx.programId, w.input.member);
  } catch {
    return null; // The general path says what is wrong with the reference (after a replay, as it would).
  }
  const c = w.cause;
  const [row] = await db.runAlone(ledgerWrite, [
    w.operation, ctx.programId, idempotencyKey, requestHash(w.operation, rest),
    member[0], member[1],
    w.kind, w.points, w.refuseFrozen,
    c.type, c.id ?? null, c.reason ?? null, w.now,
    w.lot?.availableAt ?? null, w.lot?.expiresAt ?? null, w.lot?.delayDays ?? null, w.lot?.lifetimeDays ?? null,
    LedgerEvent.ENTRY_POSTED, BALANCE_CHANGED,
  ]);
  switch (row.outcome) {
    case 'done':
      db.outboxCommitted();
      return JSON.parse(row.body!);
    case 'replay':
      return JSON.parse(row.body!);
    case 'conflict':
      throw idempotencyConflict(idempotencyKey, row.body!);
    default:
      return null;
  }
}
