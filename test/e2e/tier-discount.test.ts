import {
  CheckoutQuoteDocument, CreateRuleDocument, MemberTierDocument, OrderDocument, PayOrderDocument, PlaceOrderDocument, RefundOrderLinesDocument,
  SaveTierStructureDocument, type OrderItemInput,
} from './generated/graphql';
import { startTestServer, type TestServer } from '../support/server';
import { codesOf, createMember, createProgram, ok, uniqueKey, type ProgramFixture } from './helpers';

/**
 * T4 over the real HTTP API: the storefront quotes both options, places the order with the
 * member's tier discount instead of points, pays it (nothing earned, the money counts for the
 * tier) and returns a line.
 */

let s: TestServer;
let shop: ProgramFixture;

beforeAll(async () => {
  s = await startTestServer();
  shop = await createProgram(s, { maxRedeemPercent: 20, timeZone: 'UTC' });
  ok(await s.request(CreateRuleDocument, {
    input: { name: '5 % of every paid order', status: 'ACTIVE', definition: { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }] } },
  }, shop.adminKey));
  ok(await s.request(SaveTierStructureDocument, {
    input: {
      metric: 'SPEND', window: 'LIFETIME', downgradePolicy: 'TO_EARNED', graceDays: 30,
      levels: [
        { code: 'standard', name: 'Standard', threshold: 0 },
        { code: 'silver', name: 'Silver', threshold: 100_000, discountPercent: 5 },
        { code: 'gold', name: 'Gold', threshold: 300_000, discountPercent: 10 },
      ],
    },
  }, shop.adminKey));
});
afterAll(() => s.close());

const lines: OrderItemInput[] = [
  { sku: 'JACKET', unitPriceMinor: 150_001, quantity: 1 },
  { sku: 'SCARF', unitPriceMinor: 33_333, quantity: 3 },
  { sku: 'SALE-HAT', unitPriceMinor: 20_000, quantity: 1, onSale: true },
];

async function place(memberId: string, input: Record<string, unknown>) {
  const orderId = uniqueKey('order');
  return s.request(PlaceOrderDocument, { input: { orderId, member: { id: memberId }, lines, idempotencyKey: uniqueKey('place'), ...input } }, shop.serverKey);
}

test('quote both options, take the tier discount, pay without earning, return a line', async () => {
  const member = await createMember(s, shop.serverKey);
  // A standard member has no discount to take.
  expect(ok(await s.request(CheckoutQuoteDocument, { order: { member: { id: member.id }, lines } }, shop.serverKey)).checkoutQuote.tierDiscount).toBeNull();
  const refused = await place(member.id, { benefit: 'TIER_DISCOUNT' });
  expect(codesOf(refused)).toEqual(['BAD_USER_INPUT']);
  expect(refused.errors![0].extensions).toMatchObject({ field: 'benefit' });

  // 1 200 rubles with points: silver (5 %) and 60 points.
  const first = ok(await place(member.id, { lines: [{ sku: 'BOOTS', unitPriceMinor: 120_000, quantity: 1 }] })).placeOrder.order;
  expect(first.benefit).toBe('POINTS');
  ok(await s.request(PayOrderDocument, { input: { orderId: first.orderId, idempotencyKey: uniqueKey('pay') } }, shop.serverKey));

  const quote = ok(await s.request(CheckoutQuoteDocument, { order: { member: { id: member.id }, lines } }, shop.serverKey)).checkoutQuote;
  expect(quote).toMatchObject({ availablePoints: 60, maxPoints: 60, eligibleMinor: 250_000 });
  expect(quote.pointsToEarn).toBeGreaterThan(0);
  // 5 % of the 250 000 points may pay for (not the sale hat): 12 500, split 7 500 / 5 000 (exact 7 500.05 and 4 999.95).
  expect(quote.tierDiscount).toEqual({
    tierCode: 'silver', percent: 5, eligibleMinor: 250_000, totalDiscountMinor: 12_500, totalPayableMinor: 270_000 - 12_500,
    lines: [
      { index: 0, sku: 'JACKET', discountMinor: 7_500, payableMinor: 142_501 },
      { index: 1, sku: 'SCARF', discountMinor: 5_000, payableMinor: 94_999 },
      { index: 2, sku: 'SALE-HAT', discountMinor: 0, payableMinor: 20_000 },
    ],
    delivery: null,
    pointsToEarn: 0,
  });

  const both = await place(member.id, { benefit: 'TIER_DISCOUNT', points: 10 });
  expect(codesOf(both)).toEqual(['BAD_USER_INPUT']);
  expect(both.errors![0].extensions).toMatchObject({ field: 'points', benefit: 'TIER_DISCOUNT' });
  const input = { orderId: uniqueKey('order'), member: { id: member.id }, lines, benefit: 'TIER_DISCOUNT' as const, idempotencyKey: uniqueKey('place') };
  const placed = ok(await s.request(PlaceOrderDocument, { input }, shop.serverKey)).placeOrder;
  expect(placed.order).toMatchObject({
    benefit: 'TIER_DISCOUNT', tierCode: 'silver', tierDiscountPercent: 5, tierDiscountMinor: 12_500, pointsRedeemed: 0,
    totalMinor: 257_500, payableMinor: 257_500, authorizationId: null,
  });
  expect(placed.order.lines.map((l) => [l.tierDiscountMinor, l.netMinor, l.payableMinor])).toEqual(quote.tierDiscount!.lines.map((l) => [l.discountMinor, l.payableMinor, l.payableMinor]));
  expect(ok(await s.request(PlaceOrderDocument, { input }, shop.serverKey)).placeOrder).toEqual(placed);

  const paid = ok(await s.request(PayOrderDocument, { input: { orderId: input.orderId, idempotencyKey: uniqueKey('pay') } }, shop.serverKey)).payOrder;
  expect(paid.order).toMatchObject({ status: 'PAID', pointsEarned: 0, awards: [] });
  expect(paid.account.available).toBe(60);
  // 120 000 + 257 500 of money: gold.
  const tier = ok(await s.request(MemberTierDocument, { id: member.id }, shop.adminKey)).member!.tierStatus!;
  expect(tier).toMatchObject({ tier: { code: 'gold' }, qualifyingAmount: 377_500 });

  const refunded = ok(await s.request(RefundOrderLinesDocument, {
    input: { orderId: input.orderId, lines: [{ sku: 'JACKET', quantity: 1 }], idempotencyKey: uniqueKey('refund') },
  }, shop.serverKey)).refundOrderLines;
  expect(refunded.refund).toMatchObject({ pointsReturned: 0, pointsTakenBack: 0 });
  expect(refunded.account.available).toBe(60);
  const after = ok(await s.request(MemberTierDocument, { id: member.id }, shop.adminKey)).member!.tierStatus!;
  expect(after).toMatchObject({ tier: { code: 'silver' }, qualifyingAmount: 377_500 - 142_501 });
  expect(ok(await s.request(OrderDocument, { orderId: input.orderId }, shop.serverKey)).order).toEqual(refunded.order);
});
