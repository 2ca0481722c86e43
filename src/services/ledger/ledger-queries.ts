import type { MemberRef } from '../shared';
import type { Database } from '../../db/database';
import { EntryKind } from '../../entities/ledger-entry';
import { badInput, notFound } from '../../errors';
import { EntryRecord, toEntryRecord } from './account-book';
import type { Clock } from '../shared';
import type { AccountSnapshot } from './ledger-service';
import { memberRefColumn } from '../members';
import { isUuid, pgArray } from '../shared';

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
}

const MAX_PAGE = 200;

/** Cursors are opaque to clients; inside they are the last row's id. */
const encodeCursor = (id: number) => Buffer.from(`c:${id}`).toString('base64url');
function decodeCursor(cursor: string | null | undefined): number | null {
  if (!cursor) return null;
  const m = /^c:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw badInput('after is not a cursor from this list', { field: 'after' });
  return Number(m[1]);
}

function pageSize(first: number | null | undefined): number {
  const n = first ?? 50;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PAGE) throw badInput(`first must be from 1 to ${MAX_PAGE}`, { field: 'first' });
  return n;
}

/** The account as of now: lots past their expiry count as expired even before a job or a write expired them. */
function toSnapshot(row: any): AccountSnapshot {
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

/**
 * An account with what of it is past expiry but not yet burnt by a job or a write: balance
 * reads leave those points out, so a member never sees points they cannot spend.
 */
const ACCOUNT_WITH_OVERDUE = `
  select a.*, overdue.available as overdue_available, overdue.pending as overdue_pending
  from account a cross join lateral (
    select coalesce(sum(l.remaining) filter (where l.activated_at is not null), 0) as available,
           coalesce(sum(l.remaining) filter (where l.activated_at is null), 0) as pending
    from lot l where l.account_id = a.id and l.remaining > 0 and l.expires_at <= ?
  ) overdue`;

/** The ledger's read side: balances, history and lots. Reads never lock. */
export class LedgerQueries {
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
    const rows = await this.db.execute(`${ACCOUNT_WITH_OVERDUE} where a.program_id = ? and a.member_id = any(?::uuid[])`, [
      this.clock.now(),
      programId,
      pgArray(memberIds.filter(isUuid)),
    ]);
    const byMember = new Map(rows.map((r: any) => [r.member_id, toSnapshot(r)]));
    return memberIds.map((id) => byMember.get(id) ?? null);
  }

  /** One member's balances in one statement, however the member is named. */
  async account(programId: string, ref: MemberRef): Promise<AccountSnapshot> {
    const [column, value] = memberRefColumn(ref);
    const [row] = await this.db.execute(
      `${ACCOUNT_WITH_OVERDUE} join member m on m.id = a.member_id where m.program_id = ? and m.${column} = ?`,
      [this.clock.now(), programId, value],
    );
    if (!row) throw notFound('Member', { member: ref });
    return toSnapshot(row);
  }

  async memberId(programId: string, ref: MemberRef): Promise<string> {
    const [column, value] = memberRefColumn(ref);
    const [row] = await this.db.execute(`select id from member where program_id = ? and ${column} = ?`, [programId, value]);
    if (!row) throw notFound('Member', { member: ref });
    return row.id;
  }

  async entries(programId: string, memberId: string, opts: { first?: number | null; after?: string | null; filter?: EntryFilter | null }) {
    const limit = pageSize(opts.first);
    const after = decodeCursor(opts.after);
    const f = opts.filter ?? {};
    const where = ['e.program_id = ?', 'a.member_id = ?'];
    const params: unknown[] = [programId, memberId];
    if (after != null) (where.push('e.id < ?'), params.push(after));
    if (f.kinds?.length) (where.push('e.kind = any(?::entry_kind[])'), params.push(pgArray(f.kinds)));
    if (f.from) (where.push('e.created_at >= ?'), params.push(f.from));
    if (f.to) (where.push('e.created_at < ?'), params.push(f.to));
    const rows = await this.db.execute(
      `select e.*, (select id from lot where source_entry_id = e.id) as lot_id
       from ledger_entry e join account a on a.id = e.account_id
       where ${where.join(' and ')} order by e.id desc limit ?`,
      [...params, limit + 1],
    );
    return this.page(rows.map((r: any) => toEntryRecord(r, memberId)), limit);
  }

  async lots(programId: string, memberId: string, opts: { first?: number | null; after?: string | null; openOnly?: boolean | null }) {
    const limit = pageSize(opts.first);
    const after = decodeCursor(opts.after);
    const now = this.clock.now();
    const rows = await this.db.execute(
      `select l.*,
         exists (select 1 from lot_allocation la join ledger_entry e on e.id = la.entry_id
                 where la.lot_id = l.id and e.kind = 'expiry') as expired
       from lot l join account a on a.id = l.account_id
       where l.program_id = ? and a.member_id = ? and (?::bigint is null or l.id < ?::bigint)
         and (not ?::boolean or l.remaining > 0)
       order by l.id desc limit ?`,
      [programId, memberId, after, after, Boolean(opts.openOnly), limit + 1],
    );
    const lots: LotRecord[] = rows.map((r: any) => {
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
    return this.page(lots, limit);
  }

  private page<T extends { id: number }>(rows: T[], limit: number): Page<T> {
    const nodes = rows.slice(0, limit);
    return {
      nodes,
      hasNextPage: rows.length > limit,
      endCursor: nodes.length ? encodeCursor(nodes[nodes.length - 1].id) : null,
    };
  }
}

export type { EntryRecord };
