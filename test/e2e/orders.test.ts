import {
  CancelOrderDocument,
  CheckoutQuoteDocument,
  CreateRuleDocument,
  OrderDocument,
  PayOrderDocument,
  PlaceOrderDocument,
  RefundOrderLinesDocument,
  UpdateProgramSettingsDocument,
  type OrderItemInput,
} from './generated/graphql';
import { startTestServer, type TestServer } from '../support/server';
import { accrue, codesOf, createMember, createProgram, ok, uniqueKey, type ProgramFixture } from './helpers';

/** The order lifecycle over the real HTTP API, with the worked example's shop: 20 % cap, 5 % back for a month. */

let s: TestServer;
let shop: ProgramFixture;

beforeAll(async () => {
  s = await startTestServer();
  shop = await createProgram(s, { maxRedeemPercent: 20 });
  ok(await s.request(CreateRuleDocument, {
    input: {
      name: '5 % of every paid order',
      status: 'ACTIVE',
      definition: { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }], lifetimeDays: 30 },
    },
  }, shop.adminKey));
});
afterAll(() => s.close());

const lines: OrderItemInput[] = [
  { sku: 'BOOTS', category: 'shoes', unitPriceMinor: 700_000, quantity: 1 },
  { sku: 'SOCKS', category: 'apparel', unitPriceMinor: 50_000, quantity: 4 },
  { sku: 'CAP', unitPriceMinor: 100_000, quantity: 1 },
  { sku: 'SALE-BAG', unitPriceMinor: 200_000, quantity: 1, onSale: true },
];

test('quote → place → pay → cancel, with the books right at every step', async () => {
  const member = await createMember(s, shop.serverKey);
  await accrue(s, shop.serverKey, member.id, 5_000);
  const order = { orderId: uniqueKey('order'), member: { id: member.id }, lines, paymentMethod: 'card_online', channel: 'web' };

  const quote = ok(await s.request(CheckoutQuoteDocument, { order }, shop.serverKey)).checkoutQuote;
  // The sale bag is excluded: 20 % of the other 10 000 rubles.
  expect(quote).toMatchObject({ maxPoints: 2_000, limitedBy: 'SHARE', eligibleMinor: 1_000_000, orderTotalMinor: 1_200_000, currency: 'RUB' });
  expect(quote.lines.map((l) => l.discountMinor)).toEqual([140_000, 40_000, 20_000, 0]);
  expect(quote.lines[3]).toMatchObject({ redeemable: false, ineligibleReason: 'ON_SALE' });
  expect(quote.totalPayableMinor).toBe(1_000_000);
  // 5 % of the money paid for the lines the rule counts (it skips sale items): 8 000 → 400.
  expect(quote.pointsToEarn).toBe(400);

  const tooMany = await s.request(PlaceOrderDocument, { input: { ...order, points: 2_001, idempotencyKey: uniqueKey() } }, shop.serverKey);
  expect(codesOf(tooMany)).toEqual(['BAD_USER_INPUT']);
  // Named the way the quote names it.
  expect(tooMany.errors![0].extensions).toMatchObject({ field: 'points', requested: 2_001, maxPoints: 2_000, limitedBy: quote.limitedBy });

  const placeKey = uniqueKey('place');
  const placed = ok(await s.request(PlaceOrderDocument, { input: { ...order, points: 2_000, idempotencyKey: placeKey } }, shop.serverKey)).placeOrder;
  expect(placed.order).toMatchObject({ status: 'PLACED', pointsRedeemed: 2_000, payableMinor: 1_000_000 });
  expect(placed.account).toMatchObject({ available: 3_000, reserved: 2_000 });
  const replayed = ok(await s.request(PlaceOrderDocument, { input: { ...order, points: 2_000, idempotencyKey: placeKey } }, shop.serverKey));
  expect(replayed.placeOrder).toEqual(placed);

  const paid = ok(await s.request(PayOrderDocument, { input: { orderId: order.orderId, idempotencyKey: uniqueKey('pay') } }, shop.serverKey)).payOrder;
  expect(paid.order).toMatchObject({ status: 'PAID', pointsEarned: 400 });
  expect(paid.account).toMatchObject({ available: 3_400, reserved: 0, lifetimeRedeemed: 2_000, debt: 0 });

  const payAgain = await s.request(PayOrderDocument, { input: { orderId: order.orderId, idempotencyKey: uniqueKey('pay') } }, shop.serverKey);
  expect(codesOf(payAgain)).toEqual(['INVALID_STATE']);
  // The details speak the API's language: the status as order.status spells it.
  expect(payAgain.errors![0].extensions).toMatchObject({ orderId: order.orderId, status: 'PAID', wanted: 'PAID' });
  const placeAgain = await s.request(PlaceOrderDocument, { input: { ...order, idempotencyKey: uniqueKey('place') } }, shop.serverKey);
  expect(codesOf(placeAgain)).toEqual(['CONFLICT']);
  expect(placeAgain.errors![0].extensions).toMatchObject({ orderId: order.orderId, status: 'PAID' });

  const cancelled = ok(await s.request(CancelOrderDocument, { input: { orderId: order.orderId, reason: 'changed mind', idempotencyKey: uniqueKey('cancel') } }, shop.serverKey)).cancelOrder;
  expect(cancelled.order).toMatchObject({ status: 'CANCELLED', pointsReturned: 2_000, pointsTakenBack: 400 });
  expect(cancelled.account).toMatchObject({ available: 5_000, reserved: 0, debt: 0 });

  const read = ok(await s.request(OrderDocument, { orderId: order.orderId }, shop.adminKey)).order;
  expect(read).toEqual(cancelled.order);

  // The order's history, by its id: what it held, spent and earned, and each undone.
  const history = ok(await s.request<any, any>(
    'query($m: MemberRefInput!, $o: String!) { ledgerEntries(member: $m, filter: { orderId: $o }) { nodes { kind amount orderId } } }',
    { m: { id: member.id }, o: order.orderId }, shop.serverKey,
  )).ledgerEntries.nodes;
  expect(history.map((e: any) => [e.kind, e.amount])).toEqual([
    ['REVERSAL', -400], ['REVERSAL', 2_000], ['ACCRUAL', 400], ['CAPTURE', -2_000], ['AUTHORIZATION', 0],
  ]);
  expect(new Set(history.map((e: any) => e.orderId))).toEqual(new Set([order.orderId]));
  const all = ok(await s.request<any, any>('query($m: MemberRefInput!) { ledgerEntries(member: $m) { nodes { kind orderId } } }', { m: { id: member.id } }, shop.serverKey));
  expect(all.ledgerEntries.nodes.filter((e: any) => e.orderId === null).map((e: any) => e.kind)).toEqual(['ACCRUAL']);
  expect(ok(await s.request(OrderDocument, { orderId: 'no-such-order' }, shop.serverKey)).order).toBeNull();

  const verification = ok(await s.request<any, any>('query { verifyLedger { ok discrepancies { check } } }', undefined, shop.adminKey));
  expect(verification.verifyLedger).toEqual({ ok: true, discrepancies: [] });
});

test('returned lines over HTTP, with debt under ALLOW_DEBT', async () => {
  ok(await s.request(UpdateProgramSettingsDocument, { input: { negativeBalancePolicy: 'ALLOW_DEBT' } }, shop.adminKey));
  const member = await createMember(s, shop.serverKey);
  const order = { orderId: uniqueKey('order'), member: { id: member.id }, lines: lines.slice(0, 3) };
  ok(await s.request(PlaceOrderDocument, { input: { ...order, idempotencyKey: uniqueKey() } }, shop.serverKey));
  const paid = ok(await s.request(PayOrderDocument, { input: { orderId: order.orderId, idempotencyKey: uniqueKey() } }, shop.serverKey)).payOrder;
  expect(paid.account.available).toBe(500);
  // The member spends what the order earned before returning the boots.
  ok(await s.request('mutation($m: ID!, $k: String!) { redeem(input: { member: { id: $m }, points: 500, idempotencyKey: $k }) { entry { id } } }', { m: member.id, k: uniqueKey() }, shop.serverKey));

  const refunded = ok(await s.request(RefundOrderLinesDocument, {
    input: { orderId: order.orderId, lines: [{ sku: 'BOOTS', quantity: 1 }], idempotencyKey: uniqueKey('refund') },
  }, shop.serverKey)).refundOrderLines;
  // The boots were 7 000 of 10 000: 350 of the 500 points are owed.
  expect(refunded.refund).toMatchObject({ pointsReturned: 0, pointsTakenBack: 350 });
  expect(refunded.order).toMatchObject({ status: 'PARTIALLY_REFUNDED' });
  expect(refunded.order.lines[0].refundedQuantity).toBe(1);
  expect(refunded.account).toMatchObject({ available: 0, debt: 350 });

  const tooMany = await s.request(RefundOrderLinesDocument, {
    input: { orderId: order.orderId, lines: [{ sku: 'SOCKS', quantity: 3 }, { sku: 'CAP', quantity: 1 }, { sku: 'SOCKS', quantity: 2 }], idempotencyKey: uniqueKey() },
  }, shop.serverKey);
  expect(codesOf(tooMany)).toEqual(['BAD_USER_INPUT']);
  // Four socks were bought: the return that named them last is the one to fix.
  expect(tooMany.errors![0].extensions).toMatchObject({ field: 'lines[2].quantity' });
  const cancel = await s.request(CancelOrderDocument, { input: { orderId: order.orderId, idempotencyKey: uniqueKey() } }, shop.serverKey);
  expect(codesOf(cancel)).toEqual(['INVALID_STATE']);
});

test('customers cannot call the order API; bad input is refused with a code', async () => {
  const member = await createMember(s, shop.serverKey);
  const token = ok(await s.request('mutation($m: ID!) { issueCustomerToken(input: { member: { id: $m } }) { token } }', { m: member.id }, shop.serverKey)) as any;
  const asCustomer = await s.request(CheckoutQuoteDocument, { order: { member: { id: member.id }, lines } }, token.issueCustomerToken.token);
  expect(codesOf(asCustomer)).toEqual(['FORBIDDEN']);
  const badQuantity = await s.request(CheckoutQuoteDocument, { order: { member: { id: member.id }, lines: [{ sku: 'X', unitPriceMinor: 100, quantity: 0 }] } }, shop.serverKey);
  expect(codesOf(badQuantity)).toEqual(['BAD_USER_INPUT']);
  const otherCurrency = await s.request(CheckoutQuoteDocument, { order: { member: { id: member.id }, lines, currency: 'EUR' } }, shop.serverKey);
  expect(codesOf(otherCurrency)).toEqual(['BAD_USER_INPUT']);
});

test('an order rewarded by several rules: one entry per member, its breakdown naming each rule version, on the order and in the history', async () => {
  const two = await createProgram(s, { maxRedeemPercent: 20 });
  const rule = async (name: string, definition: Record<string, unknown>) =>
    ok(await s.request(CreateRuleDocument, { input: { name, status: 'ACTIVE', definition: { trigger: 'order_paid', ...definition } as never } }, two.adminKey)).createRule;
  const percent = await rule('5 % back', { actions: [{ code: 'percentOfAmount', args: { percent: 5 } }], lifetimeDays: 30 });
  const bonus = await rule('Bonus 100', { actions: [{ code: 'fixedPoints', args: { points: 100 } }], lifetimeDays: 90 });
  const member = await createMember(s, two.serverKey);
  const orderId = uniqueKey('order');
  ok(await s.request(PlaceOrderDocument, { input: { orderId, member: { id: member.id }, lines: lines.slice(0, 1), idempotencyKey: uniqueKey('place') } }, two.serverKey));
  ok(await s.request(PayOrderDocument, { input: { orderId, idempotencyKey: uniqueKey('pay') } }, two.serverKey));

  const parts = 'breakdown { points rule { id name version versionId } }';
  const read = ok(await s.request<any, any>(`query($orderId: String!) { order(orderId: $orderId) { pointsEarned awards { entryId points ${parts} } } }`, { orderId }, two.adminKey)).order;
  expect(read.pointsEarned).toBe(450);
  expect(read.awards).toHaveLength(1);
  const [award] = read.awards;
  const byRule = [...award.breakdown].sort((a: any, b: any) => b.points - a.points);
  expect(byRule).toEqual([
    { points: 350, rule: { id: percent.id, name: '5 % back', version: 1, versionId: expect.any(String) } },
    { points: 100, rule: { id: bonus.id, name: 'Bonus 100', version: 1, versionId: expect.any(String) } },
  ]);

  // The history: one accrual of 450, no single rule version, the same breakdown; two lots (30 and 90 days).
  const history = ok(await s.request<any, any>(
    `query($member: MemberRefInput) { ledgerEntries(member: $member, first: 10) { nodes { id amount lotId ruleVersionId rule { id } ${parts} } } }`,
    { member: { id: member.id } },
    two.adminKey,
  )).ledgerEntries.nodes;
  const [entry] = history.filter((e: any) => e.id === award.entryId);
  expect(entry).toMatchObject({ amount: 450, ruleVersionId: null, rule: null });
  expect(entry.breakdown).toEqual(award.breakdown);
  const lots = ok(await s.request<any, any>('query($member: MemberRefInput) { lots(member: $member, first: 10) { nodes { id amount } } }', { member: { id: member.id } }, two.adminKey)).lots.nodes;
  expect(lots.map((l: any) => l.amount).sort((a: number, b: number) => a - b)).toEqual([100, 350]);
});

test('the currency cannot change once the program has orders; before that it can', async () => {
  const fresh = await createProgram(s);
  const changed = ok(await s.request(UpdateProgramSettingsDocument, { input: { currency: 'USD' } }, fresh.adminKey)).updateProgramSettings;
  expect(changed.currency).toBe('USD');
  const member = await createMember(s, fresh.serverKey);
  const orderId = uniqueKey('order');
  ok(await s.request(PlaceOrderDocument, { input: { orderId, member: { id: member.id }, lines, idempotencyKey: uniqueKey() } }, fresh.serverKey));

  const refused = await s.request(UpdateProgramSettingsDocument, { input: { currency: 'EUR', name: 'Renamed' } }, fresh.adminKey);
  expect(codesOf(refused)).toEqual(['INVALID_STATE']);
  expect(refused.errors![0].message).toBe('The currency cannot change once the program has orders: their money is in USD');
  expect(refused.errors![0].extensions).toMatchObject({ field: 'currency', currency: 'USD' });
  // Nothing of the refused change was stored; the same currency, or other settings, may still be set.
  const after = ok(await s.request(UpdateProgramSettingsDocument, { input: { currency: 'USD', maxRedeemPercent: 40 } }, fresh.adminKey)).updateProgramSettings;
  expect(after).toMatchObject({ currency: 'USD', maxRedeemPercent: 40, name: changed.name });
  expect(ok(await s.request(OrderDocument, { orderId }, fresh.serverKey)).order!.currency).toBe('USD');
});
