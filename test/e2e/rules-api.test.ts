import { startTestServer, type TestServer } from '../support/server';
import {
  CreateRuleDocument,
  HistoryWithRulesDocument,
  RuleCatalogueDocument,
  RulesDocument,
  RuleWithVersionsDocument,
  SetRuleStatusDocument,
  SimulateEventDocument,
  TrackEventDocument,
  UpdateRuleDocument,
} from './generated/graphql';
import { codesOf, createMember, createProgram, ok, uniqueKey, type ProgramFixture } from './helpers';

let s: TestServer;
let P: ProgramFixture;

beforeAll(async () => {
  s = await startTestServer();
  P = await createProgram(s);
});
afterAll(() => s.close());

const reviewRule = (points: number) => ({
  trigger: 'product_review',
  condition: { condition: 'eventField', args: { path: 'rating', operator: 'gte', value: 4 } },
  actions: [{ code: 'fixedPoints', args: { points } }],
  caps: { perMemberPerDay: 100 },
});

test('the catalogue lists conditions and actions with their typed arguments', async () => {
  const data = ok(await s.request(RuleCatalogueDocument, {}, P.adminKey));
  const orderTotal = data.ruleConditions.find((c) => c.code === 'orderTotal')!;
  expect(orderTotal.args.map((a) => [a.name, a.type, a.required, a.min])).toEqual([
    ['min', 'int', false, 0],
    ['max', 'int', false, 0],
  ]);
  expect(data.ruleConditions.find((c) => c.code === 'eventField')!.args.find((a) => a.name === 'operator')!.options).toContain('gte');
  expect(data.ruleConditions.map((c) => c.code)).toContain('cumulativeSpendCrosses');
  const percent = data.ruleActions.find((a) => a.code === 'percentOfAmount')!;
  expect(percent).toMatchObject({ stage: 'award', args: expect.arrayContaining([expect.objectContaining({ name: 'percent', type: 'decimal', min: 0, max: 100 })]) });
  expect(data.ruleActions.find((a) => a.code === 'perProductPoints')!.args[0].columns!.map((c) => c.name)).toEqual(['sku', 'points']);
  // What reads the paid order is marked: only order_paid rules may use it.
  expect(data.ruleConditions.filter((c) => c.readsOrder).map((c) => c.code).sort()).toEqual(['channel', 'cumulativeSpendCrosses', 'orderHasLine', 'orderTotal', 'paymentMethod']);
  expect(data.ruleActions.filter((a) => a.readsOrder).map((a) => a.code).sort()).toEqual(['perProductPoints', 'percentOfAmount']);
  // Coupons are not issued yet: the action a rule could not use is not offered.
  expect(data.ruleActions.map((a) => a.code)).not.toContain('issueCoupon');

  const asServer = await s.request(RuleCatalogueDocument, {}, P.serverKey);
  expect(codesOf(asServer)).toEqual(['FORBIDDEN']);
});

test('an admin creates and edits a rule; a storefront tracks events; the history names the rule version', async () => {
  const created = ok(await s.request(CreateRuleDocument, { input: { name: 'Good review', status: 'ACTIVE', definition: reviewRule(40) } }, P.adminKey)).createRule;
  expect(created).toMatchObject({ name: 'Good review', status: 'ACTIVE', version: 1, definition: { trigger: 'product_review', priority: 0, caps: { perMemberPerDay: 100 } } });
  expect(created.definition.condition).toEqual(reviewRule(40).condition);

  const member = await createMember(s, P.serverKey);
  const track = (payload: object, idempotencyKey = uniqueKey('review')) =>
    s.request(TrackEventDocument, { input: { type: 'product_review', member: { id: member.id }, payload, idempotencyKey } }, P.serverKey);

  const first = ok(await track({ sku: 'BALL', rating: 5 }, 'review-1')).trackEvent;
  expect(first).toMatchObject({
    memberPoints: 40,
    event: { type: 'product_review', memberId: member.id, payload: { sku: 'BALL', rating: 5 }, idempotencyKey: 'review-1' },
    awards: [{ points: 40, memberId: member.id, referrerLevel: null, rule: { id: created.id, name: 'Good review', version: 1 }, entry: { amount: 40, causeType: 'RULE', ruleVersionId: created.versionId } }],
  });
  // A replay answers the first result and credits nothing.
  expect(ok(await track({ sku: 'BALL', rating: 5 }, 'review-1')).trackEvent).toEqual(first);
  expect(ok(await track({ sku: 'BAT', rating: 2 })).trackEvent.memberPoints).toBe(0);

  const updated = ok(await s.request(UpdateRuleDocument, { input: { id: created.id, definition: reviewRule(70) } }, P.adminKey)).updateRule;
  expect(updated.version).toBe(2);
  const capped = ok(await track({ sku: 'NET', rating: 4 })).trackEvent;
  expect(capped.memberPoints).toBe(60); // 40 + 60 = the daily cap of 100
  // The answer says which limit cut the award, and what the rule asked for.
  expect(capped.limited).toEqual([
    { rule: { id: created.id, version: 2 }, memberId: member.id, referrerLevel: null, requestedPoints: 70, points: 60, limitedBy: 'PER_MEMBER_PER_DAY' },
  ]);
  const nothing = ok(await track({ sku: 'GLOVE', rating: 5 })).trackEvent;
  expect([nothing.memberPoints, nothing.awards, nothing.limited.map((l) => [l.points, l.limitedBy])]).toEqual([0, [], [[0, 'PER_MEMBER_PER_DAY']]]);
  expect(first.limited).toEqual([]);

  const withVersions = ok(await s.request(RuleWithVersionsDocument, { id: created.id }, P.adminKey)).rule;
  expect(withVersions.versions.map((v) => [v.version, v.definition.actions[0].args])).toEqual([
    [2, { points: 70 }],
    [1, { points: 40 }],
  ]);

  // One batched lookup for every entry's rule, however long the history.
  const lookups = jest.spyOn(s.app.services.rules, 'versionRefs');
  const history = ok(await s.request(HistoryWithRulesDocument, { member: { id: member.id }, first: 10 }, P.serverKey)).ledgerEntries.nodes;
  expect(lookups).toHaveBeenCalledTimes(1);
  lookups.mockRestore();
  expect(history.filter((e) => e.rule).map((e) => [e.amount, e.rule!.name, e.rule!.version])).toEqual([
    [60, 'Good review', 2],
    [40, 'Good review', 1],
  ]);

  const paused = ok(await s.request(SetRuleStatusDocument, { id: created.id, status: 'PAUSED' }, P.adminKey)).setRuleStatus;
  expect(paused).toEqual({ id: created.id, status: 'PAUSED', version: 2 });
  const listed = ok(await s.request(RulesDocument, { filter: { status: 'PAUSED' } }, P.adminKey)).rules;
  expect(listed.map((r) => r.id)).toEqual([created.id]);
});

test('an invalid definition is BAD_USER_INPUT naming the node, and nothing is saved', async () => {
  const before = ok(await s.request(RulesDocument, {}, P.adminKey)).rules.length;
  const res = await s.request(
    CreateRuleDocument,
    {
      input: {
        name: 'Broken',
        definition: {
          trigger: 'order_paid',
          condition: { any: [{ condition: 'orderTotal', args: { min: 10 } }, { condition: 'noSuchCondition' }] },
          actions: [{ code: 'percentOfAmount', args: { percent: 250 } }],
        },
      },
    },
    P.adminKey,
  );
  expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
  expect(res.errors![0].extensions!.errors).toEqual([
    { path: 'condition.any[1].condition', message: 'unknown condition "noSuchCondition"' },
    { path: 'actions[0].args.percent', message: '250 is above the maximum 100' },
  ]);
  expect(ok(await s.request(RulesDocument, {}, P.adminKey)).rules.length).toBe(before);
});

test('a rule reading the paid order is refused on another trigger, and nothing is saved', async () => {
  const before = ok(await s.request(RulesDocument, {}, P.adminKey)).rules.length;
  const definition = {
    trigger: 'product_review',
    condition: { condition: 'orderTotal', args: { min: 10 } },
    actions: [{ code: 'percentOfAmount', args: { percent: 5 } }],
  };
  const res = await s.request(CreateRuleDocument, { input: { name: 'Cashback on reviews', definition } }, P.adminKey);
  expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
  expect(res.errors![0].extensions!.errors).toEqual([
    { path: 'condition', message: 'orderTotal reads the paid order, which only order_paid events carry' },
    { path: 'actions[0]', message: 'percentOfAmount reads the paid order, which only order_paid events carry' },
  ]);
  expect(ok(await s.request(RulesDocument, {}, P.adminKey)).rules.length).toBe(before);
  // The same rule on order_paid is saved.
  ok(await s.request(CreateRuleDocument, { input: { name: 'Cashback on orders (draft)', definition: { ...definition, trigger: 'order_paid' } } }, P.adminKey));
});

test('trackEvent is for keys; bad payloads and system event types are refused', async () => {
  const member = await createMember(s, P.serverKey);
  const input = (type: string, payload: object) => ({ input: { type, member: { id: member.id }, payload, idempotencyKey: uniqueKey('ev') } });
  const badScore = await s.request(TrackEventDocument, input('survey_answer', { score: 12 }), P.serverKey);
  expect(codesOf(badScore)).toEqual(['BAD_USER_INPUT']);
  expect(badScore.errors![0].extensions!.field).toBe('payload.score');
  expect(codesOf(await s.request(TrackEventDocument, input('birthday', {}), P.serverKey))).toEqual(['BAD_USER_INPUT']);
  expect(ok(await s.request(TrackEventDocument, input('survey_answer', { score: 10 }), P.serverKey)).trackEvent.memberPoints).toBe(0);
});

test('simulateEvent explains matches and mismatches without writing', async () => {
  ok(await s.request(CreateRuleDocument, {
    input: {
      name: 'Big order bonus',
      status: 'ACTIVE',
      definition: {
        trigger: 'order_paid',
        condition: { all: [{ condition: 'orderTotal', args: { min: 500000 } }] },
        actions: [{ code: 'fixedPoints', args: { points: 300 } }],
      },
    },
  }, P.adminKey));
  ok(await s.request(CreateRuleDocument, {
    input: { name: 'Cashback', status: 'ACTIVE', definition: { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }] } },
  }, P.adminKey));
  const member = await createMember(s, P.serverKey);
  const simulation = ok(await s.request(SimulateEventDocument, {
    input: {
      type: 'order_paid',
      member: { id: member.id },
      order: { totalMinor: 100000, lines: [{ sku: 'BALL', unitPriceMinor: 100000, quantity: 1, eligibleMoneyMinor: 100000 }] },
    },
  }, P.adminKey)).simulateEvent;
  const byName = Object.fromEntries(simulation.rules.map((r) => [r.rule.name, r]));
  expect(byName['Big order bonus']).toMatchObject({ matched: false, reason: { code: 'CONDITION', path: 'condition.all[0]', message: 'orderTotal: 100000 < min 500000' } });
  expect(byName['Cashback']).toMatchObject({ matched: true, reason: null, awards: [{ points: 50, requestedPoints: 50, limitedBy: null, memberId: member.id }] });
  expect(byName['Good review']).toMatchObject({ status: 'PAUSED', matched: false, reason: { code: 'TRIGGER' } });
  expect(simulation.memberPoints).toBe(50);
  const history = ok(await s.request(HistoryWithRulesDocument, { member: { id: member.id } }, P.serverKey)).ledgerEntries.nodes;
  expect(history).toEqual([]);
});
