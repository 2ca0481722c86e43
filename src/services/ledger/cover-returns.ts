import type { LotChange } from './entries';
import type { OutstandingCoverRow } from './book-store';

/** One entry giving a take-back's cover back: from the accrual's lot, to the debt and the lots it covered from. */
export interface CoverReturn {
  takebackId: number;
  /** The accrual's lot the points came back to. */
  lotId: number;
  /** Points leaving that lot. */
  given: number;
  /** Of them, debt repaid. */
  debt: number;
  /** The rest, back to the lots the cover came from. */
  toLots: LotChange[];
}

/**
 * What points that just came back to accruals' lots (`back`: points per lot) owe to the
 * take-backs that covered for them (`rows`: see book-store's outstandingCover), one return per
 * lot and take-back, in the rows' order: debt first (no more than the account still owes),
 * then the covering lots. A cover is owed once, whichever of its accrual's lots the points came
 * back to; `back` is left with what stays in each lot.
 */
export function planCoverReturns(back: Map<number, number>, rows: readonly OutstandingCoverRow[], accountDebt: number): CoverReturn[] {
  const owed = new Map(rows.map((r) => [coverKey(r), Number(r.outstanding)]));
  const groups = new Map<string, OutstandingCoverRow[]>();
  for (const row of rows) {
    const group = `${row.returned_lot_id}:${row.takeback_id}`;
    groups.set(group, [...(groups.get(group) ?? []), row]);
  }
  let debtLeft = accountDebt;
  const returns: CoverReturn[] = [];
  for (const group of groups.values()) {
    const lotId = Number(group[0]!.returned_lot_id);
    const cameBack = back.get(lotId) ?? 0;
    let left = cameBack;
    let debt = 0;
    const toLots: LotChange[] = [];
    for (const row of group) {
      const due = row.lot_id == null ? Math.min(owed.get(coverKey(row))!, debtLeft) : owed.get(coverKey(row))!;
      const points = Math.min(left, due);
      if (points <= 0) continue;
      left -= points;
      owed.set(coverKey(row), owed.get(coverKey(row))! - points);
      if (row.lot_id == null) {
        debt += points;
        debtLeft -= points;
      } else {
        toLots.push({ lotId: Number(row.lot_id), amount: points });
      }
    }
    if (left === cameBack) continue;
    back.set(lotId, left);
    returns.push({ takebackId: Number(group[0]!.takeback_id), lotId, given: cameBack - left, debt, toLots });
  }
  return returns;
}

const coverKey = (row: OutstandingCoverRow) => `${row.takeback_id}:${row.lot_id}`;
