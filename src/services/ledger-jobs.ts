import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../logger';
import { EntryRecord, toEntryRecord } from './account-book';
import { EventPublisher, publishBalanceChanges } from './events';
import type { LedgerService } from './ledger-service';
import { transaction } from './unit-of-work';

/** What a lot job did: lots moved, entries written (one per account and batch), accounts touched, batches committed. */
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
  /** Most lots (or authorizations) one transaction handles. */
  batchSize?: number;
  /** Authorizations released at the same time; each is its own transaction on one account. */
  releaseConcurrency?: number;
  logger?: Logger;
}

const pgArray = (values: string[]) => `{${values.join(',')}}`;

/** A slice of the lot id space holding at most `batchSize` lots that were due when the job began. */
interface IdRange {
  from: number;
  to: number;
}

/** Which lots a job handles; `?` is the job's asOf. Must match an index of the lot table. */
const DUE_FOR_EXPIRY = 'l.remaining > 0 and l.expires_at <= ?';
const DUE_FOR_ACTIVATION = 'l.remaining > 0 and l.activated_at is null and l.available_at <= ?';

/**
 * Expiry for the locked accounts of one id range, in one statement: the due lots are re-read
 * under the account locks (a writer may have expired some meanwhile), each account gets one
 * expiry entry whose *_after values come from the updated row, the lots give up their remainder
 * through negative allocations, and the lots are emptied.
 */
const EXPIRE_RANGE_SQL = `
with due as (
  select l.id, l.account_id, l.remaining, l.activated_at is not null as active
  from lot l
  where l.id between ? and ? and ${DUE_FOR_EXPIRY} and l.account_id = any(?::uuid[])
), per_account as (
  select account_id,
    coalesce(sum(remaining) filter (where active), 0) as from_available,
    coalesce(sum(remaining) filter (where not active), 0) as from_pending
  from due group by account_id
), acc as (
  update account a set
    available = a.available - p.from_available,
    pending = a.pending - p.from_pending,
    lifetime_expired = a.lifetime_expired + p.from_available + p.from_pending,
    entry_count = a.entry_count + 1,
    updated_at = ?
  from per_account p where a.id = p.account_id
  returning a.id, a.program_id, a.member_id, a.available, a.pending, a.reserved, p.from_available, p.from_pending
), e as (
  insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
    available_after, pending_after, reserved_after, cause_type, cause_id, reason, created_at)
  select program_id, id, 'expiry'::entry_kind, -(from_available + from_pending), -from_available, -from_pending, 0,
    available, pending, reserved, 'job'::cause_type, 'expire-lots', 'Points expired', ?
  from acc order by id
  returning *
), allocated as (
  insert into lot_allocation (entry_id, lot_id, amount)
  select e.id, due.id, -due.remaining from due join e on e.account_id = due.account_id
), emptied as (
  update lot set remaining = 0 from due where lot.id = due.id
)
select e.*, acc.member_id, (select count(*) from due) as lot_count
from e join acc on acc.id = e.account_id order by e.id`;

/** Activation for the locked accounts of one id range: pending lots become available at their availableAt. */
const ACTIVATE_RANGE_SQL = `
with due as (
  select l.id, l.account_id, l.remaining
  from lot l
  where l.id between ? and ? and ${DUE_FOR_ACTIVATION} and l.account_id = any(?::uuid[])
), per_account as (
  select account_id, sum(remaining) as points from due group by account_id
), acc as (
  update account a set
    available = a.available + p.points,
    pending = a.pending - p.points,
    entry_count = a.entry_count + 1,
    updated_at = ?
  from per_account p where a.id = p.account_id
  returning a.id, a.program_id, a.member_id, a.available, a.pending, a.reserved, p.points
), e as (
  insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
    available_after, pending_after, reserved_after, cause_type, cause_id, reason, created_at)
  select program_id, id, 'activation'::entry_kind, 0, points, -points, 0,
    available, pending, reserved, 'job'::cause_type, 'activate-lots', 'Pending points became available', ?
  from acc order by id
  returning *
), activated as (
  update lot set activated_at = lot.available_at from due where lot.id = due.id
)
select e.*, acc.member_id, (select count(*) from due) as lot_count
from e join acc on acc.id = e.account_id order by e.id`;

/**
 * The ledger's scheduled work, set-based across all programs. Each job is idempotent for a
 * given `asOf`: what it moves is gone from its selection once committed, so a second run (or a
 * concurrent one on another instance) finds nothing. Events are published per committed batch.
 */
export class LedgerJobs {
  private readonly batchSize: number;
  private readonly releaseConcurrency: number;

  constructor(
    private readonly orm: MikroORM,
    private readonly ledger: LedgerService,
    private readonly events: EventPublisher,
    private readonly options: LedgerJobsOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 1000;
    this.releaseConcurrency = options.releaseConcurrency ?? 4;
    if (!Number.isSafeInteger(this.batchSize) || this.batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  }

  /** Lots past their expiry give up their remainder: one 'expiry' entry per account and batch. */
  expireLots(asOf: Date): Promise<LotJobResult> {
    return this.walkLots(DUE_FOR_EXPIRY, EXPIRE_RANGE_SQL, asOf);
  }

  /** Pending lots whose availableAt has come become available: one 'activation' entry per account and batch. */
  activatePendingLots(asOf: Date): Promise<LotJobResult> {
    return this.walkLots(DUE_FOR_ACTIVATION, ACTIVATE_RANGE_SQL, asOf);
  }

  /** Open authorizations past their TTL give their points back, each in its own ledger transaction. */
  async releaseStaleAuthorizations(asOf: Date): Promise<AuthorizationJobResult> {
    const result: AuthorizationJobResult = { authorizations: 0, entries: 0, accounts: 0, batches: 0, failed: 0 };
    const accounts = new Set<string>();
    const em = this.orm.em.fork();
    // Keyset pages over the open-authorization index: bounded memory, and an authorization that
    // could not be released is not met again.
    let cursor: { expiresAt: Date; id: string } | null = null;
    for (;;) {
      const page: Array<{ id: string; program_id: string; expires_at: Date }> = await em.execute(
        `select id, program_id, expires_at from "authorization"
         where status = 'open' and expires_at <= ? ${cursor ? 'and (expires_at, id) > (?, ?::uuid)' : ''}
         order by expires_at, id limit ?`,
        cursor ? [asOf, cursor.expiresAt, cursor.id, this.batchSize] : [asOf, this.batchSize],
      );
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
      if (page.length < this.batchSize) break;
    }
    result.accounts = accounts.size;
    return result;
  }

  /**
   * Finds the due lots once, as id ranges holding at most `batchSize` of them each, then handles
   * each range in one transaction: lock its accounts in id order (a writer locks a single
   * account, so this cannot deadlock with one), run the range's statement, commit, publish.
   */
  private async walkLots(dueCondition: string, rangeSql: string, asOf: Date): Promise<LotJobResult> {
    const result: LotJobResult = { lots: 0, entries: 0, accounts: 0, batches: 0 };
    const accounts = new Set<string>();
    for (const range of await this.dueRanges(dueCondition, asOf)) {
      const entries = await transaction(this.orm, async (tx) => {
        const locked = await this.lockAccounts(tx, dueCondition, range, asOf);
        if (locked.length === 0) return { entries: [] as EntryRecord[], lots: 0 };
        const rows = await tx.execute(rangeSql, [range.from, range.to, asOf, pgArray(locked), asOf, asOf]);
        return {
          entries: rows.map((row: any) => toEntryRecord(row, row.member_id)),
          lots: rows.length > 0 ? Number(rows[0].lot_count) : 0,
        };
      });
      result.batches++;
      result.lots += entries.lots;
      result.entries += entries.entries.length;
      for (const entry of entries.entries) accounts.add(entry.accountId);
      publishBalanceChanges(this.events, entries.entries);
    }
    result.accounts = accounts.size;
    return result;
  }

  /**
   * One pass over the due lots (through the job's partial index), numbering them by id: every
   * `batchSize`-th id starts a range, the last range ends at the highest due id. Sparse ids cost
   * nothing, and later batches never re-run the selection.
   */
  private async dueRanges(dueCondition: string, asOf: Date): Promise<IdRange[]> {
    const rows: Array<{ start_id: number; last_id: number }> = await this.orm.em.fork().execute(
      `select id as start_id, last_id from (
         select l.id, row_number() over (order by l.id) as n, max(l.id) over () as last_id
         from lot l where ${dueCondition}
       ) due where (n - 1) % ? = 0 order by id`,
      [asOf, this.batchSize],
    );
    return rows.map((row, i) => ({
      from: Number(row.start_id),
      to: i + 1 < rows.length ? Number(rows[i + 1].start_id) - 1 : Number(row.last_id),
    }));
  }

  /** Locks, in id order, the accounts that have due lots in the range; returns their ids. */
  private async lockAccounts(tx: EntityManager, dueCondition: string, range: IdRange, asOf: Date): Promise<string[]> {
    const rows = await tx.execute(
      `select a.id from account a
       where a.id in (select l.account_id from lot l where l.id between ? and ? and ${dueCondition})
       order by a.id for update of a`,
      [range.from, range.to, asOf],
    );
    return rows.map((row: any) => row.id as string);
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
