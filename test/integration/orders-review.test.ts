import type { RequestContext } from '../../src/services/shared';
import { Client } from 'pg';
import { AuthorizationStatus } from '../../src/entities/authorization';
import { CauseType } from '../../src/entities/ledger-entry';
import { RuleStatus } from '../../src/entities/rule';
import { AccountBook } from '../../src/services/ledger';
import type { ProgramSettings } from '../../src/services/programs';
import { LedgerAudit } from '../../src/services/ledger';
import { closeAuthorization } from '../../src/services/ledger';
import type { OrderLineInput, PlaceOrderInput } from '../../src/services/orders';
import type { RuleDefinitionInput } from '../../src/services/earning';
import { jobContext } from '../../src/services/shared';
import { testContext, testLogger } from '../support/context';
import { rulesHarness, together, type RulesHarness } from '../support/rules-harness';

/**
 * The review's findings about orders and earning, each pinned by a test: spend that cancelled
 * and returned orders take back, a cancel that returns only what it released, one lock order
 * for every write that touches several accounts, quotes that lock nothing, and system
 * idempotency keys that storefront keys cannot collide with.
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
  member(externalId: string, referrerExternalId?: string): Promise<string>;
  rule(name: string, definition: RuleDefinitionInput): Promise<string>;
  give(memberId: string, points: number): Promise<void>;
  place(memberId: string, lines: OrderLineInput[], extra?: Partial<PlaceOrderInput>): Promise<string>;
  pay(orderId: string): ReturnType<RulesHarness['services']['orders']['payOrder']>;
  cancel(orderId: string): ReturnType<RulesHarness['services']['orders']['cancelOrder']>;
  spend(memberId: string): Promise<number>;
  expectBooksBalance(): Promise<void>;
}

/** A program of its own, with only the rules the test gives it. */
async function shop(harness: RulesHarness, settings: Partial<ProgramSettings> = {}): Promise<Shop> {
  const { program } = await harness.services.programs.createProgram(harness.admin, { name: key('shop'), maxRedeemPercent: 50, ...settings });
  const programId = program.id;
  const admin = testContext(programId, 'admin', 'admin');
  const server = testContext(programId, 'server', 'storefront');
  const orders = harness.services.orders;
  return {
    programId,
    server,
    async member(externalId, referrerExternalId) {
      return (await harness.services.members.upsert(server, { externalId, referrerExternalId })).member.id;
    },
    async rule(name, definition) {
      return (await harness.services.rules.createRule(admin, { name, status: RuleStatus.ACTIVE, definition })).id;
    },
    async give(memberId, points) {
      await harness.services.ledger.accrue(server, { member: { id: memberId }, points, idempotencyKey: key('give') });
    },
    async place(memberId, lines, extra = {}) {
      const input = { orderId: key('order'), member: { id: memberId }, lines, idempotencyKey: key('place'), ...extra };
      return (await orders.placeOrder(server, input)).order.orderId;
    },
    pay: (orderId) => orders.payOrder(server, { orderId, idempotencyKey: key('pay') }),
    cancel: (orderId) => orders.cancelOrder(server, { orderId, idempotencyKey: key('cancel') }),
    async spend(memberId) {
      const [row] = await harness.orm.em.fork().execute('select paid_minor from member_spend where member_id = ?', [memberId]);
      return Number(row?.paid_minor ?? 0);
    },
    async expectBooksBalance() {
      expect((await new LedgerAudit(harness.database).verifyLedger(programId)).discrepancies).toEqual([]);
    },
  };
}

const line = (sku: string, unitPriceMinor: number, quantity = 1): OrderLineInput => ({ sku, unitPriceMinor, quantity });

describe('M2: cancelled and returned orders stop counting toward cumulative spend', () => {
  const milestone: RuleDefinitionInput = {
    trigger: 'order_paid',
    oncePerMember: true,
    condition: { condition: 'cumulativeSpendCrosses', args: { threshold: 1_000_000 } },
    actions: [{ code: 'fixedPoints', args: { points: 1_000 } }],
  };

  it('a 9 999 order cancelled, then a 1-ruble order: the 10 000 milestone is not reached', async () => {
    const s = await shop(h);
    await s.rule('Spent 10 000', milestone);
    const memberId = await s.member('m2-cancel');
    const big = await s.place(memberId, [line('TV', 999_900)]);
    await s.pay(big);
    expect(await s.spend(memberId)).toBe(999_900);
    await s.cancel(big);
    expect(await s.spend(memberId)).toBe(0);

    const small = await s.place(memberId, [line('GUM', 100)]);
    const paid = await s.pay(small);
    expect(paid.order.pointsEarned).toBe(0);
    expect(paid.account.available).toBe(0);
    expect(await s.spend(memberId)).toBe(100);
    await s.expectBooksBalance();
  });

  it('returned lines take back their share of the spend, the delivery only with the last unit; a cancelled unpaid order never counted', async () => {
    const s = await shop(h);
    const memberId = await s.member('m2-refund');
    const unpaid = await s.place(memberId, [line('SOFA', 2_000_000)]);
    await s.cancel(unpaid);
    expect(await s.spend(memberId)).toBe(0);

    const orderId = await s.place(memberId, [line('SHIRT', 300_001, 3), line('CAP', 99_999)], { deliveryMinor: 5_000 });
    await s.pay(orderId);
    expect(await s.spend(memberId)).toBe(900_003 + 99_999 + 5_000);
    const refund = (lines: Array<{ lineIndex: number; quantity: number }>) =>
      h.services.orders.refundOrderLines(s.server, { orderId, lines, idempotencyKey: key('refund') });

    await refund([{ lineIndex: 0, quantity: 1 }]); // floor(900 003 / 3)
    expect(await s.spend(memberId)).toBe(1_005_002 - 300_001);
    await refund([{ lineIndex: 0, quantity: 1 }, { lineIndex: 1, quantity: 1 }]);
    expect(await s.spend(memberId)).toBe(1_005_002 - 600_002 - 99_999);
    await refund([{ lineIndex: 0, quantity: 1 }]);
    expect(await s.spend(memberId)).toBe(0);
    await s.expectBooksBalance();
  });
});

describe('M3: cancelling a placed order says how many points it gave back', () => {
  it('points captured outside the order are not reported as returned', async () => {
    const s = await shop(h);
    const memberId = await s.member('m3');
    await s.give(memberId, 1_000);
    const orderId = await s.place(memberId, [line('BOOK', 100_000)], { points: 300 });
    const placed = (await h.services.orders.getOrder(s.server, orderId))!;

    // Something other than the order spends its reservation (the ledger core, as an operator's script would).
    await h.database.transaction(async (tx) => {
      const book = await AccountBook.open(tx, s.programId, { id: memberId }, h.clock.now());
      await book.capture(300, placed.authorizationId!, { type: CauseType.ADMIN, id: 'script', reason: 'captured outside the order' });
      await closeAuthorization(tx, { id: placed.authorizationId!, memberId: book.state.memberId }, AuthorizationStatus.CAPTURED, 300, book.now);
    });

    const cancelled = await s.cancel(orderId);
    expect(cancelled.order).toMatchObject({ status: 'cancelled', pointsReturned: 0 });
    expect(cancelled.account).toMatchObject({ available: 700, reserved: 0 });
    await s.expectBooksBalance();
  });
});

describe('M4: writes that touch several accounts lock them in one order', () => {
  /**
   * A → R1 → R2: every paid order rewards the member, its referrer and the referrer's referrer.
   * Cancelling A's order takes back from A, R1 and R2 while R1 pays an order of its own, which
   * rewards R1 and R2. Before, the cancel locked R2 before R1 (by account id) and the payment R1
   * before R2 (up the tree): PostgreSQL found deadlocks, which the retry then hid.
   */
  it('cancelling a referred member\'s order while the referrer pays: no deadlock, no error, balanced books', async () => {
    const own = await rulesHarness(new Date('2026-04-01T09:00:00Z'));
    let closed = false;
    try {
      const s = await shop(own);
      await s.rule('5 %', { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }] });
      await s.rule('Referrers', {
        trigger: 'order_paid',
        actions: [
          { code: 'rewardReferrer', args: { level: 1, points: 30 } },
          { code: 'rewardReferrer', args: { level: 2, points: 20 } },
        ],
      });
      // The old cancel locked referrers by account id: make R2's account sort before R1's.
      let r1 = '';
      let r2 = '';
      let chain = 0;
      for (;;) {
        chain++;
        r2 = await s.member(`r2-${chain}`);
        r1 = await s.member(`r1-${chain}`, `r2-${chain}`);
        const [a1, a2] = await Promise.all([r1, r2].map(async (m) => (await accountOf(own, m)).id as string));
        if (a2 < a1) break;
      }
      const a = await s.member(`a-${chain}`, `r1-${chain}`);
      await s.give(a, 10_000);
      await s.give(r1, 10_000);

      for (let i = 0; i < 12; i++) {
        const aOrder = await s.place(a, [line('BALL', 100_000)], { points: 100 });
        await s.pay(aOrder);
        const r1Order = await s.place(r1, [line('BOOTS', 200_000)], { points: 100 });
        const results = await together(
          () => s.cancel(aOrder),
          async () => {
            await new Promise((resolve) => setTimeout(resolve, i % 4));
            return s.pay(r1Order);
          },
        );
        expect(results.map((r) => (r.status === 'fulfilled' ? 'ok' : String(r.reason)))).toEqual(['ok', 'ok']);
      }
      await s.expectBooksBalance();
      // A's orders were all cancelled: what they gave anyone was taken back.
      expect(await accountOf(own, a)).toMatchObject({ available: 10_000, reserved: 0 });
      // R1 pays 100 points on each order of 2 000 and earns 5 % of the 1 900 paid with money.
      expect(Number((await accountOf(own, r1)).available)).toBe(10_000 - 12 * 100 + 12 * 95);
      expect(Number((await accountOf(own, r2)).available)).toBe(12 * 30);

      closed = true;
      expect(await deadlocksAfterClosing(own)).toBe(0);
    } finally {
      if (!closed) await own.orm.close(true);
      await own.db.drop();
    }
  });
});

describe('design (a): a quote locks and writes nothing', () => {
  it('answers while another transaction holds the member\'s account and a budgeted rule', async () => {
    const s = await shop(h);
    const ruleId = await s.rule('Launch budget', {
      trigger: 'order_paid',
      actions: [{ code: 'fixedPoints', args: { points: 70 } }],
      caps: { totalBudget: 1_000 },
    });
    const memberId = await s.member('quote-lock');
    await s.give(memberId, 500);

    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const holder = h.orm.em.fork().transactional(async (tx) => {
      await tx.execute('select 1 from account where member_id = ? for update', [memberId]);
      await tx.execute('select 1 from rule where id = ? for update', [ruleId]);
      locked();
      await held;
    });
    await lockTaken;
    try {
      const quote = h.services.orders.checkoutQuote(s.server, { order: { member: { id: memberId }, lines: [line('HAT', 100_000)] } });
      const timeout = new Promise<'blocked'>((resolve) => setTimeout(() => resolve('blocked'), 3_000));
      const answer = await Promise.race([quote, timeout]);
      expect(answer).toMatchObject({ availablePoints: 500, maxPoints: 500, pointsToEarn: 70 });
    } finally {
      release();
      await holder;
    }
    expect(await h.count('select count(*) from member_spend where member_id = ?', [memberId])).toBe(0);
    expect(await h.count('select budget_used from rule where id = ?', [ruleId])).toBe(0);
  });

  it('sees what a write would: overdue lots do not count, due pending ones do, a frozen member has nothing to spend', async () => {
    const s = await shop(h, { pendingDays: 1 });
    const memberId = await s.member('quote-read');
    await h.services.ledger.accrue(s.server, { member: { id: memberId }, points: 400, delayDays: 0, lifetimeDays: 1, idempotencyKey: key() });
    await h.services.ledger.accrue(s.server, { member: { id: memberId }, points: 250, delayDays: 1, idempotencyKey: key() });
    const quote = () => h.services.orders.checkoutQuote(s.server, { order: { member: { id: memberId }, lines: [line('HAT', 1_000_000)] } });
    expect((await quote()).availablePoints).toBe(400);
    h.clock.advance(36 * 3_600_000);
    try {
      // The 400 expired and the 250 became available, though no job has run.
      expect((await quote()).availablePoints).toBe(250);
      await h.orm.em.fork().execute('update member set status = ? where id = ?', ['frozen', memberId]);
      expect(await quote()).toMatchObject({ availablePoints: 0, maxPoints: 0 });
      await expect(
        h.services.orders.checkoutQuote(s.server, { order: { member: { id: memberId }, lines: [line('HAT', 1_000_000)] }, points: 1 }),
      ).rejects.toMatchObject({ code: 'ACCOUNT_FROZEN' });
    } finally {
      h.clock.advance(-36 * 3_600_000);
    }
    await expect(
      h.services.orders.checkoutQuote(s.server, { order: { member: { externalId: 'nobody' }, lines: [line('HAT', 100)] } }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('design (b): one way to publish what a write wrote', () => {
  it('a paid order of a referred member publishes each entry once, in the order written, for every touched account', async () => {
    const s = await shop(h);
    await s.rule('5 %', { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }] });
    await s.rule('Referrer', { trigger: 'order_paid', actions: [{ code: 'rewardReferrer', args: { points: 50 } }] });
    const referrerId = await s.member('b-referrer');
    const memberId = await s.member('b-member', 'b-referrer');
    await s.give(memberId, 1_000);
    const orderId = await s.place(memberId, [line('BALL', 100_000)], { points: 200 });
    await h.publishOutbox(); // what earlier steps wrote
    const before = h.published.length;
    await s.pay(orderId);
    await h.publishOutbox();
    const entries = h.published.slice(before).filter((e) => e.topic === 'BALANCE_CHANGED').map((e) => e.payload.entry);
    const ids = entries.map((e) => e.id);
    expect(ids).toEqual([...new Set(ids)].sort((x, y) => x - y));
    // Rules of equal priority run in id order, so the two accruals may come either way round.
    expect(entries.map((e) => [e.memberId, e.kind, e.amount]).sort()).toEqual(
      [[memberId, 'capture', -200], [memberId, 'accrual', 40], [referrerId, 'accrual', 50]].sort(),
    );
  });
});

describe('S2: system idempotency keys have a space of their own', () => {
  it('a storefront cannot use the system prefix', async () => {
    const s = await shop(h);
    const memberId = await s.member('s2-prefix');
    const before = await h.count('select count(*) from idempotency_record where program_id = ?', [s.programId]);
    await expect(
      h.services.events.trackEvent(testContext(s.server), { type: 'social_share', member: { id: memberId }, idempotencyKey: `sys:birthday:${memberId}:2026` }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'idempotencyKey' } });
    await expect(
      h.services.orders.placeOrder(s.server, { orderId: key('o'), member: { id: memberId }, lines: [line('X', 100)], idempotencyKey: 'sys:x' }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'idempotencyKey' } });
    for (const call of ['payOrder', 'cancelOrder'] as const) {
      await expect(h.services.orders[call](s.server, { orderId: 'o', idempotencyKey: 'sys:x' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    }
    await expect(
      h.services.orders.refundOrderLines(s.server, { orderId: 'o', lines: [{ lineIndex: 0, quantity: 1 }], idempotencyKey: 'sys:x' }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await h.count('select count(*) from idempotency_record where program_id = ?', [s.programId])).toBe(before);
  });

  it('storefront keys shaped like the birthday job\'s neither block nor hide a birthday', async () => {
    const s = await shop(h);
    await s.rule('Birthday', { trigger: 'birthday', actions: [{ code: 'fixedPoints', args: { points: 1_000 } }] });
    const blocked = (await h.services.members.upsert(testContext(s.programId, 'server'), { externalId: 's2-blocked', birthday: '1990-06-15' })).member.id;
    const hidden = (await h.services.members.upsert(testContext(s.programId, 'server'), { externalId: 's2-hidden', birthday: '1990-06-15' })).member.id;
    // A ledger write under the key the job used to claim, and an event under the key it used to look for.
    await h.services.ledger.accrue(s.server, { member: { id: blocked }, points: 5, idempotencyKey: `birthday:${blocked}:2026` });
    await h.services.events.trackEvent(testContext(s.server), { type: 'party', member: { id: hidden }, idempotencyKey: `birthday:${hidden}:2026` });

    const run = await h.services.events.birthdays(jobContext(s.programId, 'birthdays', testLogger), new Date('2026-06-15T09:00:00Z'));
    expect(run.failed).toBe(0);
    for (const memberId of [blocked, hidden]) {
      expect(await h.count(`select count(*) from event where member_id = ? and type = 'birthday'`, [memberId])).toBe(1);
    }
    expect((await h.balance(blocked)).available).toBe(1_005);
    expect((await h.balance(hidden)).available).toBe(1_000);
  });
});

async function accountOf(harness: RulesHarness, memberId: string): Promise<any> {
  const [row] = await harness.orm.em.fork().execute('select * from account where member_id = ?', [memberId]);
  return row;
}

/**
 * Deadlocks PostgreSQL detected in the harness's database. A backend reports its statistics
 * when it exits, so the harness's connections are closed first and their exit awaited.
 */
async function deadlocksAfterClosing(harness: RulesHarness): Promise<number> {
  await harness.orm.close(true);
  const client = new Client({ connectionString: harness.db.url });
  await client.connect();
  try {
    for (let i = 0; i < 100; i++) {
      const { rows } = await client.query(
        'select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
      );
      if (rows[0].n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { rows } = await client.query('select deadlocks from pg_stat_database where datname = current_database()');
    return Number(rows[0].deadlocks);
  } finally {
    await client.end();
  }
}
