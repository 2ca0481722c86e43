import { evaluateRules } from '../../src/rules/evaluate';
import { validateRule } from '../../src/rules/compile';
import type { Rule, RuleContext } from '../../src/rules/types';

const milestone: Rule = {
  id: 'spent-20000',
  versionId: 'spent-20000-v1',
  version: 1,
  name: 'Spent 20 000',
  definition: {
    trigger: 'order_paid',
    status: 'active',
    oncePerMember: true,
    condition: { condition: 'cumulativeSpendCrosses', args: { threshold: 2_000_000 } },
    actions: [{ code: 'fixedPoints', args: { points: 500 } }],
  },
};

function context(spend: RuleContext['member']['cumulativeSpend']): RuleContext {
  const at = new Date('2026-03-01T10:00:00Z');
  return {
    now: at,
    timeZone: 'Europe/Moscow',
    pointValueMinor: 100,
    event: { type: 'order_paid', occurredAt: at, payload: {} },
    member: { id: 'm1', tags: [], registeredAt: at, cumulativeSpend: spend },
  };
}

describe('cumulativeSpendCrosses (E6 achievements)', () => {
  it('matches only the order that brings the total to the threshold', () => {
    const award = (spend: RuleContext['member']['cumulativeSpend']) => evaluateRules([milestone], context(spend));
    expect(award({ beforeMinor: 1_500_000, afterMinor: 2_000_000 }).totals.memberPoints).toBe(500);
    expect(award({ beforeMinor: 1_999_999, afterMinor: 2_500_000 }).totals.memberPoints).toBe(500);
    expect(award({ beforeMinor: 1_000_000, afterMinor: 1_999_999 }).results[0].reason).toEqual({
      code: 'condition',
      path: 'condition',
      message: 'cumulativeSpendCrosses: 1999999 < threshold 2000000',
    });
    expect(award({ beforeMinor: 2_000_000, afterMinor: 2_100_000 }).results[0].reason?.message).toBe(
      'cumulativeSpendCrosses: already 2000000 ≥ 2000000 before this order',
    );
    expect(award(null).results[0].reason?.message).toBe('cumulativeSpendCrosses: the event is not a paid order');
  });

  it('refuses a context whose spend goes backwards', () => {
    expect(() => evaluateRules([milestone], context({ beforeMinor: 10, afterMinor: 5 }))).toThrow(TypeError);
  });

  it('validates oncePerMember as a boolean and the threshold as a positive integer', () => {
    const definition = { ...milestone.definition, oncePerMember: 'yes', condition: { condition: 'cumulativeSpendCrosses', args: { threshold: 0 } } };
    expect(validateRule(definition)).toEqual({
      ok: false,
      errors: [
        { path: 'oncePerMember', message: 'must be a boolean' },
        { path: 'condition.args.threshold', message: '0 is below the minimum 1' },
      ],
    });
  });
});
