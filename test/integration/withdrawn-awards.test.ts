import { RuleStatus } from '../../src/entities/rule';
import type { RuleDefinitionInput } from '../../src/services/earning';
import { LedgerAudit } from '../../src/services/ledger';
import type { OrderLineInput } from '../../src/services/orders';
import { testContext } from '../support/context';
import { rulesSuite } from '../support/rules-harness';

/**
 * What a cancelled order or returned lines undo no longer counts against the rules' limits: a
 * once-only rule rewards the member's next order, a per-member cap and a total budget get the
 * withdrawn points back — on quotes, dry runs and real payments alike.
 */

const suite = rulesSuite(new Date('2026-04-01T09:00:00Z'));
const key = suite.key;

const lines: OrderLineInput[] = [
  { sku: 'COAT', unitPriceMinor: 60_000, quantity: 1 },
  { sku: 'SOCKS', unitPriceMinor: 10_000, quantity: 4 },
];

async function shopWith(definition: RuleDefinitionInput) {
  const { program } = await suite.h.services.programs.createProgram(suite.h.admin, { name: key('shop') });
  const admin = testContext(program.id, 'admin', 'admin');
  const server = testContext(program.id, 'server', 'storefront');
  const ruleId = (await suite.h.services.rules.createRule(admin, { name: 'limited', status: RuleStatus.ACTIVE, definition })).id;
  const orders = suite.h.services.orders;
  const member = async () => (await suite.h.services.members.upsert(server, { externalId: key('m') })).member.id;
  const pay = async (memberId: string) => {
    const orderId = (await orders.placeOrder(server, { orderId: key('o'), member: { id: memberId }, lines, idempotencyKey: key() })).order.orderId;
    return orders.payOrder(server, { orderId, idempotencyKey: key() });
  };
  return {
    member,
    pay,
    /** Spends points for good (a redemption that stays). */
    spend: (memberId: string, points: number) => suite.h.services.ledger.redeem(server, { member: { id: memberId }, points, idempotencyKey: key() }),
    cancel: (orderId: string, idempotencyKey = key()) => orders.cancelOrder(server, { orderId, idempotencyKey }),
    returnLines: (orderId: string, sku: string, quantity: number, idempotencyKey = key()) =>
      orders.refundOrderLines(server, { orderId, lines: [{ sku, quantity }], idempotencyKey }),
    quote: async (memberId: string) => (await orders.checkoutQuote(server, { order: { member: { id: memberId }, lines } })).pointsToEarn,
    budgetUsed: async () => (await suite.h.services.rules.getRule(admin, ruleId))!.budgetUsed,
    verify: async () => expect((await new LedgerAudit(suite.h.database).verifyLedger({ programId: program.id })).discrepancies).toEqual([]),
  };
}

const fixed100 = (extra: Partial<RuleDefinitionInput>): RuleDefinitionInput =>
  ({ trigger: 'order_paid', actions: [{ code: 'fixedPoints', args: { points: 100 } }], ...extra }) as RuleDefinitionInput;

test('a once-only rule rewards the next order after the rewarded one was cancelled', async () => {
  const shop = await shopWith(fixed100({ oncePerMember: true }));
  const m = await shop.member();
  const first = await shop.pay(m);
  expect(first.order.pointsEarned).toBe(100);
  expect(await shop.quote(m)).toBe(0);
  await shop.cancel(first.order.orderId);
  expect(await shop.quote(m)).toBe(100);
  const second = await shop.pay(m);
  expect(second.order.pointsEarned).toBe(100);
  expect(second.account.available).toBe(100);
  // Once again: the reward stands, so a third order earns nothing.
  expect((await shop.pay(m)).order.pointsEarned).toBe(0);
  await shop.verify();
});

test('a once-only reward partly returned still counts as given', async () => {
  const shop = await shopWith(fixed100({ oncePerMember: true }));
  const m = await shop.member();
  const first = await shop.pay(m);
  await shop.returnLines(first.order.orderId, 'SOCKS', 2);
  expect(await shop.quote(m)).toBe(0);
  expect((await shop.pay(m)).order.pointsEarned).toBe(0);
});

test('a per-member cap gets back what returns or a cancel withdrew', async () => {
  const shop = await shopWith(fixed100({ caps: { perMemberPerDay: 150 } }));
  const m = await shop.member();
  const first = await shop.pay(m);
  expect(first.order.pointsEarned).toBe(100);
  expect(await shop.quote(m)).toBe(50);
  // The socks are 40 000 of the 100 000: 40 of the 100 points go back, and count no more.
  await shop.returnLines(first.order.orderId, 'SOCKS', 4);
  expect(await shop.quote(m)).toBe(90);
  // Every line back: nothing of the award counts, and the rule gives its full 100 again.
  await shop.returnLines(first.order.orderId, 'COAT', 1);
  expect(await shop.quote(m)).toBe(100);
  const second = await shop.pay(m);
  expect(second.order.pointsEarned).toBe(100);
  expect((await shop.pay(m)).order.pointsEarned).toBe(50);
  // A cancel withdraws the whole award.
  await shop.cancel(second.order.orderId);
  expect(await shop.quote(m)).toBe(100);
  await shop.verify();
});

test('a total budget gets back what cancels and returns withdrew, and other members can earn it', async () => {
  const shop = await shopWith(fixed100({ caps: { totalBudget: 150 } }));
  const [a, b] = [await shop.member(), await shop.member()];
  const first = await shop.pay(a);
  expect(await shop.budgetUsed()).toBe(100);
  await shop.returnLines(first.order.orderId, 'COAT', 1);
  expect(await shop.budgetUsed()).toBe(40);
  await shop.returnLines(first.order.orderId, 'SOCKS', 4);
  expect(await shop.budgetUsed()).toBe(0);
  expect((await shop.pay(b)).order.pointsEarned).toBe(100);
  expect((await shop.pay(a)).order.pointsEarned).toBe(50);
  expect(await shop.budgetUsed()).toBe(150);
  await shop.verify();
});

test('returns in two steps withdraw each point once, and a replayed return nothing more', async () => {
  const shop = await shopWith(fixed100({ caps: { totalBudget: 1_000 } }));
  const m = await shop.member();
  const first = await shop.pay(m);
  await shop.pay(m);
  expect(await shop.budgetUsed()).toBe(200);
  const returnKey = key('return');
  const returned = await shop.returnLines(first.order.orderId, 'SOCKS', 4, returnKey);
  expect(await shop.returnLines(first.order.orderId, 'SOCKS', 4, returnKey)).toEqual(returned);
  expect(await shop.budgetUsed()).toBe(160);
  await shop.returnLines(first.order.orderId, 'COAT', 1);
  expect(await shop.budgetUsed()).toBe(100);
  await shop.verify();
});

test('a reward spent and then forgiven by the take-back still counts: cancelling cannot farm it', async () => {
  // TAKE_AVAILABLE (the default) forgives what the member already spent: they keep it, so it stays given.
  const shop = await shopWith(fixed100({ oncePerMember: true }));
  const m = await shop.member();
  const earning = await shop.pay(m);
  expect(earning.order.pointsEarned).toBe(100);
  await shop.spend(m, 100); // the bonus pays for an order that stays paid
  await shop.cancel(earning.order.orderId); // nothing left to take back: forgiven
  expect(await shop.quote(m)).toBe(0);
  expect((await shop.pay(m)).order.pointsEarned).toBe(0);
  await shop.verify();
});

test('a cap counts what a take-back forgave, and frees what it took', async () => {
  const shop = await shopWith(fixed100({ caps: { perMemberPerDay: 100 } }));
  const m = await shop.member();
  const earning = await shop.pay(m);
  await shop.spend(m, 60);
  await shop.cancel(earning.order.orderId); // 40 taken back, 60 forgiven
  expect(await shop.quote(m)).toBe(40);
  await shop.verify();
});
