import { applyLimits, assignBeneficiaries, usageNeeded, type AwardUsage, type PlannedAward } from '../../src/services/earning/award-planner';

const award = (ruleId: string, points: number, extra: Partial<PlannedAward> = {}): PlannedAward => ({
  ruleId,
  ruleVersionId: `${ruleId}-v1`,
  version: 1,
  ruleName: ruleId,
  referrerLevel: null,
  memberId: 'm',
  requestedPoints: points,
  points,
  limitedBy: null,
  lifetimeDays: null,
  delayDays: null,
  oneOff: false,
  caps: {},
  ...extra,
});

const usage = (extra: Partial<AwardUsage> = {}): AwardUsage => ({ onceDone: new Set(), budgetLeft: new Map(), used: new Map(), ...extra });

describe('applyLimits', () => {
  it('cuts to the tightest cap window and names it', () => {
    const a = award('r', 100, { caps: { perMemberPerDay: 80, perMemberLifetime: 500 } });
    applyLimits([a], usage({ used: new Map([['r:m', { perMemberPerDay: 50, perMemberPerWeek: 50, perMemberPerMonth: 50, perMemberLifetime: 450 }]]) }));
    expect(a).toMatchObject({ points: 30, limitedBy: 'perMemberPerDay', requestedPoints: 100 });
  });

  it('counts earlier awards of the same event against caps and budgets, in evaluation order', () => {
    const first = award('r', 60, { caps: { perMemberPerDay: 100 } });
    const second = award('r', 60, { memberId: 'm', referrerLevel: null, caps: { perMemberPerDay: 100 } });
    const budgetA = award('b', 70, { memberId: 'x', caps: { totalBudget: 100 } });
    const budgetB = award('b', 70, { memberId: 'y', caps: { totalBudget: 100 } });
    const u = usage({ budgetLeft: new Map([['b', 100]]) });
    applyLimits([first, second, budgetA, budgetB], u);
    expect([first.points, second.points, budgetA.points, budgetB.points]).toEqual([60, 40, 70, 30]);
    expect([second.limitedBy, budgetB.limitedBy]).toEqual(['perMemberPerDay', 'totalBudget']);
    expect(u.budgetLeft.get('b')).toBe(0);
  });

  it('once-only rules that rewarded the member before award nothing; a used-up budget never goes negative', () => {
    const once = award('o', 10, { oneOff: true });
    const spent = award('b', 10, { caps: { totalBudget: 50 } });
    applyLimits([once, spent], usage({ onceDone: new Set(['o:m']), budgetLeft: new Map([['b', -5]]) }));
    expect(once).toMatchObject({ points: 0, limitedBy: 'oncePerMember' });
    expect(spent).toMatchObject({ points: 0, limitedBy: 'totalBudget' });
  });
});

describe('beneficiaries', () => {
  it('a referrer level with nobody there awards nothing, and needs no counts', () => {
    const own = award('r', 10, { memberId: null, caps: { perMemberPerDay: 5 } });
    const up = award('r', 20, { memberId: null, referrerLevel: 2, caps: { perMemberPerDay: 5, totalBudget: 100 } });
    assignBeneficiaries([own, up], 'm', new Map([[2, null]]));
    expect(own.memberId).toBe('m');
    expect(up).toMatchObject({ memberId: null, points: 0, limitedBy: 'noReferrer' });
    expect(usageNeeded([own, up])).toEqual({ oneOffRules: [], budgetRules: [], capped: [{ ruleId: 'r', memberId: 'm' }] });
  });
});
