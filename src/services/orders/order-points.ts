import { randomUUID } from 'node:crypto';
import type { UnitOfWork } from '../../db/database';
import { AuthorizationStatus } from '../../entities/authorization';
import { CauseType } from '../../entities/ledger-entry';
import { ErrorCode, PatronError } from '../../errors';
import { withdrawal, type WithdrawnPart } from '../earning';
import { AccountBook, Cause, EntryRecord, closeAuthorization, recordAuthorization, shortfallUnder, toEntryRecord } from '../ledger';
import { pgArray } from '../shared';
import type { Books } from './order-books';
import { awardTakenBack, type RefundTotals } from './order-math';
import { toAwardRecord, type OrderAwardRecord } from './order-records';
import * as store from './order-store';
import type { HoldRow, OrderRow } from './order-store';

/**
 * What an order does to the points ledger: it holds the points paying for it when placed,
 * captures them when paid, and gives them back — with what it earned taken back — when it is
 * cancelled or its lines are returned. Every entry is owned by the order, so the bare ledger
 * API cannot capture, release or reverse it behind the order's back.
 */

/**
 * How long a placed order holds its points: 7 days, the longest authorization the ledger
 * allows. Checkout is not one web session: a bank transfer, a payment retried the next day or
 * payment on delivery all come before `payOrder`. A shop that abandons an order should cancel
 * it; otherwise the release job gives the points back when this runs out, and paying after
 * that is AUTHORIZATION_EXPIRED. (The program's authorizationTtlSeconds, 15 minutes by
 * default, is for bare authorizeRedemption calls.)
 */
export const ORDER_AUTHORIZATION_TTL_SECONDS = 7 * 86_400;

/** The cause of an order's entries: owned by the order, keyed by the caller's idempotency key. */
export function orderCause(orderId: string, input: { reason?: string | null; idempotencyKey: string }, what: string): Cause {
  return {
    type: CauseType.ORDER,
    id: orderId,
    owner: { type: 'order', id: orderId },
    reason: input.reason ? `${what}: ${input.reason}` : what,
    idempotencyKey: input.idempotencyKey,
  };
}

/** Reserves `points` for the order until it is paid or cancelled; the authorization's id, or null for none. */
export async function holdPoints(tx: UnitOfWork, book: AccountBook, orderId: string, points: number, cause: Cause): Promise<string | null> {
  if (points <= 0) return null;
  const authorizationId = randomUUID();
  await book.hold(points, authorizationId, cause);
  const expiresAt = new Date(book.now.getTime() + ORDER_AUTHORIZATION_TTL_SECONDS * 1000);
  await recordAuthorization(tx, book, { id: authorizationId, points, reference: orderId, expiresAt, owner: { type: 'order', id: orderId } });
  return authorizationId;
}

/**
 * Spends the points a placed order reserved; the capture entry's id, or null when it reserved
 * none. Points the release job gave back already are AUTHORIZATION_EXPIRED.
 */
export async function capturePoints(tx: UnitOfWork, book: AccountBook, row: OrderRow, auth: HoldRow | null, cause: Cause): Promise<number | null> {
  if (!row.authorization_id || !auth) return null;
  if (auth.status !== AuthorizationStatus.OPEN || book.now >= new Date(auth.expires_at)) {
    throw new PatronError(
      ErrorCode.AUTHORIZATION_EXPIRED,
      'The points reserved for this order expired with their authorization and go back to the member; cancel the order and place it again',
      { orderId: row.order_id, authorizationId: auth.id, expiredAt: new Date(auth.expires_at) },
    );
  }
  const captured = await book.capture(Number(auth.amount), auth.id, cause);
  await closeAuthorization(tx, { id: auth.id, memberId: book.state.memberId }, AuthorizationStatus.CAPTURED, Number(auth.amount), book.now);
  return captured.id;
}

/**
 * Ends a placed order's reservation and says how many of its points came back: all of them,
 * whether released now or by the release job when the authorization ran out, but none that
 * something else captured.
 */
export async function releasePlaced(tx: UnitOfWork, book: AccountBook, row: OrderRow, cause: Cause): Promise<number> {
  if (!row.authorization_id) return 0;
  const [auth] = await tx.run(store.readHold, [row.authorization_id]);
  if (auth.status !== AuthorizationStatus.OPEN) return Number(auth.amount) - Number(auth.captured);
  await book.release(Number(auth.amount), auth.id, cause);
  await closeAuthorization(tx, { id: auth.id, memberId: book.state.memberId }, AuthorizationStatus.RELEASED, 0, book.now);
  return Number(auth.amount);
}

/**
 * Undoes a paid order's points whole: the points paid with come back first, so they can cover
 * earned points already spent; then every award — the member's and the referrers' — is
 * reversed under its member's negativeBalancePolicy. Entries an operator reversed already are
 * left alone. Returns what the take-backs withdrew from the awards' rule parts (see Earning.withdraw).
 */
export async function reversePaid(tx: UnitOfWork, books: Books, book: AccountBook, row: OrderRow, cause: Cause): Promise<WithdrawnPart[]> {
  const awards = await openAwards(tx, books, row);
  const entries = await loadEntries(tx, [row.capture_entry_id, ...awards.map((a) => a.entryId)]);
  const capture = row.capture_entry_id ? entries.get(Number(row.capture_entry_id))! : null;
  if (capture && !capture.reversed) await book.reverse(capture.entry, cause);
  const takenBack: TakenBack[] = [];
  const withdrawn: WithdrawnPart[] = [];
  for (const award of awards) {
    const { entry, reversed } = entries.get(award.entryId)!;
    if (reversed) continue; // an operator reversed it already
    const awardBook = await books.open({ id: award.memberId });
    const reversal = await awardBook.reverse(entry, cause, { shortfall: shortfallUnder(awardBook.policy.negativeBalancePolicy) });
    takenBack.push({ entryId: award.entryId, takenBack: award.points });
    withdrawn.push(...withdrawnParts(award, award.breakdown.map((part) => part.points), -reversal.amount));
  }
  recordTakenBack(tx, row.id, takenBack);
  return withdrawn;
}

/**
 * Returned lines' points: `pointsBack` of the capture come back, and each award's take-back is
 * brought up to its share under `totals` — the sum of its rules' shares, each rounded down as
 * when every rule had an entry of its own. What expired from an award's lots unused is never
 * taken back (as a whole reversal would not), so a share is capped at the award less its
 * expired points. Returns the points taken from the order's own member, and what the take-backs
 * withdrew from the awards' rule parts (see Earning.withdraw).
 */
export async function returnPart(
  tx: UnitOfWork,
  books: Books,
  book: AccountBook,
  row: OrderRow,
  pointsBack: number,
  totals: RefundTotals,
  cause: Cause,
): Promise<{ memberTakenBack: number; withdrawn: WithdrawnPart[] }> {
  const awards = await openAwards(tx, books, row);
  const entries = await loadEntries(tx, [row.capture_entry_id, ...awards.map((a) => a.entryId)]);
  const capture = row.capture_entry_id ? entries.get(Number(row.capture_entry_id))! : null;
  if (pointsBack > 0 && capture && !capture.reversed) await book.reversePart(capture.entry, pointsBack, cause);
  let memberTakenBack = 0;
  const takenBack: TakenBack[] = [];
  const withdrawn: WithdrawnPart[] = [];
  for (const award of awards) {
    const { entry, reversed } = entries.get(award.entryId)!;
    if (reversed) continue; // an operator reversed it already
    const awardBook = await books.open({ id: award.memberId });
    const lots = await awardBook.accrualLot(entry);
    const shares = award.breakdown.map((part) => awardTakenBack(part.points, totals));
    const target = Math.min(shareToTakeBack(award, shares, totals), award.points - lots.expired);
    const take = target - award.takenBack;
    if (take <= 0) continue;
    const reversal = await awardBook.reversePart(entry, take, cause, { shortfall: shortfallUnder(awardBook.policy.negativeBalancePolicy) });
    takenBack.push({ entryId: award.entryId, takenBack: target });
    withdrawn.push(...withdrawnParts(award, shares, -reversal.amount));
    if (award.memberId === row.member_id) memberTakenBack += take;
  }
  recordTakenBack(tx, row.id, takenBack);
  return { memberTakenBack, withdrawn };
}

/** What a take-back withdrew from an award's rule parts, each up to its share of what is returned so far (`shares`, in `breakdown`'s order). */
function withdrawnParts(award: AwardToTakeBack, shares: number[], recovered: number): WithdrawnPart[] {
  const parts = award.breakdown.map((part, i) => ({ ruleVersionId: part.ruleVersionId, upTo: shares[i]!, withdrawn: award.partsWithdrawn[i]! }));
  return withdrawal(award.entryId, parts, recovered);
}

/** An award's points to have taken back so far: its rules' parts' shares (an award without a breakdown: its own). */
function shareToTakeBack(award: OrderAwardRecord, partShares: readonly number[], totals: RefundTotals): number {
  if (award.breakdown.length === 0) return awardTakenBack(award.points, totals);
  return partShares.reduce((sum, share) => sum + share, 0);
}

/** An award of the order as a take-back needs it. */
interface AwardToTakeBack extends OrderAwardRecord {
  /** null: the order's member; N: their referrer N levels up. */
  referrerLevel: number | null;
  /** What each of its rule parts (in `breakdown`'s order) had withdrawn so far. */
  partsWithdrawn: number[];
}

/**
 * The order's awards, the member's own first, then the referrers' up the tree, with the
 * referrers' accounts locked, all at once, before anything is written (see lockReferrerAccounts;
 * the order's member is locked already).
 */
async function openAwards(tx: UnitOfWork, books: Books, row: OrderRow): Promise<AwardToTakeBack[]> {
  const rows = await tx.run(store.readAwardsUpwards, [row.id]);
  const awards = rows.map((a) => ({ ...toAwardRecord(a), referrerLevel: a.referrer_level, partsWithdrawn: a.breakdown.map((p) => Number(p.withdrawn)) }));
  await books.openReferrers(
    awards.filter((a) => a.memberId !== row.member_id && a.referrerLevel !== null).map((a) => ({ memberId: a.memberId, level: a.referrerLevel! })),
  );
  return awards;
}

interface LoadedEntry {
  entry: EntryRecord;
  /** Reversed whole already (by an operator): nothing is left to take back. */
  reversed: boolean;
}

/** Ledger entries by id, each with its lot and whether it was reversed whole, in one read. */
async function loadEntries(tx: UnitOfWork, ids: Array<number | null>): Promise<Map<number, LoadedEntry>> {
  const wanted = ids.filter((id) => id != null).map(Number);
  if (wanted.length === 0) return new Map();
  const rows = await tx.run(store.readEntries, [pgArray(wanted)]);
  return new Map(rows.map((r) => [Number(r.id), { entry: toEntryRecord(r, r.member_id), reversed: r.reversed }]));
}

interface TakenBack {
  entryId: number;
  /** The award's points taken back so far. */
  takenBack: number;
}

function recordTakenBack(tx: UnitOfWork, orderId: string, awards: TakenBack[]): void {
  if (awards.length === 0) return;
  const rows = awards.map((a) => ({ entry_id: a.entryId, taken_back: a.takenBack }));
  tx.write(store.setTakenBack, [JSON.stringify(rows), orderId]);
}
