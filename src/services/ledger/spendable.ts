import type { Queryable } from '../../db/statement';
import { ErrorCode, PatronError } from '../../errors';
import { pgArray } from '../shared';
import * as store from './book-store';
import type { LotChange } from './entries';

/**
 * What a spend of `points` takes from an account's spendable lots, nearest expiry first, never an
 * expired or pending lot: INSUFFICIENT_POINTS when `available` or the lots fall short. A
 * take-back spares its entry's own lots (`excludeLotIds`).
 */
export async function takeSpendable(
  tx: Queryable,
  account: { id: string; available: number },
  now: Date,
  points: number,
  excludeLotIds: readonly number[] = [],
): Promise<LotChange[]> {
  let taken: LotChange[] = [];
  if (points <= account.available) {
    // Most spends are covered by the first few lots: walk the index that far, and the rest only when needed.
    const lots = store.spendableLots;
    const { id } = account;
    // Other spends exclude nothing (no array to build).
    const read = (all: boolean) =>
      excludeLotIds.length > 0
        ? tx.run(all ? lots.allExcept : lots.firstExcept, [points, id, now, pgArray(excludeLotIds), points])
        : tx.run(all ? lots.all : lots.first, [points, id, now, points]);
    const first = await read(false);
    const rows = first.length < store.FIRST_LOTS || covers(first) >= points ? first : await read(true);
    taken = rows.map((r) => ({ lotId: Number(r.id), amount: -Number(r.take) }));
  }
  if (taken.reduce((s, c) => s - c.amount, 0) < points) {
    throw new PatronError(ErrorCode.INSUFFICIENT_POINTS, `Not enough points: ${points} asked, ${account.available} available`, {
      requested: points,
      available: account.available,
    });
  }
  return taken;
}

const covers = (rows: ReadonlyArray<{ take: number }>) => rows.reduce((sum, r) => sum + Number(r.take), 0);
