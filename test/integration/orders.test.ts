import type { RequestContext } from '../../src/services/shared';
import { NegativeBalancePolicy } from '../../src/entities/program';
import { RuleStatus } from '../../src/entities/rule';
import type { ProgramSettings } from '../../src/services/programs';
import { DAY_MS } from '../../src/services/shared';
import { LedgerAudit } from '../../src/services/ledger';
import { LedgerJobs } from '../../src/services/ledger';

import { ORDER_AUTHORIZATION_TTL_SECONDS, type OrderLineInput, type PlaceOrderInput } from '../../src/services/orders';
import { rulesHarness, together, type RulesHarness } from '../support/rules-harness';
import { testContext } from '../support/context';

/**
 * The order lifecycle against a real PostgreSQL with the real rules: each test runs in a shop
 * (program) of its own with the worked example's rules — 5 % of the money paid, valid one
 * month, and 50 points to the referrer when a referred customer pays an order of 1 000.
 */

let h: RulesHarness;
let seq = 0;
const key = (prefix = 'k') => `${prefix}-${++seq}`;

beforeAll(async () => {
  h = await rulesHarness(new Date('2026-04-01T09:00:00Z'));
});
afterAll(() => h.close());

interface Shop {
  programId: string;
  server: RequestContext;
  admin: RequestContext;
  member(externalId: string, referrerExternalId?: string): Promise<string>;
  give(memberId: string, points: number): Promise<void>;
  account(memberId: string): Promise<{ available: number; pending: number; reserved: number; debt: number; lifetimeEarned: number; lifetimeRedeemed: number }>;
  expectBooksBalance(): Promise<void>;
  entries(): Promise<number>;
}

async function shop(settings: Partial<ProgramSettings> = {}): Promise<Shop> {
  const { program } = await h.services.programs.createProgram(h.admin, { name: key('shop'), maxRedeemPercent: 20, ...settings });
  const programId = program.id;
  const admin = testContext(programId, 'admin', 'admin');
  const server = testContext(programId, 'server', 'storefront');
  await h.services.rules.createRule(admin, {
    name: '5 % of every paid order',
    status: RuleStatus.ACTIVE,
    definition: { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }], lifetimeDays: 30 },
  });
  await h.services.rules.createRule(admin, {
    name: 'Referrer: 50 for an order of 1 000',
    status: RuleStatus.ACTIVE,
    definition: {
      trigger: 'order_paid',
      condition: { condition: 'orderTotal', args: { min: 100_000 } },
      actions: [{ code: 'rewardReferrer', args: { points: 50 } }],
    },
  });
  const em = () => h.orm.em.fork();
  return {
    programId,
    server,
    admin,
    async member(externalId, referrerExternalId) {
      return (await h.services.members.upsert(server, { externalId, referrerExternalId })).member.id;
    },
    async give(memberId, points) {
      await h.services.ledger.accrue(server, { member: { id: memberId }, points, idempotencyKey: key('give') });
    },
    async account(memberId) {
      const [a] = await em().execute('select * from account where member_id = ?', [memberId]);
      return {
        available: a.available, pending: a.pending, reserved: a.reserved, debt: a.debt,
        lifetimeEarned: a.lifetime_earned, lifetimeRedeemed: a.lifetime_redeemed,
      };
    },
    async expectBooksBalance() {
      const verification = await new LedgerAudit(h.database).verifyLedger({ programId: programId });
      expect(verification.discrepancies).toEqual([]);
      // Every entry's amount is its deltas (the database checks it too), and the deltas add up to the cached balances.
      const [row] = await em().execute(
        `select count(*) filter (where amount <> delta_available + delta_pending + delta_reserved - delta_debt) as unbalanced
         from ledger_entry where program_id = ?`,
        [programId],
      );
      expect(Number(row.unbalanced)).toBe(0);
    },
    async entries() {
      const [row] = await em().execute('select count(*) as n from ledger_entry where program_id = ?', [programId]);
      return Number(row.n);
    },
  };
}

/** 10 000 rubles in three lines that do not split evenly. */
const TEN_THOUSAND: OrderLineInput[] = [
  { sku: 'BOOTS', category: 'shoes', unitPriceMinor: 333_333, quantity: 1 },
  { sku: 'SOCKS', category: 'apparel', unitPriceMinor: 111_111, quantity: 3 },
  { sku: 'BALL', category: 'balls', unitPriceMinor: 333_334, quantity: 1 },
];

function placeInput(memberId: string, extra: Partial<PlaceOrderInput> = {}): PlaceOrderInput {
  return { orderId: key('order'), member: { id: memberId }, lines: TEN_THOUSAND, idempotencyKey: key('place'), ...extra };
}

const pay = (s: Shop, orderId: string, idempotencyKey = key('pay')) => h.services.orders.payOrder(s.server, { orderId, idempotencyKey });
const cancel = (s: Shop, orderId: string, idempotencyKey = key('cancel')) =>
  h.services.orders.cancelOrder(s.server, { orderId, idempotencyKey });
const refund = (s: Shop, orderId: string, lines: Array<{ lineIndex?: number; sku?: string; quantity: number }>, idempotencyKey = key('refund')) =>
  h.services.orders.refundOrderLines(s.server, { orderId, lines, idempotencyKey });

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('the worked example', () => {
  it('a 10 000 order: at most 2 000 in points, the rest in money, the discount split exactly over the receipt', async () => {
    const s = await shop();
    const memberId = await s.member('runner');
    await s.give(memberId, 5_000);
    const before = await s.entries();

    const quote = await h.services.orders.checkoutQuote(s.server, { order: { member: { id: memberId }, lines: TEN_THOUSAND } });
    expect(quote).toMatchObject({
      availablePoints: 5_000, maxPoints: 2_000, limitedBy: 'share', eligibleMinor: 1_000_000, capMinor: 200_000,
      points: 2_000, totalDiscountMinor: 200_000, orderTotalMinor: 1_000_000, totalPayableMinor: 800_000,
      // 5 % of the 8 000 paid with money: the points-paid part does not earn by default.
      pointsToEarn: 400,
    });
    // Largest remainder: 66 666.6, 66 666.6, 66 666.8 → the two largest remainders get the two units left.
    expect(quote.lines.map((l) => l.discountMinor)).toEqual([66_667, 66_666, 66_667]);
    expect(sum(quote.lines.map((l) => l.discountMinor))).toBe(200_000);
    expect(sum(quote.lines.map((l) => l.payableMinor))).toBe(800_000);
    // A quote writes nothing: no entries, no rule awards, no claimed source.
    expect(await s.entries()).toBe(before);
    expect(await h.count("select count(*) from earned_source where program_id = ? and source_type = 'order'", [s.programId])).toBe(0);

    const placed = await h.services.orders.placeOrder(s.server, placeInput(memberId, { points: 2_000 }));
    expect(placed.account).toMatchObject({ available: 3_000, reserved: 2_000 });
    expect(placed.order.lines.map((l) => l.pointsDiscountMinor)).toEqual([66_667, 66_666, 66_667]);
    expect(placed.order).toMatchObject({ status: 'placed', pointsRedeemed: 2_000, payableMinor: 800_000, totalMinor: 1_000_000 });

    const paid = await pay(s, placed.order.orderId);
    expect(paid.order).toMatchObject({ status: 'paid', pointsEarned: 400 });
    expect(paid.account).toMatchObject({ available: 3_400, reserved: 0, lifetimeRedeemed: 2_000 });
    await s.expectBooksBalance();
  });

  it('an order of 10 000 paid with money earns 500 points that live one month', async () => {
    const s = await shop();
    const memberId = await s.member('walker');
    const placed = await h.services.orders.placeOrder(s.server, placeInput(memberId));
    expect(placed.order.authorizationId).toBeNull();
    const paid = await pay(s, placed.order.orderId);
    expect(paid.order.pointsEarned).toBe(500);
    expect(paid.account.available).toBe(500);
    const [lot] = await h.orm.em.fork().execute('select l.expires_at from lot l join ledger_entry e on e.id = l.source_entry_id where e.id = ?', [
      paid.order.awards[0].entryId,
    ]);
    expect(new Date(lot.expires_at).getTime() - h.clock.now().getTime()).toBe(30 * DAY_MS);
    await s.expectBooksBalance();
  });

  it('a referred customer pays an order of 1 000: the referrer gets 50, and loses them when the order is cancelled', async () => {
    const s = await shop();
    const referrerId = await s.member('coach');
    const memberId = await s.member('pupil', 'coach');
    const placed = await h.services.orders.placeOrder(s.server, placeInput(memberId, { lines: [{ sku: 'BALL', unitPriceMinor: 100_000, quantity: 1 }] }));
    const paid = await pay(s, placed.order.orderId);
    expect(paid.order.awards.map((a) => [a.memberId, a.points]).sort()).toEqual([[memberId, 50], [referrerId, 50]].sort());
    expect((await s.account(referrerId)).available).toBe(50);
    const cancelled = await cancel(s, placed.order.orderId);
    expect(cancelled.order.awards.every((a) => a.takenBack === a.points)).toBe(true);
    expect((await s.account(referrerId)).available).toBe(0);
    expect((await s.account(memberId)).available).toBe(0);
    await s.expectBooksBalance();
  });
});

describe('checkout quote', () => {
  const mixed: OrderLineInput[] = [
    { sku: 'JACKET', unitPriceMinor: 500_000, quantity: 1, discountMinor: 50_000 }, // net 4 500
    { sku: 'SALE-CAP', unitPriceMinor: 100_000, quantity: 2, onSale: true },
    { sku: 'GIFT-1000', unitPriceMinor: 100_000, quantity: 1, giftCard: true },
    { sku: 'GLOVES', unitPriceMinor: 50_000, quantity: 1 },
  ];

  it('excludes sale items, gift cards and delivery, and caps the share of what is left net of other discounts', async () => {
    const s = await shop({ maxRedeemPercent: 30 });
    const memberId = await s.member('q1');
    await s.give(memberId, 10_000);
    const quote = await h.services.orders.checkoutQuote(s.server, { order: { member: { id: memberId }, lines: mixed, deliveryMinor: 30_000 } });
    // Eligible: 4 500 + 500 = 5 000 rubles; 30 % → 1 500 points.
    expect(quote).toMatchObject({ eligibleMinor: 500_000, capMinor: 150_000, maxPoints: 1_500, limitedBy: 'share' });
    expect(quote.orderTotalMinor).toBe(450_000 + 200_000 + 100_000 + 50_000 + 30_000);
    expect(quote.lines.map((l) => [l.redeemable, l.ineligibleReason])).toEqual([
      [true, null], [false, 'on_sale'], [false, 'gift_card'], [true, null],
    ]);
    expect(quote.lines.map((l) => l.discountMinor)).toEqual([135_000, 0, 0, 15_000]);
    expect(quote.delivery).toEqual({ priceMinor: 30_000, redeemable: false, discountMinor: 0, payableMinor: 30_000 });
    expect(quote.totalPayableMinor).toBe(quote.orderTotalMinor - 150_000);
  });

  it('follows the program: sale items, gift cards and delivery may be allowed, and the points-paid part may earn', async () => {
    const s = await shop({ maxRedeemPercent: 100, excludeOnSale: false, excludeGiftCards: false, deliveryEligible: true, earnOnPointsPaidPart: true });
    const memberId = await s.member('q2');
    await s.give(memberId, 100_000);
    const quote = await h.services.orders.checkoutQuote(s.server, {
      order: { member: { id: memberId }, lines: mixed, deliveryMinor: 30_000 },
      points: 1_000,
    });
    expect(quote.eligibleMinor).toBe(830_000);
    expect(quote.maxPoints).toBe(8_300);
    expect(quote.limitedBy).toBe('amount');
    expect(quote.lines.every((l) => l.redeemable)).toBe(true);
    expect(sum(quote.lines.map((l) => l.discountMinor)) + quote.delivery!.discountMinor).toBe(100_000);
    expect(quote.delivery!.redeemable).toBe(true);
    // The whole net earns, the part paid with points too; the rule itself skips sale lines: 5 % of 4 500 + 1 000 + 500.
    expect(quote.pointsToEarn).toBe(300);
  });

  it('the balance limits it; asking for more is INSUFFICIENT_POINTS, more than the share is BAD_USER_INPUT; nothing is written', async () => {
    const s = await shop();
    const memberId = await s.member('q3');
    await s.give(memberId, 300);
    const order = { member: { id: memberId }, lines: TEN_THOUSAND };
    expect(await h.services.orders.checkoutQuote(s.server, { order })).toMatchObject({ maxPoints: 300, limitedBy: 'balance' });
    const before = await s.entries();
    await expect(h.services.orders.checkoutQuote(s.server, { order, points: 301 })).rejects.toMatchObject({ code: 'INSUFFICIENT_POINTS' });
    await expect(h.services.orders.placeOrder(s.server, placeInput(memberId, { points: 301 }))).rejects.toMatchObject({
      code: 'INSUFFICIENT_POINTS',
    });
    await s.give(memberId, 10_000);
    await expect(h.services.orders.placeOrder(s.server, placeInput(memberId, { points: 2_001 }))).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('At most 2000 points'),
    });
    expect(await s.entries()).toBe(before + 1);
    expect(await h.count('select count(*) from shop_order where program_id = ?', [s.programId])).toBe(0);
  });

  it('refuses bad orders with BAD_USER_INPUT', async () => {
    const s = await shop();
    const memberId = await s.member('q4');
    const quote = (lines: OrderLineInput[], extra = {}) =>
      h.services.orders.checkoutQuote(s.server, { order: { member: { id: memberId }, lines, ...extra } });
    const bad: Array<[OrderLineInput[], object?]> = [
      [[]],
      [[{ sku: 'X', unitPriceMinor: -1, quantity: 1 }]],
      [[{ sku: 'X', unitPriceMinor: 100, quantity: 0 }]],
      [[{ sku: 'X', unitPriceMinor: 100, quantity: 1.5 }]],
      [[{ sku: 'X', unitPriceMinor: 100, quantity: 2, discountMinor: 201 }]],
      [[{ sku: '', unitPriceMinor: 100, quantity: 1 }]],
      [[{ sku: 'X', unitPriceMinor: 100, quantity: 1 }], { currency: 'EUR' }],
      [[{ sku: 'X', unitPriceMinor: 100, quantity: 1 }], { deliveryMinor: -5 }],
      [[{ sku: 'X', unitPriceMinor: 1e12, quantity: 1_000 }]],
    ];
    for (const [lines, extra] of bad) {
      await expect(quote(lines, extra)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    }
    await expect(
      h.services.orders.placeOrder(s.server, { ...placeInput(memberId), orderId: '' }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('splits many orders exactly: every receipt adds up and no line gets more than it costs', async () => {
    const s = await shop({ maxRedeemPercent: 50, deliveryEligible: true });
    const memberId = await s.member('q5');
    await s.give(memberId, 1_000_000);
    let state = 42;
    const random = (n: number) => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state % n;
    };
    for (let i = 0; i < 25; i++) {
      const lines = Array.from({ length: 1 + random(6) }, (_, j) => ({
        sku: `SKU-${j}`,
        unitPriceMinor: 1 + random(50_000),
        quantity: 1 + random(4),
        onSale: random(5) === 0,
        discountMinor: random(3) === 0 ? random(500) : 0,
      }));
      const deliveryMinor = random(2) * random(40_000);
      const quote = await h.services.orders.checkoutQuote(s.server, { order: { member: { id: memberId }, lines, deliveryMinor } });
      const points = random(quote.maxPoints + 1);
      const placed = await h.services.orders.placeOrder(s.server, placeInput(memberId, { lines, deliveryMinor, points }));
      const discounts = placed.order.lines.map((l) => l.pointsDiscountMinor);
      expect(sum(discounts) + placed.order.deliveryPointsDiscountMinor).toBe(points * 100);
      placed.order.lines.forEach((l, j) => {
        expect(l.pointsDiscountMinor).toBeLessThanOrEqual(l.netMinor);
        if (lines[j].onSale) expect(l.pointsDiscountMinor).toBe(0);
      });
      // The balance never binds here (each order is cancelled before the next): half the eligible amount does.
      expect(quote.maxPoints).toBe(Math.floor(Math.floor(quote.eligibleMinor / 2) / 100));
      await cancel(s, placed.order.orderId);
    }
    await s.expectBooksBalance();
  });
});

describe('place → pay → cancel', () => {
  it('a placed order holds its points for 7 days; cancelling it gives them back', async () => {
    const s = await shop();
    const memberId = await s.member('c1');
    await s.give(memberId, 3_000);
    const placed = await h.services.orders.placeOrder(s.server, placeInput(memberId, { points: 1_500 }));
    const [auth] = await h.orm.em.fork().execute('select expires_at, reference from "authorization" where id = ?', [placed.order.authorizationId]);
    expect(new Date(auth.expires_at).getTime() - h.clock.now().getTime()).toBe(ORDER_AUTHORIZATION_TTL_SECONDS * 1000);
    expect(auth.reference).toBe(placed.order.orderId);
    const cancelled = await cancel(s, placed.order.orderId);
    expect(cancelled.order).toMatchObject({ status: 'cancelled', pointsReturned: 1_500 });
    expect(cancelled.account).toMatchObject({ available: 3_000, reserved: 0 });
    await s.expectBooksBalance();
  });

  it('a paid order cancelled: the points paid with come back, what it earned goes, the books balance', async () => {
    const s = await shop();
    const memberId = await s.member('c2');
    await s.give(memberId, 5_000);
    const start = await s.account(memberId);
    const placed = await h.services.orders.placeOrder(s.server, placeInput(memberId, { points: 2_000 }));
    await pay(s, placed.order.orderId);
    expect(await s.account(memberId)).toMatchObject({ available: 3_400 });
    const cancelled = await cancel(s, placed.order.orderId);
    expect(cancelled.order).toMatchObject({ status: 'cancelled', pointsReturned: 2_000, pointsTakenBack: 400 });
    expect(cancelled.account).toMatchObject({ available: 5_000, reserved: 0, debt: 0 });
    expect(await s.account(memberId)).toEqual(start);
    const reversals = await h.orm.em.fork().execute(
      `select kind, amount, cause_type, cause_id from ledger_entry e join account a on a.id = e.account_id
       where a.member_id = ? and e.kind = 'reversal' order by e.id`,
      [memberId],
    );
    expect(reversals.map((r: any) => [r.amount, r.cause_type, r.cause_id])).toEqual([
      [2_000, 'order', placed.order.orderId],
      [-400, 'order', placed.order.orderId],
    ]);
    await s.expectBooksBalance();
  });

  it('an authorization that ran out cannot be paid; the order can still be cancelled', async () => {
    const s = await shop();
    const memberId = await s.member('c3');
    await s.give(memberId, 1_000);
    const placed = await h.services.orders.placeOrder(s.server, placeInput(memberId, { points: 500 }));
    h.clock.advance(ORDER_AUTHORIZATION_TTL_SECONDS * 1000 + 1);
    await expect(pay(s, placed.order.orderId)).rejects.toMatchObject({ code: 'AUTHORIZATION_EXPIRED' });
    // The release job gives the points back; the order stays placed until the shop cancels it.
    const jobs = new LedgerJobs(h.database, h.services.ledger);
    expect((await jobs.releaseStaleAuthorizations(h.clock.now())).authorizations).toBeGreaterThanOrEqual(1);
    expect(await s.account(memberId)).toMatchObject({ available: 1_000, reserved: 0 });
    await expect(pay(s, placed.order.orderId)).rejects.toMatchObject({ code: 'AUTHORIZATION_EXPIRED' });
    const cancelled = await cancel(s, placed.order.orderId);
    expect(cancelled.order).toMatchObject({ status: 'cancelled', pointsReturned: 500 });
    expect(cancelled.account).toMatchObject({ available: 1_000, reserved: 0 });
    await s.expectBooksBalance();
  });
});

describe('returning lines', () => {
  const lines: OrderLineInput[] = [
    { sku: 'SHIRT', unitPriceMinor: 300_000, quantity: 3 }, // 9 000
    { sku: 'CAP', unitPriceMinor: 100_000, quantity: 1 }, // 1 000
  ];

  async function paidOrder(s: Shop, memberId: string, points: number) {
    const placed = await h.services.orders.placeOrder(s.server, placeInput(memberId, { lines, points }));
    return (await pay(s, placed.order.orderId)).order;
  }

  it('gives back the returned lines\' points discount and takes back their share of what was earned, rounding down', async () => {
    const s = await shop();
    const memberId = await s.member('r1');
    await s.give(memberId, 2_000);
    const order = await paidOrder(s, memberId, 2_000);
    // 2 000 points = 200 000 split 9:1 → 180 000 and 20 000. Money paid: 720 000 + 80 000 → earned 400.
    expect(order.lines.map((l) => [l.pointsDiscountMinor, l.earnBaseMinor])).toEqual([[180_000, 720_000], [20_000, 80_000]]);
    expect(order.pointsEarned).toBe(400);

    const first = await refund(s, order.orderId, [{ sku: 'SHIRT', quantity: 1 }]);
    // One shirt of three: 60 000 of discount → 600 points back; 240 000 of 800 000 earning base → 120 of 400 taken back.
    expect(first.refund).toMatchObject({ pointsReturned: 600, pointsTakenBack: 120, lines: [{ lineIndex: 0, sku: 'SHIRT', quantity: 1 }] });
    expect(first.order).toMatchObject({ status: 'partially_refunded', pointsReturned: 600, pointsTakenBack: 120 });
    expect(first.account.available).toBe(400 + 600 - 120);

    const second = await refund(s, order.orderId, [{ lineIndex: 1, quantity: 1 }]);
    // The cap: 20 000 → 200 points; 80 000 of the base → 40 points.
    expect(second.refund).toMatchObject({ pointsReturned: 200, pointsTakenBack: 40 });
    await s.expectBooksBalance();

    const last = await refund(s, order.orderId, [{ lineIndex: 0, quantity: 2 }]);
    expect(last.order).toMatchObject({ status: 'refunded', pointsReturned: 2_000, pointsTakenBack: 400 });
    expect(last.account).toMatchObject({ available: 2_000, debt: 0 });
    await s.expectBooksBalance();
  });

  it('returning every line, in several refunds, ends where cancelling ends', async () => {
    const s = await shop();
    const [a, b] = [await s.member('twin-a'), await s.member('twin-b')];
    for (const m of [a, b]) await s.give(m, 5_000);
    const odd: OrderLineInput[] = [
      { sku: 'A', unitPriceMinor: 123_457, quantity: 7 },
      { sku: 'B', unitPriceMinor: 98_761, quantity: 3 },
      { sku: 'C', unitPriceMinor: 55_555, quantity: 1 },
    ];
    const place = async (m: string) => {
      const placed = await h.services.orders.placeOrder(s.server, placeInput(m, { lines: odd, points: 1_777, deliveryMinor: 0 }));
      return (await pay(s, placed.order.orderId)).order;
    };
    const [orderA, orderB] = [await place(a), await place(b)];
    for (const [lineIndex, quantity] of [[0, 2], [1, 1], [0, 3], [2, 1], [1, 2], [0, 2]]) {
      await refund(s, orderA.orderId, [{ lineIndex, quantity }]);
    }
    await cancel(s, orderB.orderId);
    const [refunded, cancelled] = [await h.services.orders.getOrder(s.server, orderA.orderId), await h.services.orders.getOrder(s.server, orderB.orderId)];
    expect(refunded!.status).toBe('refunded');
    expect([refunded!.pointsReturned, refunded!.pointsTakenBack]).toEqual([cancelled!.pointsReturned, cancelled!.pointsTakenBack]);
    expect(await s.account(a)).toEqual(await s.account(b));
    expect(await s.account(a)).toMatchObject({ available: 5_000, debt: 0 });
    await s.expectBooksBalance();
  });

  it('takes back the referrer\'s award proportionally too', async () => {
    const s = await shop();
    const referrerId = await s.member('r-ref');
    const memberId = await s.member('r-pupil', 'r-ref');
    const order = await paidOrder(s, memberId, 0);
    expect(order.awards.find((a) => a.memberId === referrerId)!.points).toBe(50);
    await refund(s, order.orderId, [{ lineIndex: 0, quantity: 1 }]); // 3 000 of 10 000 → 15 of 50
    expect((await s.account(referrerId)).available).toBe(35);
    await refund(s, order.orderId, [{ lineIndex: 0, quantity: 2 }, { lineIndex: 1, quantity: 1 }]);
    expect((await s.account(referrerId)).available).toBe(0);
    await s.expectBooksBalance();
  });
});

describe('earned points already spent', () => {
  async function spentAfterEarning(s: Shop, name: string, spend: number) {
    const memberId = await s.member(name);
    const placed = await h.services.orders.placeOrder(s.server, placeInput(memberId));
    await pay(s, placed.order.orderId); // +500
    await h.services.ledger.redeem(s.server, { member: { id: memberId }, points: spend, idempotencyKey: key('spend') });
    return { memberId, orderId: placed.order.orderId };
  }

  it('take_available (the default): takes what is left and forgives the rest', async () => {
    const s = await shop();
    const { memberId, orderId } = await spentAfterEarning(s, 'p1', 300);
    const cancelled = await cancel(s, orderId);
    expect(cancelled.account).toMatchObject({ available: 0, debt: 0 });
    const [reversal] = await h.orm.em.fork().execute(
      `select amount, reason from ledger_entry e join account a on a.id = e.account_id where a.member_id = ? and e.kind = 'reversal'`,
      [memberId],
    );
    expect(reversal.amount).toBe(-200);
    expect(reversal.reason).toContain('300 already spent points forgiven');
    await s.expectBooksBalance();
  });

  it('allow_debt: the rest is owed, and later points repay it first', async () => {
    const s = await shop({ negativeBalancePolicy: NegativeBalancePolicy.ALLOW_DEBT });
    const { memberId, orderId } = await spentAfterEarning(s, 'p2', 300);
    const cancelled = await cancel(s, orderId);
    expect(cancelled.account).toMatchObject({ available: 0, debt: 300 });
    await s.expectBooksBalance();
    // Nothing to spend while in debt.
    const quote = await h.services.orders.checkoutQuote(s.server, { order: { member: { id: memberId }, lines: TEN_THOUSAND } });
    expect(quote.maxPoints).toBe(0);

    await s.give(memberId, 100);
    expect(await s.account(memberId)).toMatchObject({ available: 0, debt: 200 });
    // A paid order's earnings repay it too: 500 earned, 200 to the debt.
    const next = await h.services.orders.placeOrder(s.server, placeInput(memberId));
    expect((await pay(s, next.order.orderId)).account).toMatchObject({ available: 300, debt: 0 });
    const repayments = await h.orm.em.fork().execute(
      `select amount, delta_available, delta_debt from ledger_entry e join account a on a.id = e.account_id
       where a.member_id = ? and e.kind = 'debt_repayment' order by e.id`,
      [memberId],
    );
    expect(repayments).toEqual([
      { amount: 0, delta_available: -100, delta_debt: -100 },
      { amount: 0, delta_available: -200, delta_debt: -200 },
    ]);
    await s.expectBooksBalance();
  });

  it('allow_debt on a partial return: only the returned share becomes debt', async () => {
    const s = await shop({ negativeBalancePolicy: NegativeBalancePolicy.ALLOW_DEBT });
    const { memberId, orderId } = await spentAfterEarning(s, 'p3', 500);
    // BOOTS is a third of the order: 166 of the 500 earned points.
    const first = await refund(s, orderId, [{ sku: 'BOOTS', quantity: 1 }]);
    expect(first.account).toMatchObject({ available: 0, debt: 166 });
    const rest = await refund(s, orderId, [{ sku: 'SOCKS', quantity: 3 }, { sku: 'BALL', quantity: 1 }]);
    expect(rest.account).toMatchObject({ available: 0, debt: 500 });
    await s.expectBooksBalance();
  });

  it('pending points (a return window) are taken from the pending lot itself', async () => {
    const s = await shop({ pendingDays: 14 });
    const memberId = await s.member('p4');
    const placed = await h.services.orders.placeOrder(s.server, placeInput(memberId));
    expect((await pay(s, placed.order.orderId)).account).toMatchObject({ available: 0, pending: 500 });
    expect((await cancel(s, placed.order.orderId)).account).toMatchObject({ available: 0, pending: 0, debt: 0 });
    await s.expectBooksBalance();
  });
});

describe('idempotency and impossible transitions', () => {
  it('the same payOrder sent six times at once pays once, and every call gets the first answer', async () => {
    const s = await shop();
    const memberId = await s.member('i3');
    await s.give(memberId, 3_000);
    const input = placeInput(memberId, { points: 1_000 });
    await h.services.orders.placeOrder(s.server, input);
    // The calls wait for the key's turn; each then sees the first one's answer, never the order
    // already paid (INVALID_STATE) or a key taken (a retry).
    // (Fewer calls than the harness's 10 connections: the first call's rules may load on another.)
    const answers = await Promise.all(Array.from({ length: 6 }, () => pay(s, input.orderId, 'pay-i3')));
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(answers[0].order.status).toBe('paid');
    const entries = await s.entries();
    expect(await pay(s, input.orderId, 'pay-i3')).toEqual(answers[0]);
    expect(await s.entries()).toBe(entries);
    expect(await s.account(memberId)).toMatchObject({ reserved: 0, lifetimeRedeemed: 1_000 });
    await s.expectBooksBalance();
  });

  it('replays each step with its key, and refuses the same key with other input', async () => {
    const s = await shop();
    const memberId = await s.member('i1');
    await s.give(memberId, 3_000);
    const input = placeInput(memberId, { points: 1_000 });
    const placed = await h.services.orders.placeOrder(s.server, input);
    const entries = await s.entries();
    expect(await h.services.orders.placeOrder(s.server, input)).toEqual(placed);
    await expect(h.services.orders.placeOrder(s.server, { ...input, points: 999 })).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });

    const paid = await pay(s, input.orderId, 'pay-i1');
    expect(await pay(s, input.orderId, 'pay-i1')).toEqual(paid);
    const returned = await refund(s, input.orderId, [{ lineIndex: 0, quantity: 1 }], 'refund-i1');
    expect(await refund(s, input.orderId, [{ lineIndex: 0, quantity: 1 }], 'refund-i1')).toEqual(returned);
    await expect(refund(s, input.orderId, [{ lineIndex: 2, quantity: 1 }], 'refund-i1')).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    const afterRefund = await s.entries();
    expect(afterRefund).toBeGreaterThan(entries);

    const s2 = await shop();
    const other = await s2.member('i2');
    const order2 = await h.services.orders.placeOrder(s2.server, placeInput(other));
    const cancelled = await cancel(s2, order2.order.orderId, 'cancel-i2');
    expect(await cancel(s2, order2.order.orderId, 'cancel-i2')).toEqual(cancelled);
    expect(await s.entries()).toBe(afterRefund);
  });

  it('refuses what the order\'s state does not allow, with a clear code, and writes nothing', async () => {
    const s = await shop();
    const memberId = await s.member('i3');
    await s.give(memberId, 3_000);
    const input = placeInput(memberId, { points: 100 });
    await h.services.orders.placeOrder(s.server, input);
    const before = await s.entries();

    await expect(h.services.orders.placeOrder(s.server, { ...input, idempotencyKey: key() })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(refund(s, input.orderId, [{ lineIndex: 0, quantity: 1 }])).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await pay(s, input.orderId);
    const paidEntries = await s.entries();
    await expect(pay(s, input.orderId)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(refund(s, input.orderId, [{ lineIndex: 0, quantity: 2 }])).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('1 of 1 left to return'),
    });
    await expect(refund(s, input.orderId, [{ sku: 'NOPE', quantity: 1 }])).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(refund(s, input.orderId, [{ lineIndex: 7, quantity: 1 }])).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    // A line that does not exist is named as such, even with a SKU; a SKU that is not the line's names both.
    await expect(refund(s, input.orderId, [{ lineIndex: 7, sku: 'NOPE', quantity: 1 }])).rejects.toMatchObject({
      message: 'lines[0]: the order has no line 7', details: { field: 'lines[0].lineIndex' },
    });
    const lineZero = (await h.services.orders.getOrder(s.server, input.orderId))!.lines[0]!.sku;
    await expect(refund(s, input.orderId, [{ lineIndex: 0, sku: 'NOPE', quantity: 1 }])).rejects.toMatchObject({
      message: `lines[0]: line 0 is SKU ${lineZero}, not NOPE`, details: { field: 'lines[0].sku' },
    });
    await refund(s, input.orderId, [{ lineIndex: 1, quantity: 1 }]);
    await expect(cancel(s, input.orderId)).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringContaining('refundOrderLines') });
    await expect(refund(s, input.orderId, [{ lineIndex: 1, quantity: 3 }])).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await refund(s, input.orderId, [{ lineIndex: 0, quantity: 1 }, { lineIndex: 1, quantity: 2 }, { lineIndex: 2, quantity: 1 }]);
    const refundedEntries = await s.entries();
    await expect(refund(s, input.orderId, [{ lineIndex: 0, quantity: 1 }])).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(cancel(s, input.orderId)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(pay(s, 'no-such-order')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await s.entries()).toBe(refundedEntries);
    expect(paidEntries).toBeGreaterThan(before);

    const second = placeInput(memberId);
    await h.services.orders.placeOrder(s.server, second);
    await cancel(s, second.orderId);
    await expect(cancel(s, second.orderId)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(pay(s, second.orderId)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await s.expectBooksBalance();
  });
});

describe('concurrency', () => {
  it('paying and cancelling one order at once: one wins, the books stay right', async () => {
    const s = await shop();
    const memberId = await s.member('race');
    await s.give(memberId, 20_000);
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const input = placeInput(memberId, { points: 1_000 + i });
      await h.services.orders.placeOrder(s.server, input);
      const [paid, cancelled] = await together(() => pay(s, input.orderId), () => cancel(s, input.orderId));
      expect(cancelled.status).toBe('fulfilled');
      outcomes.push(paid.status === 'fulfilled' ? 'paid then cancelled' : (paid.reason as { code: string }).code);
      expect((await h.services.orders.getOrder(s.server, input.orderId))!.status).toBe('cancelled');
    }
    expect(outcomes.every((o) => o === 'paid then cancelled' || o === 'INVALID_STATE')).toBe(true);
    expect(await s.account(memberId)).toMatchObject({ available: 20_000, reserved: 0, debt: 0 });
    await s.expectBooksBalance();
  });

  it('the same order placed twice at once with two keys: one order, one authorization', async () => {
    const s = await shop();
    const memberId = await s.member('race-2');
    await s.give(memberId, 5_000);
    const input = placeInput(memberId, { points: 2_000 });
    const results = await together(
      () => h.services.orders.placeOrder(s.server, input),
      () => h.services.orders.placeOrder(s.server, { ...input, idempotencyKey: key() }),
    );
    expect(results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code)).sort()).toEqual(['CONFLICT', 'ok']);
    expect(await s.account(memberId)).toMatchObject({ available: 3_000, reserved: 2_000 });
    await s.expectBooksBalance();
  });
});

describe('events', () => {
  it('publishes every touched account\'s changes after commit, and nothing for a refused write', async () => {
    const s = await shop();
    const referrerId = await s.member('ev-ref');
    const memberId = await s.member('ev-pupil', 'ev-ref');
    const placed = await h.services.orders.placeOrder(s.server, placeInput(memberId));
    await h.publishOutbox(); // what earlier steps wrote
    const before = h.published.length;
    await pay(s, placed.order.orderId);
    await h.publishOutbox();
    const touched = h.published.slice(before).map((e) => e.id);
    expect(new Set(touched)).toEqual(new Set([memberId, referrerId]));
    const afterPay = h.published.length;
    await expect(pay(s, placed.order.orderId)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await h.publishOutbox();
    expect(h.published.length).toBe(afterPay);
  });
});
