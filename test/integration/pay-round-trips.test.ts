import { Database } from '../../src/db/database';
import { RuleStatus } from '../../src/entities/rule';
import { createServices, type Services } from '../../src/services';
import type { RequestContext } from '../../src/services/shared';
import { testContext } from '../support/context';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

/**
 * The round trips of a paid order, counted by a proxy in front of PostgreSQL (a round trip costs
 * more CPU than most of Patron's statements): the idempotency key's turn, the lock with the
 * order's read, the source's claim, the award's entries, and the rest with COMMIT. A tier
 * structure adds one, the tier hook's reads, which must see the order counted; the tier the
 * rules see is read beside the claim.
 */
let h: RulesHarness;
let counter: TcpProxy;
let counted: Database;
let services: Services;
let seq = 0;
const key = (prefix: string) => `${prefix}-${++seq}`;

beforeAll(async () => {
  h = await rulesHarness(new Date('2026-04-01T09:00:00Z'));
  counter = await startTcpProxy(h.db.url);
  counted = new Database(counter.url, 1);
  services = createServices(counted, h.orm, h.clock, { customerTokenTtlSeconds: 900 });
});
afterAll(async () => {
  await counted.close();
  await counter.close();
  await h.close();
});

const FIVE_PERCENT = { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }] };

/** A program with the 5 % rule, and with a tier structure when asked; its storefront context. */
async function shop(tiers: boolean): Promise<RequestContext> {
  const { program } = await h.services.programs.createProgram(h.admin, { name: key('shop'), timeZone: 'UTC' });
  const admin = testContext(program.id, 'admin', 'admin');
  await h.services.rules.createRule(admin, { name: 'five percent', status: RuleStatus.ACTIVE, definition: FIVE_PERCENT });
  if (tiers) {
    await h.services.tiers.saveStructure(admin, {
      metric: 'spend', window: 'lifetime', downgradePolicy: 'to_earned', graceDays: 30,
      levels: [{ code: 'standard', name: 'Standard', threshold: 0 }, { code: 'silver', name: 'Silver', threshold: 10_000, earnMultiplier: 2 }],
    });
  }
  return testContext(program.id, 'server', 'storefront');
}

/** Round trips of payOrder of a placed order, through the counting proxy, after one paid to warm the caches. */
async function payRoundTrips(server: RequestContext): Promise<{ roundTrips: number; available: number }> {
  const { member } = await h.services.members.upsert(server, { externalId: key('m') });
  const orderIds = [key('order'), key('order')];
  for (const orderId of orderIds) {
    await h.services.orders.placeOrder(server, {
      orderId, member: { id: member.id }, idempotencyKey: key('place'), lines: [{ sku: 'BALL', unitPriceMinor: 10_000, quantity: 1 }],
    });
  }
  await services.orders.payOrder(server, { orderId: orderIds[0]!, idempotencyKey: key('pay') });
  counter.resetRoundTrips();
  const paid = await services.orders.payOrder(server, { orderId: orderIds[1]!, idempotencyKey: key('pay') });
  return { roundTrips: counter.roundTrips(), available: paid.account.available };
}

test('a paid order takes four round trips without tiers and five with them, its tier read beside the claim', async () => {
  const plain = await payRoundTrips(await shop(false));
  const tiered = await payRoundTrips(await shop(true));
  // 5 % of 100.00 is 5 points an order; the tiered member's first order lifted them to silver, whose multiplier doubles the second.
  expect({ plain, tiered }).toEqual({ plain: { roundTrips: 4, available: 10 }, tiered: { roundTrips: 5, available: 15 } });
});

test('a replay never acts on what its work read behind the turn, and keeps none of what the work sent', async () => {
  const server = await shop(false);
  const { member } = await h.services.members.upsert(server, { externalId: key('m') });
  const orderId = key('order');
  const place = { orderId, member: { id: member.id }, idempotencyKey: key('place'), lines: [{ sku: 'BALL', unitPriceMinor: 10_000, quantity: 1 }] };
  const pay = { orderId, idempotencyKey: key('pay') };
  const placed = await services.orders.placeOrder(server, place);
  const paid = await services.orders.payOrder(server, pay);
  const entries = () => h.count('select count(*) from ledger_entry e join account a on a.id = e.account_id where a.member_id = ?', [member.id]);
  const before = await entries();
  counter.resetRoundTrips();
  // The replays' works lock the account and read the order behind the turn: the order is paid
  // now, so a work acting on its read would fail INVALID_STATE or place a duplicate.
  const again = [await services.orders.placeOrder(server, place), await services.orders.payOrder(server, pay)];
  expect({ again, roundTrips: counter.roundTrips(), entries: await entries() }).toEqual({
    again: [placed, paid], roundTrips: 4, entries: before,
  });
  await expect(services.orders.payOrder(server, { ...pay, reason: 'another request' })).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
});
