import fc from 'fast-check';
import {
  CheckoutLine,
  CheckoutOrder,
  RedemptionPolicy,
  earningBase,
  eligibleLines,
  maxRedeemablePoints,
  pointsToMinor,
  quoteCheckout,
  resolveRedemptionPolicy,
  splitRedemption,
  splitTierDiscount,
} from '../../src/services/orders';

const rubles = (amount: number): number => Math.round(amount * 100);
const line = (sku: string, unitPriceMinor: number, extra: Partial<CheckoutLine> = {}): CheckoutLine => ({
  sku,
  unitPriceMinor,
  quantity: 1,
  ...extra,
});
const sum = (values: number[]): number => values.reduce((total, value) => total + value, 0);

describe('the worked example (seed 000): at most 20 % of an order paid with points', () => {
  const order: CheckoutOrder = { lines: [line('bike', rubles(10_000))] };
  const policy: RedemptionPolicy = { maxRedeemPercent: 20 };

  it('lets a member with 5 000 points spend 2 000 and pay 8 000 with money', () => {
    const quote = quoteCheckout(order, policy, 5_000);
    expect(quote.max).toEqual({
      maxPoints: 2_000,
      eligibleMinor: rubles(10_000),
      capMinor: rubles(2_000),
      limitedBy: 'share',
    });
    expect(quote.points).toBe(2_000);
    expect(quote.split.totalDiscountMinor).toBe(rubles(2_000));
    expect(quote.split.totalPayableMinor).toBe(rubles(8_000));
    expect(quote.split.lines).toEqual([{ index: 0, sku: 'bike', discountMinor: rubles(2_000), payableMinor: rubles(8_000) }]);
    // 5 % of the 8 000 actually paid is what E3 earns on, not of 10 000.
    expect(quote.earningBase.totalMinor).toBe(rubles(8_000));
  });

  it('is limited by the balance when the member has fewer points', () => {
    expect(maxRedeemablePoints(order, policy, 700)).toMatchObject({ maxPoints: 700, limitedBy: 'balance' });
  });

  it('reports the balance on a tie with the share', () => {
    expect(maxRedeemablePoints(order, policy, 2_000)).toMatchObject({ maxPoints: 2_000, limitedBy: 'balance' });
  });

  it('is limited by the amount itself at a 100 % cap', () => {
    expect(maxRedeemablePoints(order, { maxRedeemPercent: 100 }, 50_000)).toMatchObject({
      maxPoints: 10_000,
      capMinor: rubles(10_000),
      limitedBy: 'amount',
    });
  });

  it('quotes fewer points when asked and refuses more than allowed', () => {
    expect(quoteCheckout(order, policy, 5_000, 500).split.totalPayableMinor).toBe(rubles(9_500));
    expect(() => quoteCheckout(order, policy, 5_000, 2_001)).toThrow(RangeError);
    expect(() => quoteCheckout(order, policy, 100, 101)).toThrow(/limited by balance/);
  });
});

describe('splitRedemption', () => {
  it('splits 100 points over 333.33 / 333.33 / 333.34 rubles exactly, the extra kopeck to the largest remainder', () => {
    const order: CheckoutOrder = {
      lines: [line('a', rubles(333.33)), line('b', rubles(333.33)), line('c', rubles(333.34))],
    };
    const split = splitRedemption(order, { maxRedeemPercent: 100 }, 100);
    expect(split.lines.map((l) => l.discountMinor)).toEqual([3_333, 3_333, 3_334]);
    expect(split.lines.map((l) => l.payableMinor)).toEqual([30_000, 30_000, 30_000]);
    expect(split.totalDiscountMinor).toBe(10_000);
  });

  it('breaks equal remainders by line order', () => {
    const order: CheckoutOrder = { lines: [line('a', 100), line('b', 100), line('c', 100)] };
    const split = splitRedemption(order, { maxRedeemPercent: 100, pointValueMinor: 1 }, 2);
    expect(split.lines.map((l) => l.discountMinor)).toEqual([1, 1, 0]);
  });

  it('gives nothing to an on-sale line and spreads the points over the rest', () => {
    const order: CheckoutOrder = {
      lines: [line('sale', rubles(5_000), { onSale: true }), line('full', rubles(5_000))],
    };
    const policy: RedemptionPolicy = { maxRedeemPercent: 100 };
    expect(eligibleLines(order, policy)[0]).toMatchObject({ redeemable: false, reason: 'on_sale' });
    expect(maxRedeemablePoints(order, policy, 1_000_000).maxPoints).toBe(5_000);

    const split = splitRedemption(order, policy, 1_000);
    expect(split.lines[0]).toEqual({ index: 0, sku: 'sale', discountMinor: 0, payableMinor: rubles(5_000) });
    expect(split.lines[1].discountMinor).toBe(rubles(1_000));
  });

  it('lets sale items take points when the program allows it', () => {
    const order: CheckoutOrder = { lines: [line('sale', rubles(100), { onSale: true })] };
    expect(eligibleLines(order, { maxRedeemPercent: 100, excludeOnSale: false })[0].redeemable).toBe(true);
  });

  it('never lets points pay for a gift card by default, even on sale', () => {
    const order: CheckoutOrder = { lines: [line('gift', rubles(1_000), { giftCard: true, onSale: true })] };
    expect(eligibleLines(order, { maxRedeemPercent: 100 })[0]).toMatchObject({ redeemable: false, reason: 'gift_card' });
    expect(maxRedeemablePoints(order, { maxRedeemPercent: 100 }, 5_000)).toMatchObject({ maxPoints: 0, eligibleMinor: 0 });
    expect(() => splitRedemption(order, { maxRedeemPercent: 100 }, 1)).toThrow(RangeError);
  });

  it('counts a line with its own discount at its net amount, in the cap too (S4)', () => {
    const order: CheckoutOrder = {
      lines: [line('shoes', rubles(3_000), { quantity: 2, discountMinor: rubles(1_000) }), line('socks', rubles(500))],
    };
    const policy: RedemptionPolicy = { maxRedeemPercent: 30 };
    expect(eligibleLines(order, policy).map((l) => [l.grossMinor, l.netMinor])).toEqual([
      [rubles(6_000), rubles(5_000)],
      [rubles(500), rubles(500)],
    ]);
    // 30 % of 5 500 net, not of 6 500 gross.
    expect(maxRedeemablePoints(order, policy, 10_000)).toMatchObject({ maxPoints: 1_650, capMinor: rubles(1_650) });
    const split = splitRedemption(order, policy, 1_100);
    expect(split.lines.map((l) => l.discountMinor)).toEqual([rubles(1_000), rubles(100)]);
  });

  it('treats a discount larger than the line as a free line, never a negative amount', () => {
    const order: CheckoutOrder = { lines: [line('promo', rubles(100), { discountMinor: rubles(150) }), line('x', rubles(10))] };
    const [promo] = eligibleLines(order, { maxRedeemPercent: 100 });
    expect(promo.netMinor).toBe(0);
    expect(splitRedemption(order, { maxRedeemPercent: 100 }, 10).lines[0].discountMinor).toBe(0);
  });

  it('leaves delivery out by default: no share, no cap, still in the money to pay', () => {
    const order: CheckoutOrder = { lines: [line('ball', rubles(1_000))], deliveryMinor: rubles(300) };
    const policy: RedemptionPolicy = { maxRedeemPercent: 100 };
    expect(maxRedeemablePoints(order, policy, 10_000)).toMatchObject({ maxPoints: 1_000, eligibleMinor: rubles(1_000) });
    const split = splitRedemption(order, policy, 1_000);
    expect(split.delivery).toBeUndefined();
    expect(split.totalPayableMinor).toBe(rubles(300));
    expect(() => splitRedemption(order, policy, 1_001)).toThrow(RangeError);
  });

  it('gives delivery its proportional share when eligible', () => {
    const order: CheckoutOrder = { lines: [line('ball', rubles(900))], deliveryMinor: rubles(100) };
    const policy: RedemptionPolicy = { maxRedeemPercent: 100, deliveryEligible: true };
    expect(maxRedeemablePoints(order, policy, 10_000).maxPoints).toBe(1_000);
    const split = splitRedemption(order, policy, 500);
    expect(split.lines[0].discountMinor).toBe(rubles(450));
    expect(split.delivery).toEqual({ discountMinor: rubles(50), payableMinor: rubles(50) });
    expect(split.totalPayableMinor).toBe(rubles(500));
  });

  it('converts points at the program rate', () => {
    const order: CheckoutOrder = { lines: [line('cap', rubles(1_000))] };
    const policy: RedemptionPolicy = { maxRedeemPercent: 20, pointValueMinor: 50 };
    // 200 rubles of cap at 0.5 ruble a point.
    expect(maxRedeemablePoints(order, policy, 10_000)).toMatchObject({ maxPoints: 400, limitedBy: 'share' });
    expect(splitRedemption(order, policy, 400).totalDiscountMinor).toBe(rubles(200));
    expect(pointsToMinor(400, policy)).toBe(rubles(200));
    expect(pointsToMinor(3, {})).toBe(300);
  });

  it('rounds the cap down to whole points', () => {
    const order: CheckoutOrder = { lines: [line('gum', 999)] };
    // 20 % of 9.99 rubles is 199.8 kopecks → 199 kopecks → 1 point.
    expect(maxRedeemablePoints(order, { maxRedeemPercent: 20 }, 100)).toMatchObject({ maxPoints: 1, capMinor: 199 });
  });

  it('handles an empty order and zero points', () => {
    const empty: CheckoutOrder = { lines: [] };
    expect(maxRedeemablePoints(empty, { maxRedeemPercent: 20 }, 100)).toMatchObject({ maxPoints: 0, eligibleMinor: 0 });
    expect(splitRedemption(empty, { maxRedeemPercent: 20 }, 0)).toMatchObject({ totalDiscountMinor: 0, lines: [] });
  });
});

describe('earningBase', () => {
  const order: CheckoutOrder = {
    lines: [line('bike', rubles(9_000), { category: 'bikes' }), line('sale', rubles(1_000), { onSale: true })],
    deliveryMinor: rubles(500),
  };

  it('earns on the money paid, not on the points', () => {
    const policy: RedemptionPolicy = { maxRedeemPercent: 20 };
    const base = earningBase(order, policy, splitRedemption(order, policy, 1_000));
    expect(base.lines).toEqual([
      { index: 0, sku: 'bike', category: 'bikes', onSale: false, giftCard: false, eligibleMoneyMinor: rubles(8_000) },
      { index: 1, sku: 'sale', onSale: true, giftCard: false, eligibleMoneyMinor: rubles(1_000) },
    ]);
    expect(base.totalMinor).toBe(rubles(9_000));
  });

  it('earns on the full net amount when the program says so', () => {
    const policy: RedemptionPolicy = { maxRedeemPercent: 20, earnOnPointsPaidPart: true };
    const base = earningBase(order, policy, splitRedemption(order, policy, 1_000));
    expect(base.totalMinor).toBe(rubles(10_000));
  });

  it('refuses a split made for another order', () => {
    const policy: RedemptionPolicy = { maxRedeemPercent: 20 };
    const other = splitRedemption({ lines: [line('bike', rubles(9_000))] }, policy, 0);
    expect(() => earningBase(order, policy, other)).toThrow(RangeError);
  });
});

describe('input checks', () => {
  const order: CheckoutOrder = { lines: [line('a', 100)] };

  it.each([
    ['a percent above 100', { maxRedeemPercent: 101 }],
    ['a negative percent', { maxRedeemPercent: -1 }],
    ['a fractional percent', { maxRedeemPercent: 12.5 }],
    ['a zero point value', { maxRedeemPercent: 20, pointValueMinor: 0 }],
    ['a fractional point value', { maxRedeemPercent: 20, pointValueMinor: 0.5 }],
  ])('rejects %s', (_name, policy) => {
    expect(() => resolveRedemptionPolicy(policy)).toThrow(RangeError);
  });

  it.each([
    ['a fractional price', line('a', 10.5)],
    ['a negative price', line('a', -1)],
    ['a fractional quantity', line('a', 100, { quantity: 1.5 })],
    ['a negative discount', line('a', 100, { discountMinor: -5 })],
    ['an unsafe gross amount', line('a', Number.MAX_SAFE_INTEGER, { quantity: 2 })],
  ])('rejects %s', (_name, badLine) => {
    expect(() => eligibleLines({ lines: [badLine] }, { maxRedeemPercent: 20 })).toThrow(RangeError);
  });

  it('rejects a negative delivery, fractional points and a fractional balance', () => {
    expect(() => maxRedeemablePoints({ ...order, deliveryMinor: -1 }, { maxRedeemPercent: 20 }, 1)).toThrow(RangeError);
    expect(() => splitRedemption(order, { maxRedeemPercent: 100 }, 0.5)).toThrow(RangeError);
    expect(() => splitRedemption(order, { maxRedeemPercent: 100 }, -1)).toThrow(RangeError);
    expect(() => maxRedeemablePoints(order, { maxRedeemPercent: 20 }, 1.5)).toThrow(RangeError);
  });

  it('counts a negative balance as nothing to spend', () => {
    expect(maxRedeemablePoints(order, { maxRedeemPercent: 100 }, -50)).toMatchObject({ maxPoints: 0, limitedBy: 'balance' });
  });
});

describe('properties', () => {
  const lineArb: fc.Arbitrary<CheckoutLine> = fc.record({
    sku: fc.string({ minLength: 1, maxLength: 4 }),
    unitPriceMinor: fc.integer({ min: 0, max: 5_000_000 }),
    quantity: fc.integer({ min: 0, max: 20 }),
    discountMinor: fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: undefined }),
    onSale: fc.boolean(),
    giftCard: fc.boolean(),
  });
  const orderArb: fc.Arbitrary<CheckoutOrder> = fc.record({
    lines: fc.array(lineArb, { maxLength: 12 }),
    deliveryMinor: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
  });
  const policyArb: fc.Arbitrary<RedemptionPolicy> = fc.record({
    maxRedeemPercent: fc.integer({ min: 0, max: 100 }),
    pointValueMinor: fc.constantFrom(1, 7, 10, 50, 100, 1_000),
    excludeOnSale: fc.boolean(),
    excludeGiftCards: fc.boolean(),
    deliveryEligible: fc.boolean(),
    earnOnPointsPaidPart: fc.boolean(),
  });
  // An order, a policy and a number of points the order can absorb (not necessarily within the cap).
  const absorbableArb = fc
    .tuple(orderArb, policyArb, fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([order, policy, fraction]) => {
      const absorbablePoints = maxRedeemablePoints(order, { ...policy, maxRedeemPercent: 100 }, Number.MAX_SAFE_INTEGER).maxPoints;
      return { order, policy, points: Math.floor(absorbablePoints * fraction) };
    });

  it('discounts add up exactly, stay within each net, are non-negative integers, and skip ineligible lines', () => {
    fc.assert(
      fc.property(absorbableArb, ({ order, policy, points }) => {
        const split = splitRedemption(order, policy, points);
        const lines = eligibleLines(order, policy);
        const pointValueMinor = policy.pointValueMinor ?? 100;
        const discounts = split.lines.map((l) => l.discountMinor);
        if (split.delivery) discounts.push(split.delivery.discountMinor);

        expect(sum(discounts)).toBe(points * pointValueMinor);
        expect(split.totalDiscountMinor).toBe(points * pointValueMinor);
        for (const discount of discounts) {
          expect(Number.isInteger(discount)).toBe(true);
          expect(discount).toBeGreaterThanOrEqual(0);
        }
        split.lines.forEach((l, i) => {
          expect(l.discountMinor).toBeLessThanOrEqual(lines[i].netMinor);
          expect(l.payableMinor).toBe(lines[i].netMinor - l.discountMinor);
          if (!lines[i].redeemable) expect(l.discountMinor).toBe(0);
        });
        if (split.delivery) {
          expect(split.delivery.payableMinor).toBeGreaterThanOrEqual(0);
          expect(split.delivery.payableMinor + split.delivery.discountMinor).toBe(order.deliveryMinor);
        }
        const totalNet = sum(lines.map((l) => l.netMinor)) + (order.deliveryMinor ?? 0);
        expect(split.totalPayableMinor).toBe(totalNet - split.totalDiscountMinor);
      }),
      { numRuns: 500 },
    );
  });

  it('each discount is within one minor unit of its exact proportional share', () => {
    fc.assert(
      fc.property(absorbableArb, ({ order, policy, points }) => {
        const split = splitRedemption(order, policy, points);
        const lines = eligibleLines(order, policy);
        const weights = lines.map((l) => (l.redeemable ? l.netMinor : 0));
        const discounts = split.lines.map((l) => l.discountMinor);
        if (policy.deliveryEligible) {
          weights.push(order.deliveryMinor ?? 0);
          discounts.push(split.delivery?.discountMinor ?? 0);
        }
        const total = BigInt(split.totalDiscountMinor);
        const weightSum = BigInt(sum(weights));
        if (weightSum === 0n) return;
        weights.forEach((weight, i) => {
          // |discount × W − total × weight| < W, in exact integers.
          const gap = BigInt(discounts[i]) * weightSum - total * BigInt(weight);
          expect(gap < weightSum && gap > -weightSum).toBe(true);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('the maximum respects the balance and the cap, and always splits', () => {
    fc.assert(
      fc.property(orderArb, policyArb, fc.integer({ min: -100, max: 10_000_000 }), (order, policy, balance) => {
        const max = maxRedeemablePoints(order, policy, balance);
        const pointValueMinor = policy.pointValueMinor ?? 100;
        expect(Number.isInteger(max.maxPoints)).toBe(true);
        expect(max.maxPoints).toBeGreaterThanOrEqual(0);
        expect(max.maxPoints).toBeLessThanOrEqual(Math.max(0, balance));
        expect(max.maxPoints * pointValueMinor).toBeLessThanOrEqual(max.capMinor);
        expect(max.capMinor).toBeLessThanOrEqual(max.eligibleMinor);
        // One more point would break the limit that binds.
        const next = (max.maxPoints + 1) * pointValueMinor;
        if (max.limitedBy === 'balance') expect(max.maxPoints).toBe(Math.max(0, balance));
        if (max.limitedBy === 'share') expect(next).toBeGreaterThan(max.capMinor);
        if (max.limitedBy === 'amount') expect(next).toBeGreaterThan(max.eligibleMinor);

        const quote = quoteCheckout(order, policy, balance);
        expect(quote.split.totalDiscountMinor).toBe(max.maxPoints * pointValueMinor);
        expect(() => splitRedemption(order, { ...policy, maxRedeemPercent: 100 }, Math.floor(max.eligibleMinor / pointValueMinor) + 1)).toThrow(
          RangeError,
        );
      }),
      { numRuns: 500 },
    );
  });

  it('the earning base is the net minus the points discount, or the net', () => {
    fc.assert(
      fc.property(absorbableArb, ({ order, policy, points }) => {
        const split = splitRedemption(order, policy, points);
        const base = earningBase(order, policy, split);
        const lines = eligibleLines(order, policy);
        base.lines.forEach((l, i) => {
          const expected = policy.earnOnPointsPaidPart ? lines[i].netMinor : split.lines[i].payableMinor;
          expect(l.eligibleMoneyMinor).toBe(expected);
          expect(l.eligibleMoneyMinor).toBeGreaterThanOrEqual(0);
        });
        expect(base.totalMinor).toBe(sum(base.lines.map((l) => l.eligibleMoneyMinor)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('splitTierDiscount (T4: the tier discount instead of points)', () => {
  it('takes the percent of the eligible amount, rounded down, split by largest remainder like points', () => {
    const order: CheckoutOrder = { lines: [line('a', 10_000), line('b', 999)] };
    const split = splitTierDiscount(order, { maxRedeemPercent: 20 }, 7);
    // 7 % of 10 999 = 769.93 → 769; exact shares 699.15 and 69.84: the extra unit to b.
    expect(split).toEqual({
      percent: 7,
      eligibleMinor: 10_999,
      totalDiscountMinor: 769,
      lines: [
        { index: 0, sku: 'a', discountMinor: 699, payableMinor: 9_301 },
        { index: 1, sku: 'b', discountMinor: 70, payableMinor: 929 },
      ],
      totalPayableMinor: 10_230,
    });
  });

  it('ignores the points share cap, and keeps the same exclusions: sale items, gift cards, delivery unless eligible', () => {
    const order: CheckoutOrder = {
      lines: [line('coat', rubles(8_000)), line('sale', rubles(1_000), { onSale: true }), line('card', rubles(500), { giftCard: true })],
      deliveryMinor: rubles(400),
    };
    const out = splitTierDiscount(order, { maxRedeemPercent: 0 }, 10);
    expect(out.eligibleMinor).toBe(rubles(8_000));
    expect(out.lines.map((l) => l.discountMinor)).toEqual([rubles(800), 0, 0]);
    expect(out.delivery).toBeUndefined();
    expect(out.totalPayableMinor).toBe(rubles(8_000 + 1_000 + 500 + 400 - 800));

    const withDelivery = splitTierDiscount(order, { maxRedeemPercent: 0, deliveryEligible: true }, 10);
    expect(withDelivery.totalDiscountMinor).toBe(rubles(840));
    expect(withDelivery.lines.map((l) => l.discountMinor)).toEqual([rubles(800), 0, 0]);
    expect(withDelivery.delivery).toEqual({ discountMinor: rubles(40), payableMinor: rubles(360) });
  });

  it('takes two decimals of a percent exactly, and refuses more', () => {
    const order: CheckoutOrder = { lines: [line('x', 1_000_000)] };
    expect(splitTierDiscount(order, { maxRedeemPercent: 100 }, 7.25).totalDiscountMinor).toBe(72_500);
    expect(splitTierDiscount(order, { maxRedeemPercent: 100 }, 0.01).totalDiscountMinor).toBe(100);
    expect(splitTierDiscount(order, { maxRedeemPercent: 100 }, 100).totalPayableMinor).toBe(0);
    expect(() => splitTierDiscount(order, { maxRedeemPercent: 100 }, 7.255)).toThrow(RangeError);
    expect(() => splitTierDiscount(order, { maxRedeemPercent: 100 }, 101)).toThrow(RangeError);
    expect(() => splitTierDiscount(order, { maxRedeemPercent: 100 }, -1)).toThrow(RangeError);
  });

  it('adds up exactly and never gives a line more than its net (property)', () => {
    const lineArb = fc.record({
      unitPriceMinor: fc.integer({ min: 0, max: 1_000_000 }),
      quantity: fc.integer({ min: 1, max: 20 }),
      onSale: fc.boolean(),
      giftCard: fc.boolean(),
      discountMinor: fc.integer({ min: 0, max: 50_000 }),
    });
    fc.assert(
      fc.property(
        fc.array(lineArb, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 50_000 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 10_000 }),
        (lines, deliveryMinor, deliveryEligible, hundredths) => {
          const order: CheckoutOrder = { lines: lines.map((l, i) => ({ sku: `s${i}`, ...l })), deliveryMinor };
          const policy: RedemptionPolicy = { maxRedeemPercent: 100, deliveryEligible };
          const split = splitTierDiscount(order, policy, hundredths / 100);
          const eligible = eligibleLines(order, policy);
          expect(sum(split.lines.map((l) => l.discountMinor)) + (split.delivery?.discountMinor ?? 0)).toBe(split.totalDiscountMinor);
          expect(split.totalDiscountMinor).toBe(Math.floor((split.eligibleMinor * hundredths) / 10_000));
          split.lines.forEach((l, i) => {
            expect(l.discountMinor).toBeLessThanOrEqual(eligible[i].redeemable ? eligible[i].netMinor : 0);
            expect(l.payableMinor).toBe(eligible[i].netMinor - l.discountMinor);
          });
        },
      ),
    );
  });
});
