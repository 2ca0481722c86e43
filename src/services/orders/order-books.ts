import type { UnitOfWork } from '../../db/database';
import type { Statement } from '../../db/statement';
import { notFound } from '../../errors';
import { lockReferrerAccounts } from '../earning';
import { AccountBook, accountLock } from '../ledger';
import type { MemberRef } from '../shared';
import * as store from './order-store';

/** The order's member's account, locked in one statement that finds the member too. */
const lockAccountOfOrder = accountLock<[programId: string, orderId: string]>('order', store.MEMBER_OF_ORDER);

/**
 * The accounts one order write touches, each opened (locked) once. The lock order is written
 * here: the order's member's account first, then the order row (lockOrder), then the referrers
 * of its awards, all together, up the tree (see lockReferrerAccounts).
 */
export class Books {
  private readonly byMember = new Map<string, AccountBook>();

  constructor(
    private readonly tx: UnitOfWork,
    private readonly programId: string,
    private readonly now: Date,
  ) {}

  /** Sends the lock before it first awaits (see AccountBook.open). */
  async open(member: MemberRef): Promise<AccountBook> {
    const known = 'id' in member ? this.byMember.get(member.id) : undefined;
    if (known) return known;
    return this.keep(await AccountBook.open(this.tx, this.programId, member, this.now));
  }

  /**
   * The order's member's account: the first one an order write opens (the lock order above),
   * so no book of it exists yet. Sends the lock before it first awaits.
   */
  async openOrderMember(orderId: string): Promise<AccountBook> {
    if (this.byMember.size > 0) throw new Error("The order's member's account is opened first: other accounts are open already");
    const missing = () => notFound('Order', { orderId });
    return this.keep(await AccountBook.openFound(this.tx, this.programId, lockAccountOfOrder, [this.programId, orderId], this.now, missing));
  }

  private keep(book: AccountBook): AccountBook {
    this.byMember.set(book.state.memberId, book);
    return book;
  }

  /** Opens referrers' accounts, locked in one statement, nearest first, before anything is written to them. */
  async openReferrers(referrers: Array<{ memberId: string; level: number }>): Promise<void> {
    const fresh = referrers.filter((r) => !this.byMember.has(r.memberId)).sort((a, b) => a.level - b.level);
    await lockReferrerAccounts(this.tx, this.programId, fresh);
    for (const referrer of fresh) await this.open({ id: referrer.memberId });
  }
}

/**
 * Locks the order's member's account, then reads the order under that lock with `read`:
 * `store.lockOrder` for the row, `store.lockOrderToPay` for the row with its hold and lines.
 */
export async function lockOrder<R>(
  tx: UnitOfWork,
  books: Books,
  programId: string,
  orderId: string,
  read: Statement<[programId: string, orderId: string], R>,
): Promise<{ row: R; book: AccountBook }> {
  // One round trip: the lock (which finds the order's member itself) is sent first and the read
  // right behind it, and PostgreSQL runs them in that order, so the order is read under the lock.
  const [book, [row]] = await Promise.all([books.openOrderMember(orderId), tx.run(read, [programId, orderId])]);
  return { row, book };
}
