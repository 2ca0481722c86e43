import { RuleStatus } from '../../src/entities/rule';
import type { RuleDefinitionInput } from '../../src/services/earning';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

let h: RulesHarness;
let seq = 0;
const key = () => `rules-${++seq}`;

beforeAll(async () => {
  h = await rulesHarness();
});
afterAll(() => h.close());

const review = (points: number): RuleDefinitionInput => ({
  trigger: 'product_review',
  actions: [{ code: 'fixedPoints', args: { points } }],
});

describe('rule versions', () => {
  it('an edit makes a new version; each entry names the version that produced it', async () => {
    const memberId = await h.member('versions-1');
    const created = await h.services.rules.createRule(h.admin, { name: 'Review bonus', status: RuleStatus.ACTIVE, definition: review(10) });
    expect(created).toMatchObject({ version: 1, status: 'active', definition: { trigger: 'product_review' } });

    const first = await h.services.events.trackEvent(h.server, { type: 'product_review', member: { id: memberId }, payload: { sku: 'A' }, idempotencyKey: key() });
    const updated = await h.services.rules.updateRule(h.admin, created.id, { definition: review(25) });
    expect(updated.version).toBe(2);
    expect(updated.versionId).not.toBe(created.versionId);
    const second = await h.services.events.trackEvent(h.server, { type: 'product_review', member: { id: memberId }, payload: { sku: 'B' }, idempotencyKey: key() });

    expect(first.awards).toEqual([expect.objectContaining({ points: 10, ruleVersionId: created.versionId, version: 1, ruleName: 'Review bonus' })]);
    expect(second.awards).toEqual([expect.objectContaining({ points: 25, ruleVersionId: updated.versionId, version: 2 })]);
    const entries = await h.orm.em.fork().execute(
      `select rule_version_id, cause_type, cause_id, reason, amount from ledger_entry where id in (?, ?) order by id`,
      [first.awards[0].entry.id, second.awards[0].entry.id],
    );
    expect(entries).toEqual([
      { rule_version_id: created.versionId, cause_type: 'rule', cause_id: created.id, reason: 'Review bonus', amount: 10 },
      { rule_version_id: updated.versionId, cause_type: 'rule', cause_id: created.id, reason: 'Review bonus', amount: 25 },
    ]);

    const refs = await h.services.rules.versionRefs(h.programId, [created.versionId, updated.versionId]);
    expect(refs.map((r) => r?.version)).toEqual([1, 2]);
    const [versions] = await h.services.rules.versionsOf(h.programId, [created.id]);
    expect(versions.map((v) => [v.version, (v.definition.actions[0].args as any).points])).toEqual([[2, 25], [1, 10]]);
  });

  it('saving the same definition again, or only a new name, makes no new version', async () => {
    const created = await h.services.rules.createRule(h.admin, { name: 'Same', definition: review(5) });
    const again = await h.services.rules.updateRule(h.admin, created.id, { name: 'Renamed', definition: review(5) });
    expect(again).toMatchObject({ version: 1, versionId: created.versionId, name: 'Renamed', status: 'draft' });
  });

  it('versions are immutable in the database too', async () => {
    const created = await h.services.rules.createRule(h.admin, { name: 'Frozen', definition: review(5) });
    await expect(
      h.orm.em.fork().execute(`update rule_version set definition = '{}' where id = ?`, [created.versionId]),
    ).rejects.toThrow(/immutable/);
  });

  it('the window survives storage as dates', async () => {
    const activeFrom = new Date('2026-11-27T00:00:00+03:00');
    const created = await h.services.rules.createRule(h.admin, {
      name: 'Black Friday',
      definition: { ...review(1), activeFrom, activeTo: new Date('2026-11-28T00:00:00+03:00') },
    });
    const loaded = await h.services.rules.getRule(h.admin, created.id);
    expect(loaded.definition.activeFrom).toEqual(activeFrom);
  });
});

describe('validation', () => {
  it('names the offending node and writes nothing', async () => {
    const before = await h.count('select count(*) from rule');
    const attempt = h.services.rules.createRule(h.admin, {
      name: 'Broken',
      definition: {
        trigger: 'order_paid',
        condition: { all: [{ condition: 'orderTotal', args: { min: 100 } }, { condition: 'orderTotal', args: { min: 500, max: 100 } }] },
        actions: [{ code: 'fixedPoints', args: { points: 10 } }, { code: 'noSuchAction' }],
        caps: { perMemberPerDay: -1 },
      },
    });
    await expect(attempt).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      details: {
        field: 'definition',
        errors: expect.arrayContaining([
          { path: 'condition.all[1].args.max', message: 'max 100 is below min 500' },
          { path: 'actions[1].code', message: 'unknown action "noSuchAction"' },
          { path: 'caps.perMemberPerDay', message: 'must be a positive integer' },
        ]),
      },
    });
    expect(await h.count('select count(*) from rule')).toBe(before);
  });

  it('refuses an action whose side effect nothing carries out yet (issueCoupon before coupons exist)', async () => {
    const attempt = h.services.rules.createRule(h.admin, {
      name: 'Coupon',
      definition: { ...review(1), actions: [{ code: 'fixedPoints', args: { points: 1 } }, { code: 'issueCoupon', args: { couponTemplate: 'THANKS' } }] },
    });
    await expect(attempt).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { errors: [{ path: 'actions[1].code', message: expect.stringContaining('coupons') }] } });
  });

  it('an invalid edit keeps the current version', async () => {
    const created = await h.services.rules.createRule(h.admin, { name: 'Keep', definition: review(5) });
    await expect(
      h.services.rules.updateRule(h.admin, created.id, { definition: { trigger: 'product_review', actions: [] } }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { errors: [{ path: 'actions', message: 'must be a non-empty list of actions' }] } });
    expect((await h.services.rules.getRule(h.admin, created.id)).version).toBe(1);
  });

  it('refuses bad triggers, day counts beyond the service bounds, and edits of archived rules', async () => {
    await expect(
      h.services.rules.createRule(h.admin, { name: 'x', definition: { ...review(1), trigger: 'Order Paid', lifetimeDays: 99_999 } }),
    ).rejects.toMatchObject({
      details: { errors: [{ path: 'trigger', message: expect.any(String) }, { path: 'lifetimeDays', message: 'must be at most 36500' }] },
    });
    const created = await h.services.rules.createRule(h.admin, { name: 'Old', definition: review(1) });
    await h.services.rules.setRuleStatus(h.admin, created.id, RuleStatus.ARCHIVED);
    await expect(h.services.rules.updateRule(h.admin, created.id, { name: 'New' })).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(h.services.rules.setRuleStatus(h.admin, created.id, RuleStatus.ACTIVE)).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });
});

describe('status and the active-rules cache', () => {
  it('pausing stops awards at once on this instance; a paused rule lists with its status', async () => {
    const memberId = await h.member('status-1');
    const rule = await h.rule('Visit bonus', { trigger: 'status_check', actions: [{ code: 'fixedPoints', args: { points: 3 } }] });
    const track = () => h.services.events.trackEvent(h.server, { type: 'status_check', member: { id: memberId }, idempotencyKey: key() });
    expect((await track()).memberPoints).toBe(3);
    await h.services.rules.setRuleStatus(h.admin, rule.id, RuleStatus.PAUSED);
    expect((await track()).memberPoints).toBe(0);
    await h.services.rules.setRuleStatus(h.admin, rule.id, RuleStatus.ACTIVE);
    expect((await track()).memberPoints).toBe(3);
    const paused = await h.services.rules.listRules(h.admin, { trigger: 'status_check' });
    expect(paused.map((r) => r.status)).toEqual(['active']);
  });

  it('loads the active rules once per program while the cache is fresh, not once per rule or event', async () => {
    const memberId = await h.member('cache-1');
    for (let i = 0; i < 3; i++) await h.rule(`Cache ${i}`, { trigger: 'cache_check', actions: [{ code: 'fixedPoints', args: { points: 1 } }] });
    const loads = jest.spyOn(h.services.rules as any, 'loadEngineRules');
    try {
      for (let i = 0; i < 3; i++) {
        const result = await h.services.events.trackEvent(h.server, { type: 'cache_check', member: { id: memberId }, idempotencyKey: key() });
        expect(result.memberPoints).toBe(3);
      }
      expect(loads.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      loads.mockRestore();
    }
  });
});

describe('simulateEvent', () => {
  it('shows what each rule would award, why the others do not, and writes nothing', async () => {
    const memberId = await h.member('simulate-1', { tags: ['vip'] });
    await h.rule('Cashback 5 %', {
      trigger: 'order_paid',
      condition: { all: [{ condition: 'memberTags', args: { tags: ['vip'] } }, { condition: 'orderTotal', args: { min: 500_000 } }] },
      actions: [{ code: 'percentOfAmount', args: { percent: 5 } }],
    });
    await h.rule('Card bonus', {
      trigger: 'order_paid',
      condition: { condition: 'paymentMethod', args: { methods: ['card_online'] } },
      actions: [{ code: 'fixedPoints', args: { points: 100 } }],
      caps: { perMemberPerDay: 60 },
    });
    const draft = await h.services.rules.createRule(h.admin, { name: 'Draft', definition: { trigger: 'order_paid', actions: [{ code: 'fixedPoints', args: { points: 1 } }] } });
    const tables = ['ledger_entry', 'rule_award', 'event', 'earned_source', 'member_spend', 'idempotency_record'];
    const counts = async () => Promise.all(tables.map((t) => h.count(`select count(*) from ${t}`)));
    const before = await counts();

    const simulation = await h.services.events.simulateEvent(h.admin, {
      type: 'order_paid',
      member: { externalId: 'simulate-1' },
      order: { totalMinor: 300_000, paymentMethod: 'card_online', lines: [{ sku: 'BALL', unitPriceMinor: 300_000, quantity: 1, onSale: false, eligibleMoneyMinor: 300_000 }] },
    });
    const byName = Object.fromEntries(simulation.rules.map((r) => [r.ruleName, r]));
    expect(byName['Cashback 5 %']).toMatchObject({
      matched: false,
      reason: { code: 'condition', path: 'condition.all[1]', message: 'orderTotal: 300000 < min 500000' },
      awards: [],
    });
    expect(byName['Card bonus']).toMatchObject({
      matched: true,
      reason: null,
      awards: [{ requestedPoints: 100, points: 60, limitedBy: 'perMemberPerDay', memberId, referrerLevel: null }],
    });
    expect(byName['Draft']).toMatchObject({ ruleId: draft.id, matched: false, reason: { code: 'inactive', path: 'status' } });
    expect(simulation.memberPoints).toBe(60);
    expect(await counts()).toEqual(before);
    expect(await h.balance(memberId)).toEqual({ available: 0, pending: 0 });
  });

  it('refuses a malformed order with BAD_USER_INPUT', async () => {
    await h.member('simulate-2');
    await expect(
      h.services.events.simulateEvent(h.admin, { type: 'order_paid', member: { externalId: 'simulate-2' }, order: { totalMinor: -5, lines: [] } }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});
