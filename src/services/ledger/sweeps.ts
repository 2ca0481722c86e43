import type { Sql } from '../../db/database';
import { pgArray } from '../shared';
import { toEntryRecord, type Cause, type EntryRecord } from './entries';
import { repayDebtsStatement, type LotSweep, type SweptRow } from './sweep-store';

/** Which lots a sweep moves: every due lot of the given accounts. */
export interface SweepScope {
  /** Accounts the caller has locked; no other account is touched. */
  accountIds: string[];
  asOf: Date;
}

export interface SweepOutcome {
  entries: EntryRecord[];
  /** Lots the statement changed. */
  lots: number;
  /** Each changed account's debt and lifetime expired right after (its balances are in its entry). */
  totals: Map<string, { debt: number; lifetimeExpired: number }>;
}

const NOTHING: SweepOutcome = { entries: [], lots: 0, totals: new Map() };

/** Runs a sweep over the due lots of the given (locked) accounts: one entry per account that had any. */
export async function sweepLots(tx: Sql, sweep: LotSweep, scope: SweepScope): Promise<SweepOutcome> {
  if (scope.accountIds.length === 0) return NOTHING;
  return sweepOutcome(await tx.run(sweep.apply, [pgArray(scope.accountIds), scope.asOf, scope.asOf, scope.asOf]));
}

/**
 * Pays the debts of the given (locked) accounts from their spendable points, nearest-expiry
 * lots first: per account one entry that lowers available and the debt alike (amount 0: the
 * member's net points do not change). Pending points repay it once they become available.
 */
export async function repayDebts(tx: Sql, accountIds: string[], asOf: Date, cause: Cause): Promise<SweepOutcome> {
  if (accountIds.length === 0) return NOTHING;
  const rows = await tx.run(repayDebtsStatement, [
    pgArray(accountIds), asOf, null, asOf,
    cause.type, cause.id ?? null, cause.ruleVersionId ?? null, cause.reason ?? null, cause.idempotencyKey ?? null, asOf,
  ]);
  return sweepOutcome(rows);
}

function sweepOutcome(rows: SweptRow[]): SweepOutcome {
  return {
    entries: rows.map((row) => toEntryRecord(row, row.member_id)),
    lots: rows.length > 0 ? Number(rows[0].lot_count) : 0,
    totals: new Map(rows.map((row) => [row.account_id, { debt: Number(row.debt), lifetimeExpired: Number(row.lifetime_expired) }])),
  };
}
