import { NegativeBalancePolicy } from '../../src/entities/program';
import { RuleStatus } from '../../src/entities/rule';
import type { ProgramSettings } from '../../src/services/programs';
import { LedgerAudit } from '../../src/services/ledger';
import type { OrderLineInput } from '../../src/services/orders';
import { DAY_MS, type RequestContext } from '../../src/services/shared';
import { testContext } from '../support/context';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/**
 * A paid order writes one ledger entry per beneficiary, whatever the number of rules that gave
 * it points: its lots split only where the rules' lifetimes differ, and the rule_award rows
 * (shown as the order award's breakdown) say which rule and version gave what. Taking the
 * order back — in part or whole, with points already spent — works across all of the entry's
 * lots and leaves the books balanced.
 */

let h: RulesHarness;
let seq = 0;
const key = (prefix = 'k') => `${prefix}-${++seq}`;

beforeAll(async () => {
  h = await rulesHarness(new Date('2026-04-01T09:00:00Z'));
});
afterAll(() => h.close());

/** 10 000 rubles in three lines that do not split evenly. */
const LINES: OrderLineInput[] = [
  { sku: 'BOOTS', category: 'shoes', unitPriceMinor: 333_333, quantity: 1 },
  { sku: 'SOCKS', category: 'apparel', unitPriceMinor: 111_111, quantity: 3 },
  { sku: 'BALL', category: 'balls', unitPriceMinor: 333_334, quantity: 1 },
];

interface Shop {
  programId: string;
  server: RequestContext;
  rules: { percent: string; bonus: string; longLived: string; referrer: string };
  member(externalId: string, referrerExternalId?: string): Promise<string>;
  paidOrder(memberId: string): Promise<Awaited<ReturnType<typeof h.services.orders.payOrder>>>;
  lotsOf(entryId: number): Promise<Array<{ amount: number; remaining: number; forgiven: number; expiresInDays: number }>>;
  expectBooksBalance(): Promise<void>;
}

async function shop(settings: Partial<ProgramSettings> = {}): Promise<Shop> {
  const { program } = await h.services.programs.createProgram(h.admin, { name: key('shop'), maxRedeemPercent: 20, ...settings });
  const programId = program.id;
  const admin = testContext(programId, 'admin', 'admin');
  const server = testContext(programId, 'server', 'storefront');
  const rule = async (name: string, definition: Record<string, unknown>) =>
    (await h.services.rules.createRule(admin, { name, status: RuleStatus.ACTIVE, definition: { trigger: 'order_paid', ...definition } as never })).id;
  // Three rules for the member — two living a month, one three months — and one for the referrer.
  const rules = {
    percent: await rule('5 % back', { actions: [{ code: 'percentOfAmount', args: { percent: 5 } }], lifetimeDays: 30 }),
    bonus: await rule('Bonus 101', { actions: [{ code: 'fixedPoints', args: { points: 101 } }], lifetimeDays: 30 }),
    longLived: await rule('Keepsake 7', { actions: [{ code: 'fixedPoints', args: { points: 7 } }], lifetimeDays: 90 }),
    referrer: await rule('Referrer 50', { actions: [{ code: 'rewardReferrer', args: { points: 50 } }] }),
  };
  const em = () => h.orm.em.fork();
  return {
    programId,
    server,
    rules,
    async member(externalId, referrerExternalId) {
      return (await h.services.members.upsert(server, { externalId, referrerExternalId })).member.id;
    },
    async paidOrder(memberId) {
      const orderId = key('order');
      await h.services.orders.placeOrder(server, { orderId, member: { id: memberId }, lines: LINES, idempotencyKey: key('place') });
      return h.services.orders.payOrder(server, { orderId, idempotencyKey: key('pay') });
    },
    async lotsOf(entryId) {
      const rows = await em().execute(
        'select amount, remaining, forgiven, expires_at from lot where source_entry_id = ? order by expires_at, id',
        [entryId],
      );
      return rows.map((r: any) => ({
        amount: Number(r.amount),
        remaining: Number(r.remaining),
        forgiven: Number(r.forgiven),
        expiresInDays: Math.round((new Date(r.expires_at).getTime() - h.clock.now().getTime()) / DAY_MS),
      }));
    },
    async expectBooksBalance() {
      const verification = await new LedgerAudit(h.database).verifyLedger({ programId });
      expect(verification.discrepancies).toEqual([]);
    },
  };
}

describe('one entry per beneficiary', () => {
  it('three rules give the member one entry with a lot per lifetime; the breakdown names each rule version', async () => {
    const s = await shop();
    const referrerId = await s.member('coach');
    const memberId = await s.member('pupil', 'coach');
    const paid = await s.paidOrder(memberId);

    expect(paid.order.pointsEarned).toBe(500 + 101 + 7);
    const mine = paid.order.awards.find((a) => a.memberId === memberId)!;
    const theirs = paid.order.awards.find((a) => a.memberId === referrerId)!;
    expect(paid.order.awards).toHaveLength(2);
    expect(mine.points).toBe(608);
    expect(mine.breakdown.map((p) => [p.ruleId, p.ruleName, p.version, p.points]).sort((a, b) => Number(b[3]) - Number(a[3]))).toEqual([
      [s.rules.percent, '5 % back', 1, 500],
      [s.rules.bonus, 'Bonus 101', 1, 101],
      [s.rules.longLived, 'Keepsake 7', 1, 7],
    ]);
    expect(mine.breakdown.every((p) => typeof p.ruleVersionId === 'string')).toBe(true);
    expect(theirs.breakdown.map((p) => [p.ruleId, p.points])).toEqual([[s.rules.referrer, 50]]);

    // Reading the order back gives the same awards and breakdown.
    const read = await h.services.orders.getOrder(s.server, paid.order.orderId);
    expect(read!.awards).toEqual(paid.order.awards);

    // The member's entry: one accrual of 608 naming no single rule version; two lots (30 and 90 days).
    const [entry] = await h.orm.em.fork().execute('select amount, cause_type, cause_id, rule_version_id, reason from ledger_entry where id = ?', [mine.entryId]);
    expect(entry).toMatchObject({ amount: 608, cause_type: 'rule', cause_id: null, rule_version_id: null });
    // Its reason names the rules in the breakdown's (evaluation) order.
    expect(entry.reason).toBe(mine.breakdown.map((p) => p.ruleName).join(', '));
    expect(await s.lotsOf(mine.entryId)).toEqual([
      { amount: 601, remaining: 601, forgiven: 0, expiresInDays: 30 },
      { amount: 7, remaining: 7, forgiven: 0, expiresInDays: 90 },
    ]);
    // The referrer's entry has one rule: it names it, as every single-rule entry does.
    const [referrerEntry] = await h.orm.em.fork().execute('select cause_id, rule_version_id from ledger_entry where id = ?', [theirs.entryId]);
    expect(referrerEntry).toMatchObject({ cause_id: s.rules.referrer, rule_version_id: theirs.breakdown[0].ruleVersionId });

    // rule_award keeps one row per rule and beneficiary, each naming its entry (what caps count).
    expect(await h.count('select count(*) from rule_award where entry_id = ?', [mine.entryId])).toBe(3);
    expect(await h.count('select count(*) from shop_order_award where entry_id = ?', [mine.entryId])).toBe(1);
    await s.expectBooksBalance();
  });

  it('returning lines takes back each rule\'s share rounded down, from the entry\'s lots; returning the rest takes back all of them', async () => {
    const s = await shop();
    const memberId = await s.member('returner');
    const paid = await s.paidOrder(memberId);
    const award = paid.order.awards[0];

    // One of the three socks, 1 111.11 of 10 000 rubles: floor(55.6) + floor(11.2) + floor(0.8) = 66 — as three entries
    // would have given, where the entry's 608 alone would give 67.
    const refunded = await h.services.orders.refundOrderLines(s.server, {
      orderId: paid.order.orderId, lines: [{ sku: 'SOCKS', quantity: 1 }], idempotencyKey: key('refund'),
    });
    expect(refunded.refund.pointsTakenBack).toBe(66);
    expect(refunded.order.awards[0].takenBack).toBe(66);
    const lots = await s.lotsOf(award.entryId);
    expect(lots.reduce((sum, l) => sum + l.remaining, 0)).toBe(608 - 66);
    await s.expectBooksBalance();

    const rest = await h.services.orders.refundOrderLines(s.server, {
      orderId: paid.order.orderId, lines: [{ sku: 'BOOTS', quantity: 1 }, { sku: 'SOCKS', quantity: 2 }, { sku: 'BALL', quantity: 1 }],
      idempotencyKey: key('refund'),
    });
    expect(rest.order.awards[0]).toMatchObject({ points: 608, takenBack: 608 });
    expect(rest.account).toMatchObject({ available: 0, pending: 0, debt: 0 });
    expect((await s.lotsOf(award.entryId)).map((l) => l.remaining)).toEqual([0, 0]);
    await s.expectBooksBalance();
  });

  it('points of the entry already spent: the take-back forgives them on the lots they were spent from', async () => {
    const s = await shop();
    const memberId = await s.member('spender');
    const paid = await s.paidOrder(memberId);
    const award = paid.order.awards[0];
    // Spending 605 empties the month-long lot (601) and takes 4 of the three-month one.
    await h.services.ledger.redeem(s.server, { member: { id: memberId }, points: 605, idempotencyKey: key('spend') });

    const cancelled = await h.services.orders.cancelOrder(s.server, { orderId: paid.order.orderId, idempotencyKey: key('cancel') });
    expect(cancelled.account).toMatchObject({ available: 0, debt: 0 });
    expect(await s.lotsOf(award.entryId)).toEqual([
      { amount: 601, remaining: 0, forgiven: 601, expiresInDays: 30 },
      { amount: 7, remaining: 0, forgiven: 4, expiresInDays: 90 },
    ]);
    await s.expectBooksBalance();
  });

  it('verifyLedger checks that an entry\'s lots hold its points', async () => {
    const s = await shop();
    const memberId = await s.member('audited');
    const paid = await s.paidOrder(memberId);
    const { entryId } = paid.order.awards[0];
    await s.expectBooksBalance();
    // One lot made bigger than the entry gave it (its remainder with it): only the sum over the entry's lots can tell.
    const em = h.orm.em.fork();
    await em.execute('update lot set amount = amount + 5 where id = (select max(id) from lot where source_entry_id = ?)', [entryId]);
    const broken = await new LedgerAudit(h.database).verifyLedger({ programId: s.programId });
    expect(broken.discrepancies).toEqual([
      expect.objectContaining({ memberId, check: 'accrual_lots', expected: 608, actual: 613, lotId: expect.any(Number) }),
      expect.objectContaining({ memberId, check: 'lot_remaining', lotId: expect.any(Number) }),
    ]);
    await em.execute('update lot set amount = amount - 5 where id = (select max(id) from lot where source_entry_id = ?)', [entryId]);
    await s.expectBooksBalance();
  });

  it('a member in debt: the entry is written, then repays the debt from both of its lots, nearest expiry first', async () => {
    const s = await shop({ negativeBalancePolicy: NegativeBalancePolicy.ALLOW_DEBT });
    const memberId = await s.member('debtor');
    const first = await s.paidOrder(memberId);
    await h.services.ledger.redeem(s.server, { member: { id: memberId }, points: 605, idempotencyKey: key('spend') });
    const cancelled = await h.services.orders.cancelOrder(s.server, { orderId: first.order.orderId, idempotencyKey: key('cancel') });
    expect(cancelled.account).toMatchObject({ available: 0, debt: 605 });

    const second = await s.paidOrder(memberId);
    expect(second.order.pointsEarned).toBe(608);
    expect(second.account).toMatchObject({ available: 3, debt: 0 });
    // 601 of the month-long lot and 4 of the three-month one repaid the debt.
    expect((await s.lotsOf(second.order.awards[0].entryId)).map((l) => l.remaining)).toEqual([0, 3]);
    await s.expectBooksBalance();
  });
});
