import type { Database, Sql } from '../../db/database';
import type { Logger } from '../../logger';
import { DEBT_REPAID } from './entries';
import { ACTIVATION, EXPIRY, type AccountRange, type LotSweep } from './sweep-store';
import { repayDebts, sweepLots } from './sweeps';
import { dueAuthorizations } from './authorization-store';
import type { LedgerService } from './ledger-service';
import { entryPosted } from './ledger-events';

/**
 * What a lot job did: lots moved, entries written (one per account, and a debt repayment where
 * points became available to an account in debt), accounts touched, batches committed.
 */
export type LotJobResult = { lots: number; entries: number; accounts: number; batches: number };

/** What the authorization job did; `failed` counts authorizations whose release raised an error. */
export type AuthorizationJobResult = {
  authorizations: number;
  entries: number;
  accounts: number;
  batches: number;
  failed: number;
};

export interface LedgerJobsOptions {
  /**
   * Most lots one transaction moves (whole accounts, so a little more when an account's lots
   * straddle the mark), or authorizations one page holds. Lot batches below it are sized by
   * measurement (`batchMs`); a size of at most {@link LOT_UNIT} is used as it is.
   */
  batchSize?: number;
  /** How long a lot batch should take: each next batch is sized from the last one's lots per ms. */
  batchMs?: number;
  /**
   * After each lot batch the job rests this fraction of the batch's time, so that a sweep
   * leaves the database and its locks to the writes of the moment (0: no rest).
   */
  restRatio?: number;
  /** Authorizations released at the same time; each is its own transaction on one account. */
  releaseConcurrency?: number;
  logger?: Logger;
}

/**
 * The lot jobs' pace. Batches of about 250 ms (2 000–5 000 lots here) keep what each batch costs
 * besides its lots (locking, the outbox write, the commit) small and each account lock short;
 * the rest after each batch trades sweep speed for the writes of the moment. Measured with
 * `npm run bench` (1 000 000 due lots over 100 000 accounts, 2 shared cores): the job swept at
 * 0.68 of the speed of keyset raw SQL (101 s against 69 s; 0.89 in fixed 5 000-lot batches with
 * no rest), and accruals beside it kept 0.91 of their speed without it.
 */
export const LOT_PACE = { batchMs: 250, restRatio: 0.25, maxBatch: 20_000 };
/** Batches are made of whole slices of about this many due lots, cut once when the job starts. */
export const LOT_UNIT = 500;
const AUTHORIZATION_PAGE = 1000;

/**
 * The ledger's scheduled work, set-based across all programs. Each job is idempotent for a
 * given `asOf`: what it moves is gone from its selection once committed, so a second run (or a
 * concurrent one on another instance) finds nothing. Each entry is emitted to the outbox with its batch.
 */
export class LedgerJobs {
  private readonly batchSize: number | undefined;
  private readonly releaseConcurrency: number;

  constructor(
    private readonly db: Database,
    private readonly ledger: LedgerService,
    private readonly options: LedgerJobsOptions = {},
  ) {
    this.batchSize = options.batchSize;
    this.releaseConcurrency = options.releaseConcurrency ?? 4;
    if (this.batchSize !== undefined && (!Number.isSafeInteger(this.batchSize) || this.batchSize < 1)) {
      throw new RangeError('batchSize must be a positive integer');
    }
  }

  /** Lots past their expiry give up their remainder: one 'expiry' entry per account. */
  expireLots(asOf: Date): Promise<LotJobResult> {
    return this.walkLots(EXPIRY, asOf);
  }

  /** Pending lots whose availableAt has come become available: one 'activation' entry per account. */
  activatePendingLots(asOf: Date): Promise<LotJobResult> {
    return this.walkLots(ACTIVATION, asOf);
  }

  /** Open authorizations past their TTL give their points back, each in its own ledger transaction. */
  async releaseStaleAuthorizations(asOf: Date): Promise<AuthorizationJobResult> {
    const result: AuthorizationJobResult = { authorizations: 0, entries: 0, accounts: 0, batches: 0, failed: 0 };
    const accounts = new Set<string>();
    const em = this.db;
    // Keyset pages over the open-authorization index: bounded memory, and an authorization that
    // could not be released is not met again.
    let cursor: { expiresAt: Date; id: string } | null = null;
    for (;;) {
      const pageSize = this.batchSize ?? AUTHORIZATION_PAGE;
      const page: Array<{ id: string; program_id: string; expires_at: Date }> = await em.run(dueAuthorizations, [asOf, cursor?.expiresAt ?? null, cursor?.id ?? null, pageSize]);
      if (page.length === 0) break;
      result.batches++;
      await inParallel(page, this.releaseConcurrency, async (auth) => {
        try {
          const written = await this.ledger.releaseExpiredAuthorization(auth.program_id, auth.id, asOf);
          if (!written) return;
          result.authorizations++;
          result.entries += written.length;
          for (const entry of written) accounts.add(entry.accountId);
        } catch (error) {
          result.failed++;
          this.options.logger?.error({ err: error, authorizationId: auth.id }, 'Could not release an expired authorization');
        }
      });
      const last = page[page.length - 1];
      cursor = { expiresAt: new Date(last.expires_at), id: last.id };
      if (page.length < pageSize) break;
    }
    result.accounts = accounts.size;
    return result;
  }

  /**
   * Cuts the accounts with due lots into slices once (by account id, about {@link LOT_UNIT} due
   * lots each, an account never split), then sweeps consecutive slices in short transactions:
   * lock the accounts that have due lots in id order in one statement, run the sweep the
   * account books run (the same statement, over the locked accounts), let points that became
   * available repay debts at once, emit the entries, commit — then rest a little. Each batch
   * takes as many slices as the last one's pace says fit in `batchMs`. An account lies in one
   * slice, so it gets one entry per run.
   *
   * Writers lock several accounts too, in their own order (an earning the member then its
   * referrers, a cancellation the member then the award holders), so a batch can deadlock with
   * one: PostgreSQL aborts one of the two and the unit of work retries it.
   */
  private async walkLots(sweep: LotSweep, asOf: Date): Promise<LotJobResult> {
    const result: LotJobResult = { lots: 0, entries: 0, accounts: 0, batches: 0 };
    const accounts = new Set<string>();
    const maxLots = this.batchSize ?? LOT_PACE.maxBatch;
    const unit = Math.min(maxLots, LOT_UNIT);
    const maxSlices = Math.max(1, Math.floor(maxLots / unit));
    const batchMs = this.options.batchMs ?? LOT_PACE.batchMs;
    const restRatio = this.options.restRatio ?? LOT_PACE.restRatio;
    const slices = await this.db.run(sweep.dueRanges, [unit, asOf]);
    let take = 1;
    for (let next = 0; next < slices.length; ) {
      const range = { from_id: slices[next].from_id, to_id: slices[Math.min(next + take, slices.length) - 1].to_id };
      next += take;
      const started = performance.now();
      const batch = await this.db.transaction(async (tx) => {
        const locked = await this.lockAccounts(tx, sweep, range, asOf);
        const swept = await sweepLots(tx, sweep, { accountIds: locked, asOf });
        const indebted = swept.entries.filter((e) => e.available > 0 && swept.totals.get(e.accountId)!.debt > 0);
        const repaid = await repayDebts(tx, indebted.map((e) => e.accountId), asOf, DEBT_REPAID);
        const entries = [...swept.entries, ...repaid.entries];
        for (const entry of entries) await tx.emit(entryPosted(entry));
        return { lots: swept.lots, entries };
      });
      const elapsed = Math.max(1, performance.now() - started);
      result.batches++;
      result.lots += batch.lots;
      result.entries += batch.entries.length;
      for (const entry of batch.entries) accounts.add(entry.accountId);
      // The next batch from this one's pace, at most doubling or halving at a time.
      take = Math.min(maxSlices, Math.max(1, Math.floor(take / 2), Math.min(take * 2, Math.round((take * batchMs) / elapsed))));
      if (restRatio > 0 && next < slices.length) await new Promise((resolve) => setTimeout(resolve, elapsed * restRatio));
    }
    result.accounts = accounts.size;
    return result;
  }

  /** Locks, in id order, the range's accounts that have due lots; returns their ids. */
  private async lockAccounts(tx: Sql, sweep: LotSweep, range: AccountRange, asOf: Date): Promise<string[]> {
    const rows = await tx.run(sweep.lockAccounts, [range.from_id, range.to_id, asOf]);
    return rows.map((row) => row.id);
  }
}

/** Runs `work` over `items` with at most `concurrency` at a time. */
async function inParallel<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
