import DataLoader from 'dataloader';
import type { MemberRef, RequestContext } from '../shared';
import type { Database } from '../../db/database';
import { EntryKind } from '../../entities/ledger-entry';
import { notFound } from '../../errors';
import { EntryRecord, toEntryRecord } from './entries';
import type { Clock } from '../shared';
import type { AccountSnapshot } from './ledger-service';
import { memberLookup, type MemberKey } from '../members';
import { cursorOf, isUuid, pageOf, pageSize, pgArray, readCursor } from '../shared';
import * as store from './queries-store';
import type { AccountReadRow } from './queries-store';

/** Reads sharing one statement at most: its id array stays small to send and plan. */
const MAX_SHARED_READS = 500;

export interface Page<T> {
  nodes: T[];
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface LotRecord {
  id: number;
  amount: number;
  remaining: number;
  status: 'pending' | 'available' | 'spent' | 'expired';
  availableAt: Date;
  expiresAt: Date | null;
  createdAt: Date;
}

export interface EntryFilter {
  kinds?: EntryKind[] | null;
  from?: Date | null;
  to?: Date | null;
  /** The shop's order id: the entries that order wrote (its points, its awards, their take-backs). */
  orderId?: string | null;
}

/** The member's lists that page by row id. */
export type LedgerList = 'entries' | 'lots';

/**
 * A cursor of one of a member's lists: the last row's id, under the list's name and the member's
 * id, so one read with the other list or for another member is refused rather than paging that
 * list from a row of another.
 */
export const ledgerCursor = (list: LedgerList, memberId: string, id: number): string => cursorOf(`${list}:${memberId}`, String(id));

function readLedgerCursor(list: LedgerList, memberId: string, cursor: string | null | undefined): number | null {
  if (!cursor) return null; // an empty `after` reads from the start, as it always has
  const id = readCursor(`${list}:${memberId}`, cursor, (position) => /^\d{1,18}$/.test(position), `this member's ${list}`);
  return id === null ? null : Number(id);
}

/** The account as of now: lots past their expiry count as expired even before a job or a write expired them. */
function toSnapshot(row: AccountReadRow): AccountSnapshot {
  const overdueAvailable = Number(row.overdue_available);
  const overduePending = Number(row.overdue_pending);
  return {
    memberId: row.member_id,
    available: Number(row.available) - overdueAvailable,
    pending: Number(row.pending) - overduePending,
    reserved: Number(row.reserved),
    debt: Number(row.debt),
    lifetimeEarned: Number(row.lifetime_earned),
    lifetimeRedeemed: Number(row.lifetime_redeemed),
    lifetimeExpired: Number(row.lifetime_expired) + overdueAvailable + overduePending,
  };
}

/** The ledger's read side: balances, history and lots. Reads never lock. */
export class LedgerQueries {
  /** By program and member column (see {@link accountReader}): a handful per program. */
  private readonly accountReaders = new Map<string, DataLoader<string, AccountSnapshot | null>>();

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /**
   * Accounts by member id, in the order asked (for DataLoader). The cached balances still hold
   * lots that passed their expiry since the last write or expiry run; a read leaves them out
   * (one lookup in the open-lots index per account), so nobody is shown points they cannot
   * spend. Pending lots whose time has come stay pending until then: showing them as available
   * could show points a debt is about to take.
   */
  async accountsOf(programId: string, memberIds: string[]): Promise<Array<AccountSnapshot | null>> {
    const accounts = await this.accountReader(programId, 'id').loadMany(memberIds);
    const failed = accounts.find((account): account is Error => account instanceof Error);
    if (failed) throw failed;
    return accounts as Array<AccountSnapshot | null>;
  }

  /** One member's balances, however the member is named. */
  async account(ctx: RequestContext, ref: MemberRef): Promise<AccountSnapshot> {
    const { programId } = ctx;
    const [column, value] = await memberLookup(this.db, programId, ref);
    const account = await this.accountReader(programId, column).load(value);
    if (!account) throw notFound('Member', { member: ref });
    return account;
  }

  /**
   * Balance reads of one program by one member column, shared: the reads asked in the same turn of
   * the event loop go as one statement at its end (setImmediate), each answered with its own
   * member's account. Many apps reading at once then cost the server and the database one round
   * trip instead of one each; a read alone waits only for the turn to end. Nothing is cached: a
   * read always starts after it was asked, so it sees every write committed before.
   */
  private accountReader(programId: string, column: MemberKey): DataLoader<string, AccountSnapshot | null> {
    const key = `${programId}/${column}`;
    let reader = this.accountReaders.get(key);
    if (!reader) {
      reader = new DataLoader(async (values) => {
        // What no member can have (an id that is no uuid, a text with NUL, which PostgreSQL refuses)
        // names no member, and must not fail the statement the other reads share.
        const wanted = values.filter(column === 'id' ? isUuid : (value) => !value.includes('\u0000'));
        const now = this.clock.now().toISOString();
        const rows = wanted.length === 0 ? []
          : wanted.length === 1 ? await this.db.run(store.accountByMember[column], [now, programId, wanted[0]])
          : await this.db.run(store.accountsByMember[column], [now, programId, wanted]);
        const byRef = new Map(rows.map((r) => [r.ref, toSnapshot(r)]));
        // A uuid may be sent in upper case; PostgreSQL answers with its own (lower-case) text.
        return values.map((value) => byRef.get(column === 'id' ? value.toLowerCase() : value) ?? null);
      }, { cache: false, batchScheduleFn: setImmediate, maxBatchSize: MAX_SHARED_READS });
      this.accountReaders.set(key, reader);
    }
    return reader;
  }

  async memberId(ctx: RequestContext, ref: MemberRef): Promise<string> {
    const { programId } = ctx;
    const [column, value] = await memberLookup(this.db, programId, ref);
    const [row] = await this.db.run(store.memberIdByRef[column], [programId, value]);
    if (!row) throw notFound('Member', { member: ref });
    return row.id;
  }

  async entries(ctx: RequestContext, memberId: string, opts: { first?: number | null; after?: string | null; filter?: EntryFilter | null }) {
    const limit = pageSize(opts.first);
    const after = readLedgerCursor('entries', memberId, opts.after);
    const f = opts.filter ?? {};
    const params = [ctx.programId, memberId, after, f.kinds?.length ? pgArray(f.kinds) : null, f.from ?? null, f.to ?? null] as const;
    const rows = f.orderId != null
      ? await this.db.run(store.memberOrderEntries, [...params, f.orderId, limit + 1])
      : await this.db.run(store.memberEntries, [...params, limit + 1]);
    return pageOf(rows.map((r) => toEntryRecord(r, memberId)), limit, (e) => ledgerCursor('entries', memberId, e.id));
  }

  async lots(ctx: RequestContext, memberId: string, opts: { first?: number | null; after?: string | null; openOnly?: boolean | null }) {
    const limit = pageSize(opts.first);
    const after = readLedgerCursor('lots', memberId, opts.after);
    const now = this.clock.now();
    const rows = await this.db.run(store.memberLots, [ctx.programId, memberId, after, Boolean(opts.openOnly), limit + 1]);
    const lots: LotRecord[] = rows.map((r) => {
      const expiresAt = r.expires_at ? new Date(r.expires_at) : null;
      const remaining = Number(r.remaining);
      const status =
        remaining === 0 ? (r.expired ? 'expired' : 'spent')
        : expiresAt && expiresAt <= now ? 'expired'
        : r.activated_at ? 'available' : 'pending';
      return {
        id: Number(r.id),
        amount: Number(r.amount),
        remaining,
        status,
        availableAt: new Date(r.available_at),
        expiresAt,
        createdAt: new Date(r.created_at),
      };
    });
    return pageOf(lots, limit, (l) => ledgerCursor('lots', memberId, l.id));
  }
}

export type { EntryRecord };
