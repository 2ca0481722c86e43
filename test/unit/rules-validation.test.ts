import { compileRule, validateRule } from '../../src/rules/compile';
import { MAX_AWARD_POINTS } from '../../src/rules/earn-action';
import { MAX_POINTS } from '../../src/services/ledger';
import { makeContext } from '../support/rule-context';
import type { RuleDefinition } from '../../src/rules/types';

const valid: RuleDefinition = {
  trigger: 'order_paid',
  status: 'active',
  condition: { all: [{ condition: 'orderTotal', args: { min: 100_000 } }] },
  actions: [{ code: 'percentOfAmount', args: { percent: 5 } }],
  lifetimeDays: 30,
};

function errorsOf(definition: unknown) {
  const result = validateRule(definition);
  return result.ok ? [] : result.errors;
}

describe('validateRule', () => {
  it('accepts a valid definition, with or without optional fields', () => {
    expect(validateRule(valid)).toEqual({ ok: true });
    expect(
      validateRule({
        trigger: 'registration',
        status: 'draft',
        actions: [{ code: 'fixedPoints', args: { points: 500 } }],
      }),
    ).toEqual({
      ok: true,
    });
    expect(
      validateRule({
        trigger: 'my_custom_event',
        status: 'active',
        condition: { all: [{ condition: 'memberTags', args: { tags: ['vip'] } }] },
        actions: [
          { code: 'fixedPoints', args: { points: 50 } },
          { code: 'rewardReferrer', args: { points: 10 } },
        ],
        caps: { perMemberPerDay: 1000, totalBudget: 1_000_000 },
        priority: -5,
        exclusive: true,
        delayDays: 0,
        activeFrom: new Date('2024-11-29T00:00:00Z'),
        activeTo: new Date('2024-11-30T00:00:00Z'),
      }),
    ).toEqual({ ok: true });
  });

  it('refuses what reads the paid order on a trigger whose events carry none', () => {
    // Only order_paid events carry an order: elsewhere these could never match or never pay.
    const onRegistration = {
      trigger: 'registration',
      status: 'active',
      condition: { any: [{ condition: 'memberTags', args: { tags: ['vip'] } }, { not: { condition: 'channel', args: { channels: ['pos'] } } }] },
      actions: [
        { code: 'percentOfAmount', args: { percent: 5 } },
        { code: 'rewardReferrer', args: { percent: 1 } },
        { code: 'rewardReferrer', args: { points: 100 } },
        { code: 'perProductPoints', args: { table: [{ sku: 'A', points: 1 }] } },
      ],
    };
    const readsTheOrder = (code: string) => `${code} reads the paid order, which only order_paid events carry`;
    expect(errorsOf(onRegistration)).toEqual([
      { path: 'condition.any[1].not', message: readsTheOrder('channel') },
      { path: 'actions[0]', message: readsTheOrder('percentOfAmount') },
      { path: 'actions[1]', message: readsTheOrder('rewardReferrer with percent') },
      { path: 'actions[3]', message: readsTheOrder('perProductPoints') },
    ]);
    expect(errorsOf({ ...onRegistration, trigger: 'order_paid' })).toEqual([]);
    // Without a trigger, that is the one error.
    expect(errorsOf({ ...onRegistration, trigger: undefined })).toEqual([{ path: 'trigger', message: 'is required: an event type' }]);
    // A rule stored before the check still compiles, and runs as it did: `not channel` matches.
    const stored = compileRule(onRegistration);
    expect(stored.errors).toEqual([]);
    expect(stored.rule!.condition!(makeContext({ event: { type: 'registration' } }))).toBe(true);
    for (const condition of ['orderTotal', 'orderHasLine', 'paymentMethod', 'channel', 'cumulativeSpendCrosses']) {
      const args = {
        orderTotal: { min: 1 }, orderHasLine: { skus: ['A'] }, paymentMethod: { methods: ['card'] }, channel: { channels: ['web'] }, cumulativeSpendCrosses: { threshold: 100 },
      }[condition];
      expect(errorsOf({ ...valid, trigger: 'product_review', condition: { condition, args }, actions: [{ code: 'fixedPoints', args: { points: 1 } }] }))
        .toEqual([{ path: 'condition', message: readsTheOrder(condition) }]);
    }
  });

  it('refuses points above what one write may add (the ledger\'s MAX_POINTS)', () => {
    expect(MAX_AWARD_POINTS).toBe(MAX_POINTS);
    const over = MAX_POINTS + 1;
    const definition = {
      trigger: 'order_paid',
      status: 'active',
      actions: [
        { code: 'fixedPoints', args: { points: over } },
        { code: 'rewardReferrer', args: { points: over } },
        { code: 'perProductPoints', args: { table: [{ sku: 'A', points: over }] } },
        { code: 'fixedPoints', args: { points: MAX_POINTS } },
      ],
    };
    const above = `${over} is above the maximum ${MAX_POINTS}`;
    expect(errorsOf(definition)).toEqual([
      { path: 'actions[0].args.points', message: above },
      { path: 'actions[1].args.points', message: above },
      { path: 'actions[2].args.table[0].points', message: above },
    ]);
  });

  it('names the offending argument deep in the tree', () => {
    const definition = {
      ...valid,
      condition: {
        all: [
          { condition: 'memberTags', args: { tags: ['vip'] } },
          {
            any: [
              { condition: 'orderTotal', args: { min: 'lots' } },
              { not: { condition: 'channel', args: { channels: ['pos'] } } },
            ],
          },
        ],
      },
    };
    expect(errorsOf(definition)).toEqual([{ path: 'condition.all[1].any[0].args.min', message: 'must be an integer' }]);
  });

  it('reports unknown condition and action codes', () => {
    expect(errorsOf({ ...valid, condition: { not: { condition: 'moonPhase', args: {} } } })).toEqual([
      { path: 'condition.not.condition', message: 'unknown condition "moonPhase"' },
    ]);
    expect(
      errorsOf({ ...valid, actions: [{ code: 'fixedPoints', args: { points: 5 } }, { code: 'teleport' }] }),
    ).toEqual([{ path: 'actions[1].code', message: 'unknown action "teleport"' }]);
    expect(errorsOf({ ...valid, actions: [{ condition: 'orderTotal' }] })).toEqual([
      { path: 'actions[0].condition', message: 'unknown field' },
      { path: 'actions[0].code', message: 'is required: an action code' },
    ]);
  });

  it('reports missing, unknown, mistyped and out-of-range arguments', () => {
    expect(errorsOf({ ...valid, actions: [{ code: 'percentOfAmount', args: {} }] })).toEqual([
      { path: 'actions[0].args.percent', message: 'is required' },
    ]);
    expect(errorsOf({ ...valid, actions: [{ code: 'percentOfAmount', args: { percent: 5, pct: 1 } }] })).toEqual([
      { path: 'actions[0].args.pct', message: 'unknown argument' },
    ]);
    expect(
      errorsOf({ ...valid, actions: [{ code: 'percentOfAmount', args: { percent: 5, excludeOnSale: 'yes' } }] }),
    ).toEqual([{ path: 'actions[0].args.excludeOnSale', message: 'must be a boolean' }]);
    expect(errorsOf({ ...valid, actions: [{ code: 'percentOfAmount', args: { percent: 100.5 } }] })).toEqual([
      { path: 'actions[0].args.percent', message: '100.5 is above the maximum 100' },
    ]);
    expect(errorsOf({ ...valid, actions: [{ code: 'fixedPoints', args: [500] }] })).toEqual([
      { path: 'actions[0].args', message: 'must be an object' },
    ]);
  });

  it('rejects malformed tree nodes', () => {
    expect(errorsOf({ ...valid, condition: { all: [] } })).toEqual([
      { path: 'condition.all', message: 'must be a non-empty list of conditions' },
    ]);
    expect(errorsOf({ ...valid, condition: { any: [{ all: [] }] } })).toEqual([
      { path: 'condition.any[0].all', message: 'must be a non-empty list of conditions' },
    ]);
    expect(errorsOf({ ...valid, condition: { all: [{}] } })).toEqual([
      { path: 'condition.all[0]', message: 'must have exactly one of all, any, not, condition' },
    ]);
    expect(errorsOf({ ...valid, condition: { all: [valid.condition], not: valid.condition } })[0]).toEqual({
      path: 'condition',
      message: 'must have exactly one of all, any, not, condition',
    });
    expect(errorsOf({ ...valid, condition: { not: valid.condition, args: {} } })).toEqual([
      { path: 'condition.args', message: 'unknown field' },
    ]);
    expect(errorsOf({ ...valid, condition: 'orderTotal > 5' })[0].path).toBe('condition');
  });

  it('requires a trigger, a status and at least one action', () => {
    expect(errorsOf({ status: 'active', actions: [{ code: 'fixedPoints', args: { points: 1 } }] })).toEqual([
      { path: 'trigger', message: 'is required: an event type' },
    ]);
    expect(errorsOf({ ...valid, trigger: '  ' })[0].path).toBe('trigger');
    expect(errorsOf({ ...valid, status: 'enabled' })[0]).toEqual({
      path: 'status',
      message: 'must be one of draft, active, paused, archived',
    });
    expect(errorsOf({ ...valid, actions: [] })).toEqual([
      { path: 'actions', message: 'must be a non-empty list of actions' },
    ]);
  });

  it('requires caps to be positive integers of known kinds', () => {
    expect(
      errorsOf({ ...valid, caps: { perMemberPerDay: 0, perMemberPerWeek: 1.5, totalBudget: -1, perYear: 5 } }),
    ).toEqual([
      { path: 'caps.perMemberPerDay', message: 'must be a positive integer' },
      { path: 'caps.perMemberPerWeek', message: 'must be a positive integer' },
      { path: 'caps.totalBudget', message: 'must be a positive integer' },
      { path: 'caps.perYear', message: expect.stringMatching(/^unknown cap/) },
    ]);
  });

  it('checks lifetime, delay, priority, exclusivity, the window and unknown fields', () => {
    expect(
      errorsOf({
        ...valid,
        lifetimeDays: 0,
        delayDays: -1,
        priority: 1.5,
        exclusive: 'yes',
        activeFrom: new Date('2024-12-01T00:00:00Z'),
        activeTo: new Date('2024-11-01T00:00:00Z'),
        exlusive: true,
      }),
    ).toEqual([
      { path: 'exlusive', message: 'unknown field' },
      { path: 'priority', message: 'must be an integer' },
      { path: 'exclusive', message: 'must be a boolean' },
      { path: 'lifetimeDays', message: 'must be an integer ≥ 1, or null for the program default' },
      { path: 'delayDays', message: 'must be an integer ≥ 0, or null for the program default' },
      { path: 'activeTo', message: 'must be after activeFrom' },
    ]);
    expect(errorsOf({ ...valid, activeFrom: '2024-12-01' })).toEqual([
      { path: 'activeFrom', message: 'must be a valid Date or null' },
    ]);
    expect(errorsOf(null)).toEqual([{ path: '', message: 'must be an object' }]);
  });

  it('collects every error, not only the first', () => {
    const errors = errorsOf({
      trigger: 'order_paid',
      status: 'active',
      condition: {
        all: [
          { condition: 'orderTotal', args: {} },
          { condition: 'dayOfWeek', args: { days: ['funday'] } },
        ],
      },
      actions: [{ code: 'fixedPoints' }, { code: 'multiplier', args: { factor: 'x2' } }],
    });
    expect(errors.map((error) => error.path)).toEqual([
      'condition.all[0].args',
      'condition.all[1].args.days',
      'actions[0].args.points',
      'actions[1].args.factor',
    ]);
  });
});
