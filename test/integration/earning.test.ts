import { RuleStatus } from '../../src/entities/rule';
import { AccountBook } from '../../src/services/ledger';
import { DAY_MS } from '../../src/services/shared';
import type { RuleContext } from '../../src/rules';
import { rulesHarness, together, type RulesHarness } from '../support/rules-harness';

let h: RulesHarness;
let seq = 0;
const key = () => `earning-${++seq}`;

beforeAll(async () => {
  // 20:30 UTC is 23:30 in Moscow (the program's zone): the local day ends half an hour later.
  h = await rulesHarness(new Date('2026-03-10T20:30:00Z'));
});
afterAll(() => h.close());

const fixed = (trigger: string, points: number, extra: object = {}) => ({ trigger, actions: [{ code: 'fixedPoints', args: { points } }], ...extra });

function track(memberId: string, type: string) {
  return h.services.events.trackEvent(h.server, { type, member: { id: memberId }, idempotencyKey: key() });
}

/** What the order service does when an order is paid: lock the account, earn, commit. */
function payOrder(memberId: string, orderId: string, totalMinor: number, extra: Partial<NonNullable<RuleContext['order']>> = {}) {
  return h.database.transaction(async (tx) => {
    const book = await AccountBook.open(tx, h.programId, { id: memberId }, h.clock.now());
    return h.services.earning.earn(tx, book, {
      trigger: 'order_paid',
      occurredAt: h.clock.now(),
      payload: {},
      source: { type: 'order', id: orderId },
      order: { totalMinor, lines: [{ sku: 'ITEM', unitPriceMinor: totalMinor, quantity: 1, onSale: false, eligibleMoneyMinor: totalMinor }], ...extra },
    });
  });
}

const awarded = (ruleId: string, memberId?: string) =>
  h.count(`select coalesce(sum(points), 0) from rule_award where rule_id = ?${memberId ? ' and member_id = ?' : ''}`, memberId ? [ruleId, memberId] : [ruleId]);

describe('caps', () => {
  it('per member per day counts the program\'s local day', async () => {
    const memberId = await h.member('cap-day');
    const rule = await h.rule('Check-in', fixed('checkin', 60, { caps: { perMemberPerDay: 100 } }));
    expect((await track(memberId, 'checkin')).memberPoints).toBe(60);
    const cut = await track(memberId, 'checkin');
    expect(cut.memberPoints).toBe(40);
    expect((await track(memberId, 'checkin')).memberPoints).toBe(0);
    // 00:10 in Moscow, still 21:10 UTC on the same UTC day: a new local day, so a new allowance.
    h.clock.advance(40 * 60_000);
    expect((await track(memberId, 'checkin')).memberPoints).toBe(60);
    expect(await awarded(rule.id, memberId)).toBe(160);
  });

  it('per week, per month and lifetime caps; another member has their own allowance', async () => {
    const [a, b] = [await h.member('cap-week-a'), await h.member('cap-week-b')];
    await h.rule('Weekly', fixed('weekly', 30, { caps: { perMemberPerWeek: 50, perMemberLifetime: 80 } }));
    expect((await track(a, 'weekly')).memberPoints).toBe(30);
    expect((await track(a, 'weekly')).memberPoints).toBe(20);
    expect((await track(b, 'weekly')).memberPoints).toBe(30);
    h.clock.advance(7 * DAY_MS);
    expect((await track(a, 'weekly')).memberPoints).toBe(30);
    expect((await track(a, 'weekly')).memberPoints).toBe(0); // lifetime 80 reached
  });

  it('concurrent events never exceed a per-member cap', async () => {
    const memberId = await h.member('cap-race');
    const rule = await h.rule('Race', fixed('race', 30, { caps: { perMemberPerDay: 100 } }));
    const results = await together(...Array.from({ length: 8 }, () => () => track(memberId, 'race')));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(await awarded(rule.id, memberId)).toBe(100);
    expect(await h.balance(memberId)).toEqual({ available: 100, pending: 0 });
  });

  it('a total budget holds across members earning at the same time', async () => {
    const members = await Promise.all(Array.from({ length: 8 }, (_, i) => h.member(`budget-${i}`)));
    const rule = await h.rule('Launch budget', fixed('launch', 30, { caps: { totalBudget: 100 } }));
    const results = await together(...members.map((m) => () => track(m, 'launch')));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(await awarded(rule.id)).toBe(100);
    expect((await h.services.rules.getRule(h.admin, rule.id)).budgetUsed).toBe(100);
    const credited = await h.count(
      `select coalesce(sum(amount), 0) from ledger_entry where cause_type = 'rule' and cause_id = ?`, [rule.id]);
    expect(credited).toBe(100);
  });
});

describe('milestones (E6)', () => {
  it('crossing a cumulative spend threshold awards once, even with concurrent orders', async () => {
    const memberId = await h.member('milestone-1');
    const rule = await h.rule('Spent 20 000', {
      trigger: 'order_paid',
      oncePerMember: true,
      condition: { condition: 'cumulativeSpendCrosses', args: { threshold: 2_000_000 } },
      actions: [{ code: 'fixedPoints', args: { points: 500 } }],
    });
    expect((await payOrder(memberId, 'm1-a', 1_500_000)).memberPoints).toBe(0);
    const results = await together(
      () => payOrder(memberId, 'm1-b', 600_000),
      () => payOrder(memberId, 'm1-c', 700_000),
      () => payOrder(memberId, 'm1-d', 800_000),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(await awarded(rule.id, memberId)).toBe(500);
    expect(await h.count('select paid_minor from member_spend where member_id = ?', [memberId])).toBe(3_600_000);
  });

  it('a once-per-member rule whose condition keeps matching still awards once under concurrency', async () => {
    const memberId = await h.member('milestone-2');
    const rule = await h.rule('First big order', {
      trigger: 'order_paid',
      oncePerMember: true,
      condition: { condition: 'orderTotal', args: { min: 100_000 } },
      actions: [{ code: 'fixedPoints', args: { points: 200 } }],
    });
    const results = await together(...Array.from({ length: 5 }, (_, i) => () => payOrder(memberId, `m2-${i}`, 150_000)));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(await awarded(rule.id, memberId)).toBe(200);
    expect(await h.count('select count(*) from rule_award where rule_id = ? and one_off', [rule.id])).toBe(1);
  });

  it('the same order earned twice is earned once', async () => {
    const memberId = await h.member('order-twice');
    await h.rule('Cashback', { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }], lifetimeDays: 30 });
    const [first, second] = await together(() => payOrder(memberId, 'twice', 1_000_000), () => payOrder(memberId, 'twice', 1_000_000));
    const points = [first, second].map((r) => (r.status === 'fulfilled' ? r.value.memberPoints : -1)).sort((a, b) => a - b);
    // 500 cashback (+ whatever the suite's earlier order rules give), and nothing the second time.
    expect(points[0]).toBe(0);
    expect(points[1]).toBeGreaterThanOrEqual(500);
    expect(await h.balance(memberId)).toEqual({ available: points[1], pending: 0 });
    expect(await h.count(`select count(*) from earned_source where source_type = 'order' and source_id = 'twice'`)).toBe(1);
  });
});

describe('the worked example (seed 000) and referrers (E7)', () => {
  it('registration +500, 5 % of a paid order for a month, the referrer gets 50 for a 1 000 order', async () => {
    await h.rule('Welcome', fixed('registration', 500));
    await h.rule('Referrer 50', {
      trigger: 'order_paid',
      condition: { condition: 'orderTotal', args: { min: 100_000 } },
      actions: [{ code: 'rewardReferrer', args: { level: 1, points: 50 } }],
    });
    const referrer = await h.member('seed-referrer');
    const referee = await h.member('seed-referee', { referrerExternalId: 'seed-referrer' });
    expect(await h.balance(referrer)).toEqual({ available: 500, pending: 0 });
    expect(await h.balance(referee)).toEqual({ available: 500, pending: 0 });

    const before = h.published.length;
    const outcome = await payOrder(referee, 'seed-order', 1_000_000);
    expect(outcome.awards.map((a) => [a.ruleName, a.memberId, a.points])).toEqual(
      expect.arrayContaining([
        ['Cashback', referee, 500],
        ['Referrer 50', referrer, 50],
      ]),
    );
    expect(await h.balance(referrer)).toEqual({ available: 550, pending: 0 });
    // The referee's entry carries every rule that rewarded them; the cashback's points live in its 30-day lot.
    const lots = await h.orm.em.fork().execute(
      `select extract(epoch from l.expires_at - l.available_at) / 86400 as lifetime from lot l join ledger_entry e on e.id = l.source_entry_id
       where e.id = ?`, [outcome.awards.find((a) => a.ruleName === 'Cashback')!.entry.id]);
    expect(lots.map((l) => Number(l.lifetime))).toContain(30);
    // Nothing reaches subscribers from inside the transaction: the relay publishes the outbox once committed.
    expect(h.published.length).toBe(before);
  });

  it('no referrer: the referrer award is simply not made', async () => {
    const loner = await h.member('no-referrer');
    const outcome = await payOrder(loner, 'loner-order', 1_000_000);
    expect(outcome.awards.some((a) => a.referrerLevel !== null)).toBe(false);
  });
});

describe('rule timing', () => {
  it('a rule delay keeps points pending; the program default applies otherwise', async () => {
    const memberId = await h.member('delay-1');
    await h.services.rules.createRule(h.admin, { name: 'Deferred', status: RuleStatus.ACTIVE, definition: fixed('deferred', 40, { delayDays: 14 }) });
    await track(memberId, 'deferred');
    expect(await h.balance(memberId)).toMatchObject({ pending: 40 });
  });
});
