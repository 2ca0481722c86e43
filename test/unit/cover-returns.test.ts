import { planCoverReturns } from '../../src/services/ledger/cover-returns';

const row = (returned_lot_id: number, takeback_id: number, lot_id: number | null, outstanding: number) => ({ returned_lot_id, takeback_id, lot_id, outstanding });

describe('planCoverReturns', () => {
  it('repays the debt first, then the covering lots, and leaves the rest in the lot', () => {
    const back = new Map([[10, 70]]);
    const returns = planCoverReturns(back, [row(10, 5, null, 20), row(10, 5, 3, 30), row(10, 5, 4, 40)], 100);
    expect(returns).toEqual([{ takebackId: 5, lotId: 10, given: 70, debt: 20, toLots: [{ lotId: 3, amount: 30 }, { lotId: 4, amount: 20 }] }]);
    expect(back.get(10)).toBe(0);
  });

  it('owes no more debt than the account still has', () => {
    const back = new Map([[10, 50]]);
    expect(planCoverReturns(back, [row(10, 5, null, 40)], 15)).toEqual([{ takebackId: 5, lotId: 10, given: 15, debt: 15, toLots: [] }]);
    expect(back.get(10)).toBe(35);
  });

  it('gives a cover back once, whichever of the accrual\'s lots the points came back to', () => {
    const back = new Map([[10, 30], [11, 30]]);
    const returns = planCoverReturns(back, [row(10, 5, 3, 40), row(11, 5, 3, 40)], 0);
    expect(returns.map((r) => [r.lotId, r.given])).toEqual([[10, 30], [11, 10]]);
    expect([...back]).toEqual([[10, 0], [11, 20]]);
  });

  it('writes nothing when nothing is owed', () => {
    const back = new Map([[10, 30]]);
    expect(planCoverReturns(back, [row(10, 5, 3, 0)], 0)).toEqual([]);
    expect(back.get(10)).toBe(30);
  });
});
