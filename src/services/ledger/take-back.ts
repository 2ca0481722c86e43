import type { Queryable } from '../../db/statement';
import { ErrorCode, PatronError, apiEntryId } from '../../errors';
import { forgiveAcross } from './accruals';
import type { AccrualLots, EntryRecord, LotChange, Posting, Shortfall } from './entries';
import { takeSpendable } from './spendable';

/**
 * Taking back `points` of an accrual: what its lots still hold leaves first (nearest expiry
 * first); the rest was spent, is held by an authorization, or repaid a debt, and comes from the
 * account's other available points. What those do not cover is the shortfall: refused, owed
 * as debt, or forgiven. Forgiven points are noted on the lots others took them from: should
 * they come back to a lot (a released hold, a reversed capture), AccountBook's settle takes
 * them.
 */
export async function takeBackAccrual(
  tx: Queryable,
  account: { id: string; available: number },
  now: Date,
  entry: EntryRecord,
  own: AccrualLots,
  points: number,
  shortfall: Shortfall,
): Promise<Pick<Posting, 'available' | 'pending' | 'debt' | 'lotChanges'> & { forgiven: number }> {
  const changes = new Map<number, LotChange>(own.lots.map((l) => [l.id, { lotId: l.id, amount: 0, forgiven: 0 }]));
  let fromLots = 0;
  let fromLotsAvailable = 0;
  for (const lot of own.lots) {
    const take = Math.min(points - fromLots, lot.remaining);
    if (take <= 0) continue;
    changes.get(lot.id)!.amount = -take;
    fromLots += take;
    if (lot.active) fromLotsAvailable += take;
  }
  const rest = points - fromLots;
  const othersAvailable = account.available - fromLotsAvailable;
  const covered = Math.min(rest, othersAvailable);
  const missing = rest - covered;
  if (missing > 0 && shortfall === 'refuse') {
    throw new PatronError(
      ErrorCode.INSUFFICIENT_POINTS,
      `${rest} of the ${entry.amount} points were already spent or are reserved, and only ${othersAvailable} are available to take back`,
      { entryId: apiEntryId(entry.id), requested: rest, available: othersAvailable },
    );
  }
  const forgiven = shortfall === 'forgive' ? missing : 0;
  forgiveAcross(own.lots, forgiven, changes);
  // The entry's own lots are left out: their remainders are already taken above.
  const others = covered > 0 ? await takeSpendable(tx, account, now, covered, own.lots.map((l) => l.id)) : [];
  return {
    available: -fromLotsAvailable - covered,
    pending: -(fromLots - fromLotsAvailable),
    debt: shortfall === 'debt' ? missing : 0,
    forgiven,
    lotChanges: [...changes.values(), ...others],
  };
}
