import type { RequestContext } from '../../src/services/shared';
import { CauseType } from '../../src/entities/ledger-entry';
import { NegativeBalancePolicy } from '../../src/entities/program';
import { RuleStatus } from '../../src/entities/rule';
import type { ProgramSettings } from '../../src/services/programs';
import { AccountBook } from '../../src/services/ledger';
import { DAY_MS } from '../../src/services/shared';
import { LedgerAudit } from '../../src/services/ledger';
import { LedgerJobs } from '../../src/services/ledger';
import { lotTimes } from '../../src/services/ledger';
import type { OrderLineInput, PlaceOrderInput } from '../../src/services/orders';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';
import { testContext } from '../support/context';

/**
 * The ledger review's findings, each pinned by the scenario that showed it. Every test runs in
 * a shop of its own that earns 5 % of the money paid for an order, valid one month.
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
  member(externalId?: string): Promise<string>;
  account(memberId: string): Promise<Record<'available' | 'pending' | 'reserved' | 'debt', number>>;
  /** verifyLedger finds nothing, and no account holds points that came from nowhere. */
  expectSound(): Promise<void>;
}

async function shop(settings: Partial<ProgramSettings> = {}): Promise<Shop> {
  const { program } = await h.services.programs.createProgram(h.admin, { name: key('shop'), maxRedeemPercent: 100, ...settings });
  const programId = program.id;
  const admin = testContext(programId, 'admin', 'admin');
  await h.services.rules.createRule(admin, {
    name: '5 % of every paid order',
    status: RuleStatus.ACTIVE,
    definition: { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }], lifetimeDays: 30 },
  });
  return {
    programId,
    admin,
    server: testContext(programId, 'server', 'storefront'),
    async member(externalId = key('member')) {
      return (await h.services.members.upsert(admin, { externalId })).member.id;
    },
    async account(memberId) {
      const [a] = await h.orm.em.fork().execute('select available, pending, reserved, debt from account where member_id = ?', [memberId]);
      return a as Record<'available' | 'pending' | 'reserved' | 'debt', number>;
    },
    async expectSound() {
      expect((await new LedgerAudit(h.database).verifyLedger(programId)).discrepancies).toEqual([]);
      await expectNothingFromNothing(programId);
    },
  };
}

/**
 * Points are conserved: what an account holds net of its debt is what it earned, less what it
 * spent and what expired, plus what take-backs forgave; and a take-back forgives only points
 * that are spent or reserved, never points the member still has or got back.
 */
async function expectNothingFromNothing(programId: string) {
  const rows = await h.orm.em.fork().execute(
    `select member_id, available + pending + reserved - debt - (lifetime_earned - lifetime_redeemed - lifetime_expired) as forgiven,
       lifetime_redeemed + reserved as spent_or_held
     from account where program_id = ?`,
    [programId],
  );
  const wrong = rows.filter((r: any) => Number(r.forgiven) < 0 || Number(r.forgiven) > Number(r.spent_or_held));
  expect(wrong).toEqual([]);
}

/** One line of 10 000: paid with money it earns 500 points. */
const TEN_THOUSAND: OrderLineInput[] = [{ sku: 'BIKE', unitPriceMinor: 1_000_000, quantity: 1 }];
const TWO_LINES: OrderLineInput[] = [
  { sku: 'FRAME', unitPriceMinor: 600_000, quantity: 1 },
  { sku: 'WHEELS', unitPriceMinor: 400_000, quantity: 1 },
];

function placeInput(memberId: string, extra: Partial<PlaceOrderInput> = {}): PlaceOrderInput {
  return { orderId: key('order'), member: { id: memberId }, lines: TEN_THOUSAND, idempotencyKey: key('place'), ...extra };
}

const place = (s: Shop, memberId: string, extra: Partial<PlaceOrderInput> = {}) =>
  h.services.orders.placeOrder(s.server, placeInput(memberId, extra));
const pay = (s: Shop, orderId: string) => h.services.orders.payOrder(s.server, { orderId, idempotencyKey: key('pay') });
const cancel = (s: Shop, orderId: string) => h.services.orders.cancelOrder(s.server, { orderId, idempotencyKey: key('cancel') });

/** A member who paid an order of 10 000 with money and earned 500 points by it. */
async function earned500(s: Shop, lines = TEN_THOUSAND) {
  const memberId = await s.member();
  const o1 = await place(s, memberId, { lines });
  expect((await pay(s, o1.order.orderId)).account).toMatchObject({ available: 500 });
  return { memberId, o1: o1.order.orderId };
}

describe('M1: an award taken back while an authorization holds its points', () => {
  it('cancel the earning order while a second order holds the points, then cancel that one: nothing is created', async () => {
    const s = await shop();
    const { memberId, o1 } = await earned500(s);
    const o2 = await place(s, memberId, { points: 500 });
    expect(o2.account).toMatchObject({ available: 0, reserved: 500 });
    expect((await cancel(s, o1)).account).toMatchObject({ available: 0, reserved: 500, debt: 0 });
    await s.expectSound();
    expect((await cancel(s, o2.order.orderId)).account).toMatchObject({ available: 0, reserved: 0, debt: 0 });
    expect(await s.account(memberId)).toEqual({ available: 0, pending: 0, reserved: 0, debt: 0 });
    await s.expectSound();
  });

  it('a bare authorization of the points, released after the take-back, gives nothing back', async () => {
    const s = await shop();
    const { memberId, o1 } = await earned500(s);
    const auth = await h.services.ledger.authorizeRedemption(s.server, { member: { id: memberId }, points: 400, idempotencyKey: key() });
    await cancel(s, o1);
    const released = await h.services.ledger.releaseRedemption(s.server, { authorizationId: auth.authorization.id, idempotencyKey: key() });
    expect(released.account).toMatchObject({ available: 0, reserved: 0, debt: 0 });
    await s.expectSound();
  });

  it('returning the earning order\'s lines while a second order holds the points: the release gives nothing back', async () => {
    const s = await shop();
    const { memberId, o1 } = await earned500(s, TWO_LINES);
    const o2 = await place(s, memberId, { points: 500 });
    await h.services.orders.refundOrderLines(s.server, { orderId: o1, lines: [{ sku: 'FRAME', quantity: 1 }], idempotencyKey: key() });
    await s.expectSound();
    await h.services.orders.refundOrderLines(s.server, { orderId: o1, lines: [{ sku: 'WHEELS', quantity: 1 }], idempotencyKey: key() });
    expect((await cancel(s, o2.order.orderId)).account).toMatchObject({ available: 0, reserved: 0, debt: 0 });
    await s.expectSound();
  });

  it('the held points paid with after the take-back stay forgiven; cancelling that order later gives nothing back', async () => {
    const s = await shop();
    const { memberId, o1 } = await earned500(s);
    const o2 = await place(s, memberId, { points: 500, lines: [{ sku: 'BELL', unitPriceMinor: 50_000, quantity: 1 }] });
    await cancel(s, o1);
    // Paid: the points are spent as if the order had been paid first; o2 itself earns nothing (all points).
    expect((await pay(s, o2.order.orderId)).account).toMatchObject({ available: 0, reserved: 0, debt: 0 });
    await s.expectSound();
    expect((await cancel(s, o2.order.orderId)).account).toMatchObject({ available: 0, reserved: 0, debt: 0 });
    await s.expectSound();
  });

  it('points spent before the take-back and given back after it are taken back too', async () => {
    const s = await shop();
    const { memberId, o1 } = await earned500(s);
    const o2 = await place(s, memberId, { points: 500, lines: [{ sku: 'BELL', unitPriceMinor: 50_000, quantity: 1 }] });
    await pay(s, o2.order.orderId);
    expect((await cancel(s, o1)).account).toMatchObject({ available: 0, debt: 0 }); // 500 spent: forgiven
    await s.expectSound();
    expect((await cancel(s, o2.order.orderId)).account).toMatchObject({ available: 0, reserved: 0, debt: 0 });
    await s.expectSound();
  });

  it('allow_debt: the held points taken back are owed, and the release repays them at once', async () => {
    const s = await shop({ negativeBalancePolicy: NegativeBalancePolicy.ALLOW_DEBT });
    const { memberId, o1 } = await earned500(s);
    const o2 = await place(s, memberId, { points: 500 });
    expect((await cancel(s, o1)).account).toMatchObject({ available: 0, reserved: 500, debt: 500 });
    expect((await cancel(s, o2.order.orderId)).account).toMatchObject({ available: 0, reserved: 0, debt: 0 });
    await s.expectSound();
  });

  it('a random walk of orders under both policies never creates points', async () => {
    let state = 7;
    const random = (n: number) => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state % n;
    };
    for (const policy of [NegativeBalancePolicy.TAKE_AVAILABLE, NegativeBalancePolicy.ALLOW_DEBT]) {
      const s = await shop({ negativeBalancePolicy: policy });
      const memberId = await s.member();
      const placed: string[] = [];
      const paid: string[] = [];
      for (let step = 0; step < 40; step++) {
        const action = random(5);
        try {
          if (action === 0 || placed.length + paid.length === 0) {
            const { available } = await s.account(memberId);
            // Often everything the member has: the points of awards that later orders' cancellations take back.
            const points = random(3) ? available : 0;
            const lines = [{ sku: 'A', unitPriceMinor: 100_000 * (1 + random(10)), quantity: 1 }, { sku: 'B', unitPriceMinor: 50_000, quantity: 2 }];
            placed.push((await place(s, memberId, { points, lines })).order.orderId);
          } else if (action === 1 && placed.length > 0) {
            const orderId = placed.splice(random(placed.length), 1)[0];
            await pay(s, orderId);
            paid.push(orderId);
          } else if (action === 2 && placed.length > 0) {
            await cancel(s, placed.splice(random(placed.length), 1)[0]);
          } else if (action === 3 && paid.length > 0) {
            await cancel(s, paid.splice(random(paid.length), 1)[0]);
          } else if (action === 4 && paid.length > 0) {
            const orderId = paid[random(paid.length)];
            await h.services.orders.refundOrderLines(s.server, { orderId, lines: [{ sku: 'B', quantity: 1 }], idempotencyKey: key() });
          }
        } catch (error: any) {
          // A line returned twice is refused; so is a take-back the policy does not allow. Nothing else.
          expect(['BAD_USER_INPUT', 'INVALID_STATE', 'INSUFFICIENT_POINTS']).toContain(error.code);
        }
        await s.expectSound();
      }
      for (const orderId of [...placed, ...paid]) await cancel(s, orderId).catch(() => undefined);
      await s.expectSound();
    }
  });
});

describe('M3: an order\'s ledger records change only through the order', () => {
  it('its authorization cannot be captured or released through the bare ledger API', async () => {
    const s = await shop();
    const memberId = await s.member();
    await h.services.ledger.accrue(s.server, { member: { id: memberId }, points: 1_000, idempotencyKey: key() });
    const o = await place(s, memberId, { points: 300 });
    const authorizationId = o.order.authorizationId!;
    for (const call of [
      () => h.services.ledger.captureRedemption(s.server, { authorizationId, idempotencyKey: key() }),
      () => h.services.ledger.releaseRedemption(s.server, { authorizationId, idempotencyKey: key() }),
    ]) {
      await expect(call()).rejects.toMatchObject({
        code: 'INVALID_STATE',
        message: expect.stringMatching(new RegExp(`belongs to order ${o.order.orderId}.*payOrder/cancelOrder`)),
      });
    }
    expect((await cancel(s, o.order.orderId)).account).toMatchObject({ available: 1_000, reserved: 0 });
    await s.expectSound();
  });

  it('its capture and its awards cannot be reversed through reverseEntry', async () => {
    const s = await shop();
    const memberId = await s.member();
    await h.services.ledger.accrue(s.server, { member: { id: memberId }, points: 1_000, idempotencyKey: key() });
    const o = await place(s, memberId, { points: 300 });
    const paid = await pay(s, o.order.orderId);
    const [capture] = await h.orm.em.fork().execute('select capture_entry_id from shop_order where id = ?', [o.order.id]);
    for (const entryId of [Number(capture.capture_entry_id), paid.order.awards[0].entryId]) {
      await expect(h.services.ledger.reverseEntry(s.admin, { entryId, idempotencyKey: key() })).rejects.toMatchObject({
        code: 'INVALID_STATE',
        message: expect.stringContaining(`belongs to order ${o.order.orderId}`),
      });
    }
    const cancelled = await cancel(s, o.order.orderId);
    expect(cancelled.account).toMatchObject({ available: 1_000, reserved: 0, debt: 0 });
    await s.expectSound();
  });
});

describe('M5: accrue refuses points that would be born expired', () => {
  it('expiresAt not after now is BAD_USER_INPUT, however early availableAt is; a past availableAt with a future expiry is fine', async () => {
    const s = await shop();
    const member = { id: await s.member() };
    const now = h.clock.now().getTime();
    const accrue = (extra: object) => h.services.ledger.accrue(s.server, { member, points: 10, idempotencyKey: key(), ...extra });
    await expect(accrue({ availableAt: new Date(now - 10 * DAY_MS), expiresAt: new Date(now - DAY_MS) })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await expect(accrue({ expiresAt: new Date(now) })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(accrue({ availableAt: new Date(now - 40 * DAY_MS), lifetimeDays: 30 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    const late = await accrue({ availableAt: new Date(now - 10 * DAY_MS), lifetimeDays: 30 });
    expect(late.account).toMatchObject({ available: 10, pending: 0 });
    await s.expectSound();
  });
});

describe('jobs and reads', () => {
  it('the activation job repays debt at once', async () => {
    const s = await shop({ negativeBalancePolicy: NegativeBalancePolicy.ALLOW_DEBT });
    const { memberId, o1 } = await earned500(s);
    await h.services.ledger.redeem(s.server, { member: { id: memberId }, points: 500, idempotencyKey: key() });
    expect((await cancel(s, o1)).account).toMatchObject({ available: 0, debt: 500 });
    await h.services.ledger.accrue(s.server, { member: { id: memberId }, points: 300, delayDays: 2, idempotencyKey: key() });
    h.clock.advance(3 * DAY_MS);
    const jobs = new LedgerJobs(h.database, h.services.ledger);
    const done = await jobs.activatePendingLots(h.clock.now());
    expect(done.lots).toBeGreaterThanOrEqual(1);
    expect(await s.account(memberId)).toEqual({ available: 0, pending: 0, reserved: 0, debt: 200 });
    await s.expectSound();
  });

  it('balances read between expiry runs never show points past their expiry', async () => {
    const s = await shop();
    const memberId = await s.member();
    await h.services.ledger.accrue(s.server, { member: { id: memberId }, points: 70, lifetimeDays: 1, idempotencyKey: key() });
    await h.services.ledger.accrue(s.server, { member: { id: memberId }, points: 30, lifetimeDays: 60, idempotencyKey: key() });
    h.clock.advance(2 * DAY_MS);
    const [account] = await h.services.ledgerQueries.accountsOf(s.programId, [memberId]);
    expect(account).toMatchObject({ available: 30, lifetimeExpired: 70 });
    h.clock.advance(-2 * DAY_MS);
  });
});

describe('one implementation of the lot statements', () => {
  it('spending walks as many lots as it needs, nearest expiry first, in one statement', async () => {
    const s = await shop();
    const memberId = await s.member();
    await h.database.transaction(async (tx) => {
      const book = await AccountBook.open(tx, s.programId, { id: memberId }, h.clock.now());
      // 250 lots of 2 whose expiry order is not their id order.
      for (let i = 0; i < 250; i++) {
        const { availableAt, expiresAt } = lotTimes(book, { lifetimeDays: 1 + ((i * 7) % 250), delayDays: 0 });
        await book.accrue(2, { availableAt, expiresAt, cause: { type: CauseType.ADMIN, reason: 'seed' } });
      }
    });
    const spent = await h.services.ledger.redeem(s.server, { member: { id: memberId }, points: 481, idempotencyKey: key() });
    const taken = await h.orm.em.fork().execute(
      `select l.expires_at, la.amount from lot_allocation la join lot l on l.id = la.lot_id where la.entry_id = ? order by l.expires_at`,
      [spent.entry.id],
    );
    expect(taken).toHaveLength(241);
    expect(taken.slice(0, 240).every((t: any) => Number(t.amount) === -2)).toBe(true);
    expect(Number(taken[240].amount)).toBe(-1);
    const [{ nearest }] = await h.orm.em.fork().execute(
      `select count(*)::int as nearest from lot l join account a on a.id = l.account_id
       where a.member_id = ? and l.expires_at <= ?`,
      [memberId, taken[240].expires_at],
    );
    expect(nearest).toBe(241);
    await s.expectSound();
  });

  it('a write and the expiry job expire a lot with the same entry', async () => {
    const s = await shop();
    const [byWrite, byJob] = [await s.member(), await s.member()];
    for (const id of [byWrite, byJob]) {
      await h.services.ledger.accrue(s.server, { member: { id }, points: 40, lifetimeDays: 1, idempotencyKey: key() });
      await h.services.ledger.accrue(s.server, { member: { id }, points: 5, delayDays: 3, lifetimeDays: 1, idempotencyKey: key() });
      await h.services.ledger.accrue(s.server, { member: { id }, points: 60, lifetimeDays: 90, idempotencyKey: key() });
    }
    h.clock.advance(5 * DAY_MS);
    await h.services.ledger.redeem(s.server, { member: { id: byWrite }, points: 1, idempotencyKey: key() });
    await new LedgerJobs(h.database, h.services.ledger).expireLots(h.clock.now());
    const expiryOf = async (memberId: string) => {
      const rows = await h.orm.em.fork().execute(
        `select e.kind, e.amount, e.delta_available, e.delta_pending, e.cause_type, e.cause_id, e.reason, e.created_at,
           (select array_agg(la.amount order by la.amount) from lot_allocation la where la.entry_id = e.id) as allocations
         from ledger_entry e join account a on a.id = e.account_id where a.member_id = ? and e.kind = 'expiry'`,
        [memberId],
      );
      return rows;
    };
    const [written, swept] = [await expiryOf(byWrite), await expiryOf(byJob)];
    expect(written).toHaveLength(1);
    expect(written).toEqual(swept);
    expect(written[0]).toMatchObject({ amount: -45, delta_available: -40, delta_pending: -5, cause_id: 'expire-lots' });
    await s.expectSound();
  });
});
