import fc from 'fast-check';
import { compiledOnce, evaluateRules } from '../../src/rules/evaluate';
import type { OrderLine, Rule, RuleDefinition } from '../../src/rules/types';
import { line, makeContext } from '../support/rule-context';

const orderOf = (...lines: OrderLine[]) => ({ totalMinor: lines.reduce((sum, l) => sum + l.unitPriceMinor, 0), lines });

let nextId = 1;
function rule(definition: Partial<RuleDefinition> & Pick<RuleDefinition, 'actions'>, id = String(nextId++)): Rule {
  return {
    id,
    versionId: `${id}-v1`,
    version: 1,
    name: `rule ${id}`,
    definition: { trigger: 'order_paid', status: 'active', ...definition },
  };
}
const points = (value: number) => [{ code: 'fixedPoints', args: { points: value } }];
const paidOrder = (rubles: number) => makeContext({ order: orderOf(line('ITEM', rubles * 100)) });

describe('the worked example (seed 000)', () => {
  const program = [
    rule({ trigger: 'registration', actions: points(500) }, 'welcome'),
    rule({ trigger: 'birthday', actions: points(1000), lifetimeDays: 3 }, 'birthday'),
    rule({ actions: [{ code: 'percentOfAmount', args: { percent: 5 } }], lifetimeDays: 30 }, 'cashback'),
    rule(
      {
        condition: { condition: 'orderTotal', args: { min: 100_000 } },
        actions: [{ code: 'rewardReferrer', args: { level: 1, points: 50 } }],
      },
      'referrer',
    ),
  ];

  it('registration: +500 points', () => {
    const { totals } = evaluateRules(program, makeContext({ event: { type: 'registration' } }));
    expect(totals).toEqual({ memberPoints: 500, referrerPoints: [] });
  });

  it('birthday: +1 000 points that burn after 3 days', () => {
    const { results } = evaluateRules(program, makeContext({ event: { type: 'birthday' } }));
    expect(results.find((result) => result.ruleId === 'birthday')!.awards).toEqual([
      { points: 1000, beneficiary: 'member', lifetimeDays: 3, delayDays: null, actionCode: 'fixedPoints', caps: {} },
    ]);
  });

  it('an order of 10 000 rubles (1 000 000 kopecks) earns 500 points for a month, and 50 for the referrer', () => {
    const { results, totals } = evaluateRules(program, paidOrder(10_000));
    expect(results.find((result) => result.ruleId === 'cashback')!.awards).toEqual([
      {
        points: 500,
        beneficiary: 'member',
        lifetimeDays: 30,
        delayDays: null,
        actionCode: 'percentOfAmount',
        caps: {},
      },
    ]);
    expect(totals).toEqual({ memberPoints: 500, referrerPoints: [{ referrerLevel: 1, points: 50 }] });
  });

  it('an order of 999 rubles gives the referrer nothing, and says why', () => {
    const referrer = evaluateRules(program, paidOrder(999)).results.find((result) => result.ruleId === 'referrer')!;
    expect(referrer).toMatchObject({
      matched: false,
      awards: [],
      reason: { code: 'condition', path: 'condition', message: 'orderTotal: 99900 < min 100000' },
    });
  });
});

describe('which rules run', () => {
  it('skips other triggers, inactive statuses and rules outside their window, with reasons', () => {
    const now = new Date('2024-06-05T12:00:00Z');
    const { results } = evaluateRules(
      [
        rule({ trigger: 'registration', actions: points(1) }, 'a'),
        rule({ status: 'paused', actions: points(1) }, 'b'),
        rule({ status: 'draft', actions: points(1) }, 'c'),
        rule({ activeFrom: new Date('2024-06-05T12:00:01Z'), actions: points(1) }, 'd'),
        rule({ activeTo: now, actions: points(1) }, 'e'),
        rule({ activeFrom: now, activeTo: new Date('2024-06-06T00:00:00Z'), actions: points(1) }, 'f'),
      ],
      makeContext({ now }),
    );
    expect(results.map((result) => [result.ruleId, result.matched, result.reason?.code, result.reason?.path])).toEqual([
      ['a', false, 'trigger', 'trigger'],
      ['b', false, 'inactive', 'status'],
      ['c', false, 'inactive', 'status'],
      ['d', false, 'window', 'activeFrom'],
      ['e', false, 'window', 'activeTo'],
      ['f', true, undefined, undefined],
    ]);
    expect(results[0].reason!.message).toBe("waits for 'registration', not 'order_paid'");
  });

  it('uses context.now for the window, not the event time', () => {
    const campaign = rule({ activeTo: new Date('2024-06-01T00:00:00Z'), actions: points(1) });
    const lateReport = makeContext({
      now: new Date('2024-06-02T00:00:00Z'),
      event: { occurredAt: new Date('2024-05-31T00:00:00Z') },
    });
    expect(evaluateRules([campaign], lateReport).results[0].reason?.code).toBe('window');
  });

  it('orders by priority (higher first), then by id with numeric ids as numbers', () => {
    const rules = [
      rule({ actions: points(1) }, '10'),
      rule({ actions: points(1), priority: 5 }, 'low'),
      rule({ actions: points(1) }, '9'),
      rule({ actions: points(1), priority: 100 }, 'top'),
    ];
    expect(evaluateRules(rules, makeContext()).results.map((result) => result.ruleId)).toEqual([
      'top',
      'low',
      '9',
      '10',
    ]);
    expect(rules.map((r) => r.id)).toEqual(['10', 'low', '9', 'top']);
  });

  it('reports an invalid stored rule and still runs the others', () => {
    const { results, totals } = evaluateRules(
      [
        rule({ actions: [{ code: 'fixedPoints', args: { points: -5 } }] }, 'broken'),
        rule({ actions: points(7) }, 'fine'),
      ],
      makeContext(),
    );
    expect(results[0]).toMatchObject({
      ruleId: 'broken',
      matched: false,
      reason: { code: 'invalid', path: 'actions[0].args.points', message: '-5 is below the minimum 1' },
    });
    expect(totals.memberPoints).toBe(7);
  });
});

describe('exclusivity', () => {
  const rules = () => [
    rule(
      {
        priority: 10,
        exclusive: true,
        condition: { condition: 'memberTags', args: { tags: ['vip'] } },
        actions: points(300),
      },
      'vip',
    ),
    rule({ priority: 10, actions: points(20) }, 'z-same-level'),
    rule({ priority: 5, actions: points(100) }, 'regular'),
    rule({ priority: 1, actions: [{ code: 'multiplier', args: { factor: 2 } }] }, 'double'),
  ];

  it('a matched exclusive rule stops every rule of lower priority, not those of its own', () => {
    const { results, totals } = evaluateRules(rules(), makeContext({ member: { tags: ['vip'] } }));
    expect(results.map((result) => [result.ruleId, result.matched, result.reason?.message])).toEqual([
      ['vip', true, undefined],
      ['z-same-level', true, undefined],
      ['regular', false, 'excluded by rule vip'],
      ['double', false, 'excluded by rule vip'],
    ]);
    expect(results[2].reason?.code).toBe('excluded');
    expect(totals.memberPoints).toBe(320);
  });

  it('an exclusive rule that does not match excludes nothing', () => {
    const { totals } = evaluateRules(rules(), makeContext());
    // 20 + 100, doubled by the multiplier.
    expect(totals.memberPoints).toBe(240);
  });
});

describe('condition trees', () => {
  const context = makeContext({
    member: { tags: ['runner'] },
    order: { ...orderOf(line('SHOE', 500_000, { category: 'shoes' })), paymentMethod: 'card_online', channel: 'web' },
  });
  const evaluate = (condition: RuleDefinition['condition']) =>
    evaluateRules([rule({ condition, actions: points(1) })], context).results[0];

  it('all: every child must match; the first failure is the reason', () => {
    expect(
      evaluate({
        all: [
          { condition: 'channel', args: { channels: ['web'] } },
          { condition: 'orderTotal', args: { min: 1 } },
        ],
      }).matched,
    ).toBe(true);
    expect(
      evaluate({
        all: [
          { condition: 'channel', args: { channels: ['web'] } },
          { condition: 'orderTotal', args: { min: 1_000_000 } },
          { condition: 'memberTier', args: { tiers: ['gold'] } },
        ],
      }).reason,
    ).toEqual({ code: 'condition', path: 'condition.all[1]', message: 'orderTotal: 500000 < min 1000000' });
  });

  it('any: one child suffices; when none matches every reason is listed', () => {
    expect(
      evaluate({
        any: [
          { condition: 'memberTier', args: { tiers: ['gold'] } },
          { condition: 'memberTags', args: { tags: ['runner'] } },
        ],
      }).matched,
    ).toBe(true);
    expect(
      evaluate({
        any: [
          { condition: 'memberTier', args: { tiers: ['gold'] } },
          { condition: 'channel', args: { channels: ['pos'] } },
        ],
      }).reason,
    ).toEqual({
      code: 'condition',
      path: 'condition.any',
      message: "none of 2 matched: memberTier: tier 'null' is not in gold; channel: 'web' is not in pos",
    });
  });

  it('not: inverts its child', () => {
    expect(evaluate({ not: { condition: 'channel', args: { channels: ['pos'] } } }).matched).toBe(true);
    expect(evaluate({ not: { condition: 'channel', args: { channels: ['web'] } } }).reason).toEqual({
      code: 'condition',
      path: 'condition.not',
      message: 'not: the negated condition matched',
    });
  });

  it('nests: the path leads to the failing leaf', () => {
    const result = evaluate({
      all: [
        { condition: 'memberTags', args: { tags: ['runner'] } },
        {
          not: {
            any: [
              { condition: 'channel', args: { channels: ['pos'] } },
              { all: [{ condition: 'paymentMethod', args: { methods: ['cash'] } }] },
            ],
          },
        },
        {
          any: [
            { condition: 'orderHasLine', args: { categories: ['balls'] } },
            { all: [{ condition: 'orderHasLine', args: { skus: ['SHOE'], minQuantity: 2 } }] },
          ],
        },
      ],
    });
    expect(result.reason).toEqual({
      code: 'condition',
      path: 'condition.all[2].any',
      message:
        'none of 2 matched: orderHasLine: 0 matching unit(s) < minQuantity 1; orderHasLine: 1 matching unit(s) < minQuantity 2',
    });
  });

  it('no condition matches every event of the trigger', () => {
    expect(evaluate(null).matched).toBe(true);
  });
});

describe('multipliers', () => {
  const cashback = rule({ actions: [{ code: 'percentOfAmount', args: { percent: 5 } }], lifetimeDays: 30 }, 'cashback');
  const welcome = rule({ actions: points(100) }, 'bonus');
  const referrer = rule({ actions: [{ code: 'rewardReferrer', args: { points: 50 } }] }, 'referrer');
  const double = rule(
    {
      priority: 50,
      lifetimeDays: 7,
      caps: { totalBudget: 10_000 },
      actions: [{ code: 'multiplier', args: { factor: 2 } }],
    },
    'double',
  );
  const triple = rule({ priority: 40, actions: [{ code: 'multiplier', args: { factor: 3 } }] }, 'triple');
  const order = paidOrder(10_000);

  it('doubles what the other rules award the member, after them, with the multiplier rule’s own lifetime and caps', () => {
    const { results, totals } = evaluateRules([double, cashback, welcome], order);
    expect(results[0]).toMatchObject({
      ruleId: 'double',
      matched: true,
      awards: [
        {
          points: 600,
          beneficiary: 'member',
          lifetimeDays: 7,
          delayDays: null,
          actionCode: 'multiplier',
          caps: { totalBudget: 10_000 },
        },
      ],
    });
    expect(totals.memberPoints).toBe(1200);
  });

  it('does not multiply referrer awards', () => {
    const { totals } = evaluateRules([double, cashback, referrer], order);
    expect(totals).toEqual({ memberPoints: 1000, referrerPoints: [{ referrerLevel: 1, points: 50 }] });
  });

  it('several multipliers do not compound: ×2 and ×3 give 4 × base, not 6 ×', () => {
    const { results, totals } = evaluateRules([double, triple, cashback], order);
    expect(results.map((result) => result.awards.map((award) => award.points))).toEqual([[500], [1000], [500]]);
    expect(totals.memberPoints).toBe(2000);
  });

  it('does not multiply points of its own rule, but they count for other multipliers', () => {
    const doubleWithBonus = rule({ actions: [...points(100), { code: 'multiplier', args: { factor: 2 } }] }, 'mixed');
    const { results } = evaluateRules([doubleWithBonus, cashback, triple], order);
    const awardsOf = (id: string) =>
      results.find((result) => result.ruleId === id)!.awards.map((award) => [award.actionCode, award.points]);
    expect(awardsOf('mixed')).toEqual([
      ['fixedPoints', 100],
      ['multiplier', 500],
    ]);
    expect(awardsOf('triple')).toEqual([['multiplier', 1200]]);
  });

  it('matches but awards nothing when no other rule awarded the member', () => {
    const { results } = evaluateRules([double, referrer], order);
    expect(results[0]).toMatchObject({ matched: true, awards: [] });
  });

  it('rounds down fractional factors', () => {
    const oneAndAHalf = rule({ actions: [{ code: 'multiplier', args: { factor: '1.5' } }] });
    const { totals } = evaluateRules([oneAndAHalf, rule({ actions: points(333) })], order);
    expect(totals.memberPoints).toBe(333 + 166);
  });
});

describe('results', () => {
  it('carry side effects tagged with their action, and awards with the rule’s caps and pending period', () => {
    const { results } = evaluateRules(
      [
        rule({
          delayDays: 14,
          caps: { perMemberPerDay: 1000, perMemberLifetime: 5000 },
          actions: [...points(10), { code: 'issueCoupon', args: { couponTemplate: 'THANKS' } }],
        }),
      ],
      makeContext(),
    );
    expect(results[0].awards).toEqual([
      {
        points: 10,
        beneficiary: 'member',
        lifetimeDays: null,
        delayDays: 14,
        actionCode: 'fixedPoints',
        caps: { perMemberPerDay: 1000, perMemberLifetime: 5000 },
      },
    ]);
    expect(results[0].sideEffects).toEqual([
      { kind: 'issueCoupon', couponTemplate: 'THANKS', beneficiary: 'member', actionCode: 'issueCoupon' },
    ]);
  });

  it('sum referrer points by level, in level order', () => {
    const { totals } = evaluateRules(
      [
        rule({ actions: [{ code: 'rewardReferrer', args: { level: 2, points: 10 } }] }),
        rule({
          actions: [
            { code: 'rewardReferrer', args: { points: 30 } },
            { code: 'rewardReferrer', args: { level: 2, percent: 1 } },
          ],
        }),
      ],
      paidOrder(1000),
    );
    expect(totals.referrerPoints).toEqual([
      { referrerLevel: 1, points: 30 },
      { referrerLevel: 2, points: 20 },
    ]);
  });

  it('leave out zero-point awards', () => {
    const { results } = evaluateRules(
      [rule({ actions: [{ code: 'percentOfAmount', args: { percent: 1 } }] })],
      paidOrder(99),
    );
    expect(results[0]).toMatchObject({ matched: true, awards: [] });
  });

  it('are always non-negative integers, whatever the order', () => {
    const rules = [
      rule({ actions: [{ code: 'percentOfAmount', args: { percent: '7.77', excludeOnSale: false } }] }),
      rule({ actions: [{ code: 'multiplier', args: { factor: '1.25' } }] }),
      rule({ actions: [{ code: 'rewardReferrer', args: { percent: '0.5' } }] }),
      rule({ actions: [{ code: 'perProductPoints', args: { table: [{ sku: 'A', points: 3 }] } }] }),
    ];
    const arbitraryLine = fc.record({
      sku: fc.constantFrom('A', 'B'),
      unitPriceMinor: fc.integer({ min: 0, max: 10 ** 9 }),
      quantity: fc.integer({ min: 1, max: 1000 }),
      onSale: fc.boolean(),
      eligibleMoneyMinor: fc.integer({ min: 0, max: 10 ** 9 }),
    });
    fc.assert(
      fc.property(
        fc.array(arbitraryLine, { maxLength: 20 }),
        fc.integer({ min: 1, max: 10_000 }),
        (lines, pointValueMinor) => {
          const { results } = evaluateRules(rules, makeContext({ pointValueMinor, order: orderOf(...lines) }));
          for (const award of results.flatMap((result) => result.awards)) {
            expect(Number.isSafeInteger(award.points) && award.points > 0).toBe(true);
          }
        },
      ),
    );
  });
});

describe('the context', () => {
  const anyRule = [rule({ actions: points(1) })];

  it('is checked at the door: no NaN money, no unknown time zone', () => {
    expect(() => evaluateRules(anyRule, makeContext({ order: orderOf(line('A', Number.NaN)) }))).toThrow(
      'order.lines[0].eligibleMoneyMinor must be a non-negative integer',
    );
    expect(() => evaluateRules(anyRule, makeContext({ timeZone: 'Moscow' }))).toThrow(
      "timeZone 'Moscow' is not an IANA time zone",
    );
    expect(() => evaluateRules(anyRule, makeContext({ pointValueMinor: 0 }))).toThrow(
      'pointValueMinor must be a positive integer',
    );
    expect(() => evaluateRules(anyRule, makeContext({ now: new Date('nope') }))).toThrow('now must be a valid Date');
  });

  it('gives the same answer twice (pure)', () => {
    const context = paidOrder(1234);
    expect(evaluateRules(anyRule, context)).toEqual(evaluateRules(anyRule, context));
  });
});

describe('compiling', () => {
  test('a definition is compiled once per object; an equal new object (a new version) is compiled again', () => {
    const cashback = rule({ condition: { condition: 'orderTotal', args: { min: 100 } }, actions: points(5) });
    const compiled = compiledOnce(cashback.definition);
    expect(compiled.rule).toBeDefined();
    expect(compiledOnce(cashback.definition)).toBe(compiled);
    expect(evaluateRules([cashback], paidOrder(20)).results[0].matched).toBe(true);
    expect(compiledOnce(cashback.definition)).toBe(compiled);

    const edited = { ...cashback, definition: { ...cashback.definition, condition: { condition: 'orderTotal', args: { min: 1_000_000 } } } };
    expect(compiledOnce(edited.definition)).not.toBe(compiled);
    expect(evaluateRules([edited], paidOrder(20)).results[0].matched).toBe(false);
    // An invalid definition is remembered as invalid, and still reported.
    const broken = rule({ actions: [{ code: 'noSuchAction', args: {} }] });
    expect(compiledOnce(broken.definition)).toBe(compiledOnce(broken.definition));
    expect(evaluateRules([broken], paidOrder(20)).results[0].reason?.code).toBe('invalid');
  });
});
