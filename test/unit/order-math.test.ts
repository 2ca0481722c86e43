import fc from 'fast-check';
import { awardTakenBack, awardWeights, refundTotals, shareOf, type RefundableLine } from '../../src/services/orders';

const line = (quantity: number, pointsDiscountMinor: number, earnBaseMinor: number, netMinor = pointsDiscountMinor + earnBaseMinor): RefundableLine => ({
  quantity, refundedQuantity: 0, netMinor, pointsDiscountMinor, earnBaseMinor,
});

test('a share rounds down and is exact at the whole', () => {
  expect(shareOf(100, 1, 3)).toBe(33);
  expect(shareOf(100, 2, 3)).toBe(66);
  expect(shareOf(100, 3, 3)).toBe(100);
  expect(shareOf(100, 0, 3)).toBe(0);
  expect(shareOf(Number.MAX_SAFE_INTEGER, 2, 3)).toBe(Number((BigInt(Number.MAX_SAFE_INTEGER) * 2n) / 3n));
});

test('points come back per line, then divided by the point value; awards by earning base', () => {
  const lines = [
    { ...line(3, 180_000, 720_000), refundedQuantity: 1 },
    line(1, 20_000, 80_000),
  ];
  const totals = refundTotals(lines, 2_000, 100);
  expect(totals).toEqual({ complete: false, pointsReturned: 600, weightReturned: 240_000, weightTotal: 800_000 });
  expect(awardTakenBack(400, totals)).toBe(120);
  expect(awardTakenBack(50, totals)).toBe(15);
});

test('the delivery\'s share of the discount comes back only with the last unit', () => {
  const lines = [{ ...line(1, 90_000, 0, 100_000), refundedQuantity: 1 }, line(1, 0, 0, 50_000)];
  expect(refundTotals(lines, 1_000, 100).pointsReturned).toBe(900);
  expect(refundTotals(lines.map((l) => ({ ...l, refundedQuantity: l.quantity })), 1_000, 100).pointsReturned).toBe(1_000);
});

test('an order paid wholly with points weighs its lines by net amount, then by units', () => {
  expect(awardWeights([line(1, 100, 0, 100), line(2, 300, 0, 300)])).toEqual([100, 300]);
  expect(awardWeights([line(1, 0, 0, 0), line(2, 0, 0, 0)])).toEqual([1, 2]);
});

test('any sequence of returns moves forward only and ends exactly where a cancel ends', () => {
  const lineArb = fc.record({
    quantity: fc.integer({ min: 1, max: 9 }),
    pointsDiscountMinor: fc.integer({ min: 0, max: 1_000_000 }),
    earnBaseMinor: fc.integer({ min: 0, max: 1_000_000 }),
  });
  fc.assert(
    fc.property(
      fc.array(lineArb, { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 500 }),
      fc.integer({ min: 0, max: 100_000 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
      (specs, pointValueMinor, award, picks) => {
        const lines = specs.map((l) => line(l.quantity, l.pointsDiscountMinor, l.earnBaseMinor));
        const pointsRedeemed = Math.floor(lines.reduce((s, l) => s + l.pointsDiscountMinor, 0) / pointValueMinor) + (picks[0] % 3);
        let returned = 0;
        let taken = 0;
        for (const pick of picks) {
          const open = lines.filter((l) => l.refundedQuantity < l.quantity);
          if (open.length === 0) break;
          const target = open[pick % open.length];
          target.refundedQuantity += 1 + (pick % (target.quantity - target.refundedQuantity));
          const totals = refundTotals(lines, pointsRedeemed, pointValueMinor);
          expect(totals.pointsReturned).toBeGreaterThanOrEqual(returned);
          expect(totals.pointsReturned).toBeLessThanOrEqual(pointsRedeemed);
          expect(awardTakenBack(award, totals)).toBeGreaterThanOrEqual(taken);
          returned = totals.pointsReturned;
          taken = awardTakenBack(award, totals);
        }
        for (const l of lines) l.refundedQuantity = l.quantity;
        const final = refundTotals(lines, pointsRedeemed, pointValueMinor);
        expect(final.pointsReturned).toBe(pointsRedeemed);
        expect(awardTakenBack(award, final)).toBe(award);
      },
    ),
    { numRuns: 300 },
  );
});
