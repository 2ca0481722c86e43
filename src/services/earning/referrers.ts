import type { Queryable } from '../../db/statement';
import * as store from './earning-store';

/** Finds a member's referrer `level` steps up the referral tree (1 = the direct referrer). */
export interface ReferrerResolver {
  referrerOf(tx: Queryable, programId: string, memberId: string, level: number): Promise<string | null>;
  /** Days a referrer's award for an order stays pending (the referee's return window); null: the usual pending period. */
  vestingDays?(tx: Queryable, programId: string): Promise<number | null>;
}


/**
 * The lock order of every write that touches several accounts — earning for an event or an
 * order, taking an order's awards back: first the account of the member whose event or order
 * it is (AccountBook.open locks it), then their referrers' accounts, nearest first, up the
 * referral tree, all in this one statement, before anything is written to them. A referrer is
 * bound once, at registration, to a member who already exists, so the tree has no cycles and
 * every such write locks along one path upwards: two of them never wait on each other in a
 * circle. (The referrers in id order would not do, because the member comes first: cancelling
 * A's order would lock A, R2, R1 when R2's id is the lower, while R1 paying an order of its own
 * locks R1, then R2.)
 *
 * This is the one place that knows the order. The earning module locks with it before it
 * credits referrers; the orders module calls it (through the earning module's index) before it
 * takes a cancelled or returned order's awards back from referrers. Any new write that touches
 * a member's and their referrers' accounts must lock through it too.
 */
export async function lockReferrerAccounts(
  tx: Queryable,
  programId: string,
  referrers: ReadonlyArray<{ memberId: string; level: number }>,
): Promise<void> {
  if (referrers.length === 0) return;
  const seen = new Set<string>();
  const upwards = [...referrers].sort((a, b) => a.level - b.level).filter((r) => !seen.has(r.memberId) && seen.add(r.memberId));
  await tx.run(store.lockReferrerAccounts, [upwards.map((r) => r.memberId), upwards.map((r) => r.level), programId]);
}
