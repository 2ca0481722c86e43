import { OrderBenefit } from '../../src/entities/order';
import { RuleStatus } from '../../src/entities/rule';
import type { ProgramSettings } from '../../src/entities/program';
import { LedgerAudit } from '../../src/services/ledger';
import type { OrderLineInput, PlaceOrderInput } from '../../src/services/orders';
import type { TierStructureInput } from '../../src/services/tiers';
import { testContext } from '../support/context';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/**
 * T4 against a real PostgreSQL: per order the shop takes the member's tier discount instead of
 * points. Each test runs in a shop of its own: 20 % of an order payable with points, 5 % back on
 * every paid order, 50 points to the referrer of an order of 1 000, and three levels by money
 * paid (standard 0 %, silver 3 %, gold 7.5 %).
 */

let h: RulesHarness;
let seq = 0;
const key = (prefix = 'k') => `${prefix}-${++seq}`;
const START = new Date('2026-04-01T09:00:00Z');

beforeAll(async () => {
  h = await rulesHarness(START);
});
afterAll(() => h.close());

const LEVELS: TierStructureInput['levels'] = [
  { code: 'standard', name: 'Standard', threshold: 0 },
  { code: 'silver', name: 'Silver', threshold: 100_000, discountPercent: 3 },
  { code: 'gold', name: 'Gold', threshold: 500_000, discountPercent: 7.5 },
];

async function shop(settings: Partial<ProgramSettings> = {}, withTiers = true) {
  const { program } = await h.services.programs.createProgram(h.admin, { name: key('shop'), maxRedeemPercent: 20, timeZone: 'UTC', ...settings });
  const programId = program.id;
  const admin = testContext(programId, 'admin', 'admin');
  const server = testContext(programId, 'server', 'storefront');
  await h.services.rules.createRule(admin, {
    name: '5 % of every paid order',
    status: RuleStatus.ACTIVE,
    definition: { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }] },
  });
  await h.services.rules.createRule(admin, {
    name: 'Referrer: 50 for an order of 1 000',
    status: RuleStatus.ACTIVE,
    definition: { trigger: 'order_paid', condition: { condition: 'orderTotal', args: { min: 100_000 } }, actions: [{ code: 'rewardReferrer', args: { points: 50 } }] },
  });
  if (withTiers) {
    await h.services.tiers.saveStructure(admin, { metric: 'spend', window: 'lifetime', downgradePolicy: 'to_earned', graceDays: 30, levels: LEVELS });
  }
  const orders = h.services.orders;
  const place = (memberId: string, lines: OrderLineInput[], extra: Partial<PlaceOrderInput> = {}) =>
    orders.placeOrder(server, { orderId: key('order'), member: { id: memberId }, lines, idempotencyKey: key('place'), ...extra });
  return {
    programId,
    server,
    async member(referrerExternalId?: string) {
      const externalId = key('m');
      return { id: (await h.services.members.upsert(server, { externalId, referrerExternalId })).member.id, externalId };
    },
    place,
    pay: (orderId: string) => orders.payOrder(server, { orderId, idempotencyKey: key('pay') }),
    cancel: (orderId: string) => orders.cancelOrder(server, { orderId, idempotencyKey: key('cancel') }),
    refund: (orderId: string, sku: string, quantity: number) =>
      orders.refundOrderLines(server, { orderId, idempotencyKey: key('refund'), lines: [{ sku, quantity }] }),
    quote: (memberId: string, lines: OrderLineInput[], deliveryMinor?: number) =>
      orders.checkoutQuote(server, { order: { member: { id: memberId }, lines, deliveryMinor } }),
    /** An order with points, paid: how a member reaches a tier. */
    async paidOrder(memberId: string, priceMinor: number) {
      const { order } = await place(memberId, [{ sku: 'warm-up', unitPriceMinor: priceMinor, quantity: 1 }]);
      await orders.payOrder(server, { orderId: order.orderId, idempotencyKey: key('pay') });
    },
    tier: async (memberId: string) => (await h.services.tiers.tierStatus(programId, { id: memberId }))!,
    spend: (memberId: string) => h.count('select coalesce(sum(paid_minor), 0) from member_spend where member_id = ?', [memberId]),
    balance: (memberId: string) => h.balance(memberId),
    async expectBooksBalance() {
      expect(await new LedgerAudit(h.database).verifyLedger({ programId })).toMatchObject({ ok: true, discrepancies: [] });
    },
  };
}

const BASKET: OrderLineInput[] = [
  { sku: 'coat', unitPriceMinor: 12_345, quantity: 1 },
  { sku: 'gloves', unitPriceMinor: 23_456, quantity: 2 },
  { sku: 'boots', unitPriceMinor: 45_743, quantity: 1, discountMinor: 5_000 },
  { sku: 'sale-bag', unitPriceMinor: 10_000, quantity: 1, onSale: true },
  { sku: 'gift-card', unitPriceMinor: 5_000, quantity: 1, giftCard: true },
];

describe('checkoutQuote: both options', () => {
  it('shows the points option and, beside it, the tier discount split per line exactly like points', async () => {
    const s = await shop();
    const anna = await s.member();
    await s.paidOrder(anna.id, 100_000); // silver: 3 %
    const quote = await s.quote(anna.id, BASKET, 1_000);

    // Points: 5 000 of the 100 000 paid came back as 50 points.
    expect(quote).toMatchObject({ availablePoints: 50, maxPoints: 50, eligibleMinor: 100_000, orderTotalMinor: 116_000 });
    expect(quote.pointsToEarn).toBeGreaterThan(0);
    // The discount: 3 % of the 100 000 points may pay for (not the sale bag, the gift card or delivery).
    // Exact shares 370.35, 1 407.36, 1 222.29: 2 999 by the floors, the last unit to the largest remainder (gloves).
    expect(quote.tierDiscount).toEqual({
      tierCode: 'silver',
      percent: 3,
      eligibleMinor: 100_000,
      totalDiscountMinor: 3_000,
      totalPayableMinor: 116_000 - 3_000,
      lines: [
        { index: 0, sku: 'coat', discountMinor: 370, payableMinor: 11_975 },
        { index: 1, sku: 'gloves', discountMinor: 1_408, payableMinor: 45_504 },
        { index: 2, sku: 'boots', discountMinor: 1_222, payableMinor: 39_521 },
        { index: 3, sku: 'sale-bag', discountMinor: 0, payableMinor: 10_000 },
        { index: 4, sku: 'gift-card', discountMinor: 0, payableMinor: 5_000 },
      ],
      delivery: { priceMinor: 1_000, discountMinor: 0, payableMinor: 1_000 },
      pointsToEarn: 0,
    });
  });

  it('discounts delivery too when the program lets points pay for it, and takes two decimals of a percent', async () => {
    const s = await shop({ deliveryEligible: true });
    const boris = await s.member();
    await s.paidOrder(boris.id, 500_000); // gold: 7.5 %
    const { tierDiscount } = await s.quote(boris.id, [{ sku: 'tent', unitPriceMinor: 99_999, quantity: 1 }], 1_001);
    // 7.5 % of 101 000 = 7 575: 7 499.93 and 75.07 → 7 499 and 75, the unit left to the tent.
    expect(tierDiscount).toMatchObject({
      tierCode: 'gold', percent: 7.5, eligibleMinor: 101_000, totalDiscountMinor: 7_575, totalPayableMinor: 101_000 - 7_575,
      lines: [{ sku: 'tent', discountMinor: 7_500, payableMinor: 92_499 }],
      delivery: { priceMinor: 1_001, discountMinor: 75, payableMinor: 926 },
    });
  });

  it('has no tier discount option for a member whose tier gives none, or in a program without tiers', async () => {
    const s = await shop();
    const vera = await s.member();
    expect((await s.tier(vera.id)).tier!.code).toBe('standard');
    expect((await s.quote(vera.id, BASKET)).tierDiscount).toBeNull();
    const plain = await shop({}, false);
    const gleb = await plain.member();
    expect((await plain.quote(gleb.id, BASKET)).tierDiscount).toBeNull();
  });
});

describe('placeOrder with the tier discount', () => {
  it('stores the quoted discount on the lines; paying earns nothing but the money counts for spend and the tier', async () => {
    const s = await shop();
    const referrer = await s.member();
    const dana = await s.member(referrer.externalId);
    await s.paidOrder(dana.id, 100_000); // silver; 50 points, 50 to the referrer
    const before = { dana: await s.balance(dana.id), referrer: await s.balance(referrer.id), spend: await s.spend(dana.id) };
    const entries = () =>
      h.count('select count(*) from ledger_entry e join account a on a.id = e.account_id where a.member_id in (?, ?)', [dana.id, referrer.id]);
    const entriesBefore = await entries();
    const lines: OrderLineInput[] = [
      { sku: 'kayak', unitPriceMinor: 380_000, quantity: 1 },
      { sku: 'paddle', unitPriceMinor: 20_001, quantity: 2 },
      { sku: 'sale-vest', unitPriceMinor: 10_000, quantity: 1, onSale: true },
    ];
    const quoted = (await s.quote(dana.id, lines)).tierDiscount!;

    const placed = await s.place(dana.id, lines, { benefit: OrderBenefit.TIER_DISCOUNT });
    const order = placed.order;
    expect(order).toMatchObject({
      status: 'placed', benefit: 'tier_discount', tierCode: 'silver', tierDiscountPercent: 3, pointsRedeemed: 0, authorizationId: null,
      tierDiscountMinor: quoted.totalDiscountMinor, deliveryTierDiscountMinor: 0,
      totalMinor: 430_002 - quoted.totalDiscountMinor, payableMinor: quoted.totalPayableMinor,
    });
    expect(quoted.totalDiscountMinor).toBe(12_600); // 3 % of 420 002, rounded down
    expect(order.lines.map((l) => [l.sku, l.discountMinor, l.tierDiscountMinor, l.netMinor, l.pointsDiscountMinor, l.payableMinor, l.earnBaseMinor])).toEqual(
      quoted.lines.map((q) => [q.sku, 0, q.discountMinor, q.payableMinor, 0, q.payableMinor, 0]),
    );
    expect(placed.account.reserved).toBe(0);

    const paid = await s.pay(order.orderId);
    expect(paid.order).toMatchObject({ status: 'paid', benefit: 'tier_discount', pointsEarned: 0, awards: [] });
    // Nothing earned, by the member or the referrer, whatever the rules say.
    expect(await s.balance(dana.id)).toEqual(before.dana);
    expect(await s.balance(referrer.id)).toEqual(before.referrer);
    expect(await h.count('select count(*) from shop_order_award a join shop_order o on o.id = a.order_id where o.order_id = ?', [order.orderId])).toBe(0);
    expect(await entries()).toBe(entriesBefore);
    expect(await h.count("select count(*) from earned_source where source_type = 'order' and source_id = ?", [order.orderId])).toBe(0);
    // The money paid counts: cumulative spend, and tier qualification — 100 000 + 417 402 reaches gold.
    const paidMoney = 430_002 - 12_600;
    expect(await s.spend(dana.id)).toBe(before.spend + paidMoney);
    const status = await s.tier(dana.id);
    expect(status).toMatchObject({ tier: { code: 'gold' }, qualifyingAmount: 100_000 + paidMoney });
    // The order read back is the order paid.
    expect(await h.services.orders.getOrder(s.server, order.orderId)).toEqual(paid.order);
    await s.expectBooksBalance();
  });

  it('is idempotent like every write: a retry replays it, the other benefit under the same key is a conflict', async () => {
    const s = await shop();
    const emil = await s.member();
    await s.paidOrder(emil.id, 100_000);
    const input: PlaceOrderInput = {
      orderId: key('order'), member: { id: emil.id }, lines: BASKET, benefit: OrderBenefit.TIER_DISCOUNT, idempotencyKey: key('place'),
    };
    const first = await h.services.orders.placeOrder(s.server, input);
    expect(await h.services.orders.placeOrder(s.server, input)).toEqual(first);
    await expect(h.services.orders.placeOrder(s.server, { ...input, benefit: OrderBenefit.POINTS })).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    // Points are the default: naming them or leaving them out is the same request.
    const withPoints: PlaceOrderInput = { ...input, orderId: key('order'), benefit: undefined, idempotencyKey: key('place') };
    const placed = await h.services.orders.placeOrder(s.server, withPoints);
    expect(placed.order.benefit).toBe('points');
    expect(await h.services.orders.placeOrder(s.server, { ...withPoints, benefit: OrderBenefit.POINTS })).toEqual(placed);
  });

  it('takes points or the discount, never both; a member whose tier gives none is refused and nothing is written', async () => {
    const s = await shop();
    const fedor = await s.member();
    await s.paidOrder(fedor.id, 100_000); // silver, 50 points
    await expect(s.place(fedor.id, BASKET, { benefit: OrderBenefit.TIER_DISCOUNT, points: 10 })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT', details: expect.objectContaining({ field: 'points' }),
    });

    const galina = await s.member(); // standard: 0 %
    const orderId = key('order');
    const idempotencyKey = key('place');
    const tables = ['shop_order', 'shop_order_line', 'ledger_entry', 'authorization', 'idempotency_record', 'member_spend'];
    const counts = async () => Promise.all(tables.map((t) => h.count(`select count(*) from "${t}"`)));
    const before = await counts();
    await expect(s.place(galina.id, BASKET, { orderId, idempotencyKey, benefit: OrderBenefit.TIER_DISCOUNT })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT', details: expect.objectContaining({ field: 'benefit', tierCode: 'standard' }),
    });
    expect(await counts()).toEqual(before);
    // The key stayed free: the same order with points goes through.
    expect((await s.place(galina.id, BASKET, { orderId, idempotencyKey })).order).toMatchObject({ orderId, benefit: 'points' });

    const plain = await shop({}, false);
    const hanna = await plain.member();
    await expect(plain.place(hanna.id, BASKET, { benefit: OrderBenefit.TIER_DISCOUNT })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT', details: expect.objectContaining({ field: 'benefit', tierCode: null }),
    });
  });
});

describe('cancel and returns of an order with the tier discount', () => {
  it('returns take the returned lines\' money out of the spend and the tier, and no points move', async () => {
    const s = await shop();
    const igor = await s.member();
    await s.paidOrder(igor.id, 100_000);
    const spend = await s.spend(igor.id);
    const balance = await s.balance(igor.id);
    const lines: OrderLineInput[] = [
      { sku: 'skis', unitPriceMinor: 300_000, quantity: 1 },
      { sku: 'poles', unitPriceMinor: 33_333, quantity: 3 },
    ];
    const { order } = await s.place(igor.id, lines, { benefit: OrderBenefit.TIER_DISCOUNT });
    // 3 % of 399 999 = 11 999: exact shares 8 999.02 and 2 999.97, the unit left to the poles.
    expect(order.lines.map((l) => [l.tierDiscountMinor, l.netMinor])).toEqual([[8_999, 291_001], [3_000, 96_999]]);
    await s.pay(order.orderId);
    expect(await s.spend(igor.id)).toBe(spend + 388_000);
    expect((await s.tier(igor.id)).qualifyingAmount).toBe(100_000 + 388_000);

    const returned = await s.refund(order.orderId, 'poles', 1);
    expect(returned.refund).toMatchObject({ pointsReturned: 0, pointsTakenBack: 0 });
    expect(returned.order).toMatchObject({ status: 'partially_refunded', pointsReturned: 0, pointsTakenBack: 0, awards: [] });
    // One pole of three: floor(96 999 / 3) = 32 333 of money leaves the spend and the tier's amount.
    expect(await s.spend(igor.id)).toBe(spend + 388_000 - 32_333);
    expect((await s.tier(igor.id)).qualifyingAmount).toBe(100_000 + 388_000 - 32_333);

    await s.refund(order.orderId, 'poles', 2);
    await s.refund(order.orderId, 'skis', 1);
    expect(await s.spend(igor.id)).toBe(spend);
    expect((await s.tier(igor.id)).qualifyingAmount).toBe(100_000);
    expect(await s.balance(igor.id)).toEqual(balance);
    await s.expectBooksBalance();
  });

  it('cancelling takes the money back out, paid or not, and leaves the points alone', async () => {
    const s = await shop();
    const julia = await s.member();
    await s.paidOrder(julia.id, 100_000);
    const spend = await s.spend(julia.id);
    const balance = await s.balance(julia.id);
    const lines: OrderLineInput[] = [{ sku: 'boat', unitPriceMinor: 450_000, quantity: 1 }];

    const placed = (await s.place(julia.id, lines, { benefit: OrderBenefit.TIER_DISCOUNT })).order;
    const unpaid = await s.cancel(placed.orderId);
    expect(unpaid.order).toMatchObject({ status: 'cancelled', pointsReturned: 0, tierDiscountMinor: 13_500 });

    const bought = (await s.place(julia.id, lines, { benefit: OrderBenefit.TIER_DISCOUNT })).order;
    await s.pay(bought.orderId);
    expect((await s.tier(julia.id)).tier!.code).toBe('gold'); // 100 000 + 436 500
    const cancelled = await s.cancel(bought.orderId);
    expect(cancelled.order).toMatchObject({ status: 'cancelled', pointsReturned: 0, pointsTakenBack: 0, awards: [] });
    expect(await s.spend(julia.id)).toBe(spend);
    expect(await s.tier(julia.id)).toMatchObject({ tier: { code: 'silver' }, qualifyingAmount: 100_000 });
    expect(await s.balance(julia.id)).toEqual(balance);
    await s.expectBooksBalance();
  });
});
