import { statement } from '../../db/statement';
import type { CauseType, EntryKind } from '../../entities/ledger-entry';

/**
 * The one-statement ledger writes: a call of the `ledger_write` database function (migrations
 * 20261204100000, 20261205100000 and 20261206200000), which does an accrual or a spend with its
 * idempotency record and outbox event in one round trip, or answers `general` having written
 * nothing.
 */

export type WriteOutcome = 'done' | 'replay' | 'conflict' | 'general';

export type LedgerWriteParams = [
  operation: string, programId: string, key: string, requestHash: string,
  memberColumn: string, memberValue: string,
  kind: EntryKind, points: number, refuseFrozen: boolean,
  causeType: CauseType, causeId: string | null, reason: string | null, now: Date,
  availableAt: Date | null, expiresAt: Date | null, delayDays: number | null, lifetimeDays: number | null,
  eventType: string, topic: string,
];

/** `body`: the stored response (done, replay) as text, byte for byte; the first operation (conflict). */
export const ledgerWrite = statement<LedgerWriteParams, { outcome: WriteOutcome; body: string | null }>(
  'ledger.write_one_statement',
  `select outcome, body from ledger_write(?::text, ?::uuid, ?::text, ?::text, ?::text, ?::text, ?::entry_kind, ?::bigint,
     ?::boolean, ?::cause_type, ?::text, ?::text, ?::timestamptz, ?::timestamptz, ?::timestamptz, ?::integer, ?::integer,
     ?::text, ?::text)`,
);
