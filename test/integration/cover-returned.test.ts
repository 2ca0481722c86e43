import { NegativeBalancePolicy } from '../../src/entities/program';
import { RuleStatus } from '../../src/entities/rule';
import { LedgerAudit } from '../../src/services/ledger';
import { DAY_MS } from '../../src/services/shared';
import { testContext } from '../support/context';
import { rulesSuite } from '../support/rules-harness';

/**
 * An award taken back after its points were spent is covered from the member's other points (or
 * owed as debt). When the spent points come back — the order they paid for is cancelled too —
 * they give the cover back, so two cancelled orders end where no orders would have, whichever is
 * cancelled first, and even when the award's own lot has expired meanwhile.
 */

const START = new Date('2026-04-01T09:00:00Z');
const suite = rulesSuite(START);
const key = suite.key;

async function shop(policy: NegativeBalancePolicy, opts: { perUnit?: boolean } = {}) {
  suite.h.clock.set(START);
  const { program } = await suite.h.services.programs.createProgram(suite.h.admin, { name: key('shop'), maxRedeemPercent: 100, negativeBalancePolicy: policy });
  const admin = testContext(program.id, 'admin', 'admin');
  const server = testContext(program.id, 'server', 'storefront');
  await suite.h.services.rules.createRule(admin, {
    name: 'every order', status: RuleStatus.ACTIVE,
    definition: {
      trigger: 'order_paid', lifetimeDays: 30,
      actions: [opts.perUnit ? { code: 'perProductPoints', args: { table: [{ sku: 'X', points: 100 }] } } : { code: 'fixedPoints', args: { points: 100 } }],
    },
  });
  const memberId = (await suite.h.services.members.upsert(server, { externalId: key('m') })).member.id;
  const orders = suite.h.services.orders;
  const em = () => suite.h.orm.em.fork();
  return {
    give: (points: number) => suite.h.services.ledger.accrue(server, { member: { id: memberId }, points, idempotencyKey: key('give') }),
    redeem: (points: number) => suite.h.services.ledger.redeem(server, { member: { id: memberId }, points, idempotencyKey: key('redeem') }),
    reverse: (entryId: number) => suite.h.services.ledger.reverseEntry(server, { entryId, idempotencyKey: key('reverse') }),
    async payOrder(points: number, quantity = 1) {
      const lines = [{ sku: 'X', unitPriceMinor: 100_000, quantity }];
      const orderId = (await orders.placeOrder(server, { orderId: key('o'), member: { id: memberId }, lines, points, idempotencyKey: key() })).order.orderId;
      await orders.payOrder(server, { orderId, idempotencyKey: key() });
      return orderId;
    },
    cancel: (orderId: string) => orders.cancelOrder(server, { orderId, idempotencyKey: key() }),
    async account() {
      const [row] = await em().execute('select available, pending, reserved, debt from account where member_id = ?', [memberId]);
      return { available: Number(row.available), pending: Number(row.pending), reserved: Number(row.reserved), debt: Number(row.debt) };
    },
    /** Each lot's amount, what it holds, and whether it has an expiry, oldest first. */
    async lots() {
      const rows = await em().execute(
        'select l.amount, l.remaining, l.expires_at is not null as expires from lot l join account a on a.id = l.account_id where a.member_id = ? order by l.id',
        [memberId],
      );
      return rows.map((r: any) => [Number(r.amount), Number(r.remaining), r.expires]);
    },
    verify: async () => expect((await new LedgerAudit(suite.h.database).verifyLedger({ programId: program.id })).discrepancies).toEqual([]),
  };
}

const POLICIES = [NegativeBalancePolicy.ALLOW_DEBT, NegativeBalancePolicy.TAKE_AVAILABLE];
const ORDERS = ['the earning order first', 'the spending order first'] as const;

describe.each(POLICIES)('%s', (policy) => {
  test.each(ORDERS)('both orders cancelled after the award expired, %s: the member keeps their own points', async (which) => {
    const s = await shop(policy);
    await s.give(100); // the member's own points, without expiry
    const earning = await s.payOrder(0); // earns 100, for 30 days
    const spending = await s.payOrder(100); // pays with those 100 (nearest expiry first)
    suite.h.clock.advance(31 * DAY_MS);
    for (const orderId of which === ORDERS[0] ? [earning, spending] : [spending, earning]) await s.cancel(orderId);
    expect(await s.account()).toEqual({ available: 100, pending: 0, reserved: 0, debt: 0 });
    await s.verify();
  });

  test.each(ORDERS)('both orders cancelled after the award expired, %s, with nothing else: no debt', async (which) => {
    const s = await shop(policy);
    const earning = await s.payOrder(0);
    const spending = await s.payOrder(100);
    suite.h.clock.advance(31 * DAY_MS);
    for (const orderId of which === ORDERS[0] ? [earning, spending] : [spending, earning]) await s.cancel(orderId);
    expect(await s.account()).toEqual({ available: 0, pending: 0, reserved: 0, debt: 0 });
    await s.verify();
  });
});

test('the points that come back restore the lots that covered for them, with their own lifetimes', async () => {
  const s = await shop(NegativeBalancePolicy.ALLOW_DEBT);
  await s.give(100);
  const earning = await s.payOrder(0);
  const spending = await s.payOrder(100);
  await s.cancel(earning); // covered from the member's own 100
  await s.cancel(spending); // the 100 come back, and go back where the cover came from
  expect(await s.account()).toEqual({ available: 100, pending: 0, reserved: 0, debt: 0 });
  // The member's own lot (no expiry) holds them again; the awards' lots (30 days) hold nothing.
  expect(await s.lots()).toEqual([[100, 100, false], [100, 0, true], [100, 0, true]]);
  await s.verify();
});

describe.each(POLICIES)('%s: cover given back into a lot that owes in turn', (policy) => {
  test('is passed on, until nothing is owed', async () => {
    const s = await shop(policy);
    const first = await s.payOrder(0); // 100 in lot A
    suite.h.clock.advance(1000);
    const second = await s.payOrder(0); // 100 in lot B, expiring a second later
    const spent = await s.redeem(100); // from A (nearest expiry)
    await s.cancel(first); // A is empty: covered from B
    await s.cancel(second); // B is empty, nothing else is left: forgiven, or owed
    await s.reverse(spent.entry.id); // the 100 come back to A, go on to B, and B's take-back takes them
    expect(await s.account()).toEqual({ available: 0, pending: 0, reserved: 0, debt: 0 });
    await s.verify();
  });
});

describe.each(POLICIES)('%s', (policy) => {
  test('two covers given back to one lot in one round add up', async () => {
    const s = await shop(policy, { perUnit: true });
    const a = await s.payOrder(0); // 100 in lot A
    suite.h.clock.advance(1000);
    const b = await s.payOrder(0); // 100 in lot B
    const spent = await s.redeem(200); // from A and B
    suite.h.clock.advance(1000);
    const c = await s.payOrder(0, 2); // 200 in lot C
    await s.cancel(a); // A is empty: covered from C
    await s.cancel(b); // B is empty: covered from C
    await s.cancel(c); // C is empty: its 200 forgiven, or owed
    await s.reverse(spent.entry.id); // 100 back to A and to B: both covers go back to C in one round, and C's take-back takes them
    expect(await s.account()).toEqual({ available: 0, pending: 0, reserved: 0, debt: 0 });
    await s.verify();
  });
});
