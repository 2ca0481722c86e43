import type { Database } from '../../db/database';
import * as store from './audit-store';
import type { RequestContext } from '../shared';

/** One place where the books of an account do not agree with themselves. */
export interface LedgerDiscrepancy {
  accountId: string;
  memberId: string;
  /** Which invariant failed, e.g. `entries_available` or `lot_remaining`. */
  check: string;
  /** What the recomputation from the underlying rows says. */
  expected: number;
  /** What is stored (the cached value, or the value found). */
  actual: number;
  /** The lot a per-lot check is about. */
  lotId?: number;
}

export interface LedgerVerification {
  ok: boolean;
  accountsChecked: number;
  discrepancies: LedgerDiscrepancy[];
}

/**
 * The checks, all recomputed in one set-based statement per program:
 * - entries_available / entries_pending / entries_reserved / entries_debt: sum of entry deltas = cached balance;
 * - last_entry_available / _pending / _reserved: the newest entry's *_after = cached balance;
 * - entry_count: number of entries = the account's cached count;
 * - lifetime_expired: points the expiry entries took = the cached lifetime total;
 * - lots_available / lots_pending: remainders of activated / not-yet-activated lots = cached balance;
 * - open_authorizations: amounts of open authorizations = reserved;
 * - authorization_holds: points the open authorizations' allocations still hold in lots = reserved;
 * - negative_*: nothing below zero (balances, debt, balances after any entry, lot remainders);
 * - lifetime_totals: no point comes from nowhere — earned − redeemed − expired + what take-backs
 *   forgave = available + pending + reserved − debt;
 * - lot_remaining (per lot): remaining = amount + sum of its allocations;
 * - lot_forgiven (per lot): a take-back forgave at most the lot's points that are spent or held
 *   elsewhere (expected: that bound), so a forgiveness never covers points the member got back;
 * - accrual_lots (per accrual, reported with its first lot): the lots an accrual created — one,
 *   or one per lifetime of its parts — hold its amount (expected: the entry's amount).
 */


/** Recomputes a program's books from entries, lots and allocations, and says where they disagree. */
export class LedgerAudit {
  constructor(private readonly db: Database) {}

  async verifyLedger(ctx: Pick<RequestContext, 'programId'>): Promise<LedgerVerification> {
    const { programId } = ctx;
    // One repeatable-read snapshot: the count and the checks see the same books even while writers run.
    return this.db.transaction(
      async (tx) => {
        const [{ accounts }] = await tx.run(store.countAccounts, [programId]);
        const rows = await tx.run(store.verifyLedger, [programId, programId, programId, programId, programId, programId, programId, programId, programId]);
        const discrepancies = rows.map((r): LedgerDiscrepancy => ({
          accountId: r.account_id,
          memberId: r.member_id,
          check: r.check_name,
          expected: Number(r.expected),
          actual: Number(r.actual),
          ...(r.lot_id != null ? { lotId: Number(r.lot_id) } : {}),
        }));
        return { ok: discrepancies.length === 0, accountsChecked: Number(accounts), discrepancies };
      },
      { isolation: 'repeatable read', readOnly: true },
    );
  }
}
