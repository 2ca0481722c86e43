import { findAction, findCondition, listActions, listConditions } from '../../src/rules/catalogue';
import type { OrderLine, RuleContext } from '../../src/rules/types';
import { line, makeContext } from '../support/rule-context';

function check(code: string, args: Record<string, unknown>, context: RuleContext) {
  const binding = findCondition(code)!.bind(args, 'args');
  if (!('test' in binding)) throw new Error(JSON.stringify(binding.errors));
  return binding.test(context);
}

function bindErrors(kind: 'condition' | 'action', code: string, args: Record<string, unknown>) {
  const entry = kind === 'condition' ? findCondition(code)! : findAction(code)!;
  return entry.bind(args, 'args').errors;
}

function run(code: string, args: Record<string, unknown>, context: RuleContext, otherRulesMemberPoints = 0) {
  const binding = findAction(code)!.bind(args, 'args');
  if (!('run' in binding)) throw new Error(JSON.stringify(binding.errors));
  return binding.run({ context, otherRulesMemberPoints });
}

describe('conditions', () => {
  describe('eventField', () => {
    const payload = {
      amount: 150,
      amountText: '1500',
      utm: { source: 'vk' },
      tags: ['a', 'b'],
      ok: true,
      text: 'hello world',
    };
    const field = (operator: string, path: string, value: unknown) =>
      check('eventField', { path, operator, value }, makeContext({ event: { payload } }));

    it('compares numbers as numbers, including numeric text in the payload', () => {
      expect(field('gt', 'amount', 100)).toBe(true);
      expect(field('gt', 'amount', 200)).toBe('payload.amount: 150 is not > 200');
      // As text '1500' < '900'; as numbers it is larger.
      expect(field('gt', 'amountText', 900)).toBe(true);
      expect(field('gte', 'amount', 150)).toBe(true);
      expect(field('lt', 'amount', 150)).not.toBe(true);
      expect(field('lte', 'amount', 150)).toBe(true);
      expect(field('eq', 'amountText', 1500)).toBe(true);
    });

    it('never matches a string operand against a number, or orders text', () => {
      expect(field('eq', 'amount', '150')).not.toBe(true);
      expect(field('gt', 'utm.source', 1)).toBe("payload.utm.source: 'vk' is not a number");
    });

    it('reads nested paths, lists and booleans', () => {
      expect(field('eq', 'utm.source', 'vk')).toBe(true);
      expect(field('ne', 'utm.source', 'vk')).not.toBe(true);
      expect(field('in', 'utm.source', ['google', 'vk'])).toBe(true);
      expect(field('notIn', 'utm.source', ['google', 'vk'])).not.toBe(true);
      expect(field('notIn', 'utm.source', ['google'])).toBe(true);
      expect(field('contains', 'tags', 'b')).toBe(true);
      expect(field('contains', 'tags', 'c')).not.toBe(true);
      expect(field('contains', 'text', 'world')).toBe(true);
      expect(field('eq', 'ok', true)).toBe(true);
      expect(field('eq', 'tags.0', 'a')).toBe(true);
    });

    it('fails every operator on a missing field, and never reaches the prototype', () => {
      expect(field('ne', 'utm.medium', 'email')).toBe('payload.utm.medium is missing');
      expect(field('eq', 'toString', 'x')).toBe('payload.toString is missing');
    });

    it('rejects operands that do not fit the operator, and reserved paths', () => {
      expect(bindErrors('condition', 'eventField', { path: 'a', operator: 'gt', value: '5' })).toEqual([
        { path: 'args.value', message: 'gt needs a number' },
      ]);
      expect(bindErrors('condition', 'eventField', { path: 'a', operator: 'in', value: 'x' })[0].message).toMatch(
        /non-empty list/,
      );
      expect(bindErrors('condition', 'eventField', { path: 'a', operator: 'eq', value: ['x'] })[0].message).toMatch(
        /single value/,
      );
      expect(bindErrors('condition', 'eventField', { path: '__proto__.x', operator: 'eq', value: 1 })[0].path).toBe(
        'args.path',
      );
      expect(bindErrors('condition', 'eventField', { path: 'a..b', operator: 'eq', value: 1 })[0].path).toBe(
        'args.path',
      );
    });
  });

  describe('orderTotal', () => {
    const order = (totalMinor: number) => makeContext({ order: { totalMinor, lines: [] } });

    it('checks the inclusive range and explains a miss', () => {
      expect(check('orderTotal', { min: 100_000 }, order(90_000))).toBe('90000 < min 100000');
      expect(check('orderTotal', { min: 100_000 }, order(100_000))).toBe(true);
      expect(check('orderTotal', { max: 50_000 }, order(50_001))).toBe('50001 > max 50000');
      expect(check('orderTotal', { min: 1, max: 10 }, order(10))).toBe(true);
    });

    it('fails without an order and needs a sane range', () => {
      expect(check('orderTotal', { min: 1 }, makeContext())).toBe('the event has no order');
      expect(bindErrors('condition', 'orderTotal', {})).toEqual([{ path: 'args', message: 'needs min, max or both' }]);
      expect(bindErrors('condition', 'orderTotal', { min: 10, max: 5 })).toEqual([
        { path: 'args.max', message: 'max 5 is below min 10' },
      ]);
    });
  });

  describe('orderHasLine', () => {
    const context = makeContext({
      order: {
        totalMinor: 3000,
        lines: [line('BALL', 1000, { category: 'balls', quantity: 2 }), line('SHOE', 2000, { category: 'shoes' })],
      },
    });

    it('matches by SKU or by category, counting units', () => {
      expect(check('orderHasLine', { skus: ['SHOE'] }, context)).toBe(true);
      expect(check('orderHasLine', { categories: ['balls'] }, context)).toBe(true);
      expect(check('orderHasLine', { categories: ['balls'], minQuantity: 2 }, context)).toBe(true);
      expect(check('orderHasLine', { categories: ['balls'], minQuantity: 3 }, context)).toBe(
        '2 matching unit(s) < minQuantity 3',
      );
      expect(check('orderHasLine', { skus: ['SHOE'], categories: ['balls'], minQuantity: 3 }, context)).toBe(true);
      expect(check('orderHasLine', { skus: ['BIKE'] }, context)).not.toBe(true);
    });

    it('needs at least one list', () => {
      expect(bindErrors('condition', 'orderHasLine', { minQuantity: 2 })[0].message).toBe(
        'needs skus, categories or both',
      );
    });
  });

  it('paymentMethod and channel match listed values', () => {
    const context = makeContext({ order: { totalMinor: 1, paymentMethod: 'card_online', channel: 'web', lines: [] } });
    expect(check('paymentMethod', { methods: ['cash', 'card_online'] }, context)).toBe(true);
    expect(check('paymentMethod', { methods: ['cash'] }, context)).toBe("'card_online' is not in cash");
    expect(check('channel', { channels: ['web'] }, context)).toBe(true);
    expect(check('channel', { channels: ['pos'] }, context)).not.toBe(true);
    expect(check('channel', { channels: ['pos'] }, makeContext())).toBe('the event has no order');
    expect(bindErrors('condition', 'paymentMethod', { methods: [] })).toEqual([
      { path: 'args.methods', message: 'must not be empty' },
    ]);
  });

  it('memberTags matches any or all of the tags', () => {
    const context = makeContext({ member: { tags: ['vip', 'runner'] } });
    expect(check('memberTags', { tags: ['vip', 'cyclist'] }, context)).toBe(true);
    expect(check('memberTags', { tags: ['vip', 'cyclist'], match: 'all' }, context)).toBe('missing tag(s) cyclist');
    expect(check('memberTags', { tags: ['vip', 'runner'], match: 'all' }, context)).toBe(true);
    expect(check('memberTags', { tags: ['cyclist'] }, context)).toBe('has none of cyclist');
    expect(bindErrors('condition', 'memberTags', { tags: ['x'], match: 'most' })[0].path).toBe('args.match');
  });

  it('memberAttribute compares attributes with the same typed operators', () => {
    const context = makeContext({ member: { attributes: { city: 'Kazan', age: '34', kids: 2 } } });
    expect(check('memberAttribute', { path: 'city', operator: 'eq', value: 'Kazan' }, context)).toBe(true);
    expect(check('memberAttribute', { path: 'age', operator: 'gte', value: 18 }, context)).toBe(true);
    expect(check('memberAttribute', { path: 'kids', operator: 'lt', value: 2 }, context)).toBe(
      'attributes.kids: 2 is not < 2',
    );
    expect(check('memberAttribute', { path: 'city', operator: 'eq', value: 'Kazan' }, makeContext())).toBe(
      'attributes.city is missing',
    );
  });

  it('daysSinceRegistration counts calendar days in the program time zone', () => {
    // Registered 2024-06-01 23:30 in Moscow (20:30 UTC); the event is 2024-06-02 00:30 in Moscow.
    const context = makeContext({
      member: { registeredAt: new Date('2024-06-01T20:30:00Z') },
      event: { occurredAt: new Date('2024-06-01T21:30:00Z') },
    });
    expect(check('daysSinceRegistration', { min: 1, max: 1 }, context)).toBe(true);
    expect(check('daysSinceRegistration', { max: 0 }, context)).toBe('1 > max 0');
    expect(check('daysSinceRegistration', { max: 0 }, { ...context, timeZone: 'UTC' })).toBe(true);
    expect(check('daysSinceRegistration', { min: 7 }, context)).toBe('1 < min 7');
  });

  it('memberTier reads the tier code', () => {
    expect(check('memberTier', { tiers: ['gold', 'silver'] }, makeContext({ member: { tierCode: 'gold' } }))).toBe(
      true,
    );
    expect(check('memberTier', { tiers: ['gold'] }, makeContext({ member: { tierCode: 'standard' } }))).toBe(
      "tier 'standard' is not in gold",
    );
    expect(check('memberTier', { tiers: ['gold'] }, makeContext())).toBe("tier 'null' is not in gold");
  });

  describe('time of the event, in the program time zone', () => {
    const at = (iso: string, timeZone = 'Europe/Moscow') =>
      makeContext({ timeZone, event: { occurredAt: new Date(iso) } });

    it('dayOfWeek: Friday 23:30 UTC is already Saturday in Moscow', () => {
      const fridayNightUtc = '2024-11-29T23:30:00Z';
      expect(check('dayOfWeek', { days: ['fri'] }, at(fridayNightUtc, 'UTC'))).toBe(true);
      expect(check('dayOfWeek', { days: ['fri'] }, at(fridayNightUtc))).toBe('sat is not in fri');
      expect(check('dayOfWeek', { days: ['sat', 'sun'] }, at(fridayNightUtc))).toBe(true);
      expect(bindErrors('condition', 'dayOfWeek', { days: ['friday'] })[0].message).toMatch(/unknown option/);
    });

    it('hourOfDay: from included, to excluded', () => {
      expect(check('hourOfDay', { from: 14, to: 16 }, at('2024-06-05T11:00:00Z'))).toBe(true); // 14:00 MSK
      expect(check('hourOfDay', { from: 14, to: 16 }, at('2024-06-05T12:59:00Z'))).toBe(true); // 15:59 MSK
      expect(check('hourOfDay', { from: 14, to: 16 }, at('2024-06-05T13:00:00Z'))).toBe('hour 16 is outside 14–16');
      expect(check('hourOfDay', { from: 14, to: 16 }, at('2024-06-05T14:30:00Z', 'UTC'))).toBe(true);
      expect(check('hourOfDay', { from: 14, to: 16 }, at('2024-06-05T14:30:00Z'))).toBe('hour 17 is outside 14–16');
    });

    it('hourOfDay wraps past midnight: 22 → 2', () => {
      const nightOwls = { from: 22, to: 2 };
      expect(check('hourOfDay', nightOwls, at('2024-06-05T19:00:00Z'))).toBe(true); // 22:00 MSK
      expect(check('hourOfDay', nightOwls, at('2024-06-05T22:59:00Z'))).toBe(true); // 01:59 MSK
      expect(check('hourOfDay', nightOwls, at('2024-06-05T23:00:00Z'))).toBe('hour 2 is outside 22–2');
      expect(check('hourOfDay', nightOwls, at('2024-06-05T18:59:00Z'))).not.toBe(true); // 21:59 MSK
      expect(check('hourOfDay', { from: 0, to: 24 }, at('2024-06-05T20:59:00Z'))).toBe(true);
      expect(bindErrors('condition', 'hourOfDay', { from: 5, to: 5 })[0].path).toBe('args.to');
      expect(bindErrors('condition', 'hourOfDay', { from: 24, to: 5 })[0].message).toBe('24 is above the maximum 23');
    });

    it('occurredWithin: from included, to excluded, with explicit offsets', () => {
      const blackFriday = { from: '2024-11-29T00:00:00+03:00', to: '2024-11-30T00:00:00+03:00' };
      expect(check('occurredWithin', blackFriday, at('2024-11-28T21:00:00Z'))).toBe(true);
      expect(check('occurredWithin', blackFriday, at('2024-11-28T20:59:59Z'))).toBe(
        '2024-11-28T20:59:59.000Z is before 2024-11-28T21:00:00.000Z',
      );
      expect(check('occurredWithin', blackFriday, at('2024-11-29T21:00:00Z'))).not.toBe(true);
      expect(check('occurredWithin', { from: '2024-01-01T00:00:00Z' }, at('2030-01-01T00:00:00Z'))).toBe(true);
      expect(bindErrors('condition', 'occurredWithin', { from: '2024-11-29' })[0].message).toMatch(/offset/);
      expect(
        bindErrors('condition', 'occurredWithin', { from: '2024-11-29T00:00:00Z', to: '2024-11-28T00:00:00Z' })[0].path,
      ).toBe('args.to');
    });
  });
});

describe('actions', () => {
  const order = (...lines: OrderLine[]) => ({ totalMinor: lines.reduce((sum, l) => sum + l.unitPriceMinor, 0), lines });

  it('fixedPoints awards the points', () => {
    expect(run('fixedPoints', { points: 500 }, makeContext())).toEqual({ points: 500 });
    expect(bindErrors('action', 'fixedPoints', { points: 0 })).toEqual([
      { path: 'args.points', message: '0 is below the minimum 1' },
    ]);
    expect(bindErrors('action', 'fixedPoints', { points: 1.5 })).toEqual([
      { path: 'args.points', message: 'must be an integer' },
    ]);
  });

  describe('percentOfAmount', () => {
    it('converts the eligible money to points: 5 % of 10 000 rubles at 1 ruble a point = 500', () => {
      const context = makeContext({ order: order(line('BIKE', 1_000_000)) });
      expect(run('percentOfAmount', { percent: 5 }, context)).toEqual({ points: 500 });
      expect(run('percentOfAmount', { percent: '2.5' }, context)).toEqual({ points: 250 });
      expect(run('percentOfAmount', { percent: 5 }, { ...context, pointValueMinor: 50 })).toEqual({ points: 1000 });
    });

    it('uses what was paid with money, skips sale lines by default, rounds down once over the sum', () => {
      const context = makeContext({
        order: order(
          line('A', 1_990, { unitPriceMinor: 5_000 }), // 30.10 paid with points
          line('B', 1_990),
          line('SALE', 100_000, { onSale: true }),
        ),
      });
      // 5 % of 39.80 = 1.99 rubles → 1 point (per-line rounding would give 0 + 0).
      expect(run('percentOfAmount', { percent: 5 }, context)).toEqual({ points: 1 });
      expect(run('percentOfAmount', { percent: 5, excludeOnSale: false }, context)).toEqual({ points: 51 });
    });

    it('filters lines by SKU or category', () => {
      const context = makeContext({
        order: order(
          line('BALL', 100_000, { category: 'balls' }),
          line('SHOE', 200_000, { category: 'shoes' }),
          line('CAP', 400_000),
        ),
      });
      expect(run('percentOfAmount', { percent: 10, categories: ['balls'] }, context)).toEqual({ points: 100 });
      expect(run('percentOfAmount', { percent: 10, categories: ['balls'], skus: ['CAP'] }, context)).toEqual({
        points: 500,
      });
      expect(run('percentOfAmount', { percent: 10 }, context)).toEqual({ points: 700 });
    });

    it('awards nothing without an order and refuses odd percents', () => {
      expect(run('percentOfAmount', { percent: 5 }, makeContext())).toEqual({ points: 0 });
      expect(bindErrors('action', 'percentOfAmount', { percent: '5%' })[0]).toEqual({
        path: 'args.percent',
        message: 'must be a decimal number',
      });
      expect(bindErrors('action', 'percentOfAmount', { percent: 150 })[0].message).toBe('150 is above the maximum 100');
      expect(bindErrors('action', 'percentOfAmount', { percent: -1 })[0].message).toBe('-1 is below the minimum 0');
    });
  });

  describe('perProductPoints', () => {
    const table = [
      { sku: 'BALL', points: 30 },
      { sku: 'SHOE', points: 100 },
    ];

    it('awards points × quantity for listed SKUs only', () => {
      const context = makeContext({ order: order(line('BALL', 1, { quantity: 3 }), line('SHOE', 1), line('CAP', 1)) });
      expect(run('perProductPoints', { table }, context)).toEqual({ points: 190 });
      expect(run('perProductPoints', { table }, makeContext({ order: order(line('CAP', 1)) }))).toEqual({ points: 0 });
    });

    it('checks every row of the table', () => {
      expect(
        bindErrors('action', 'perProductPoints', {
          table: [
            { sku: 'A', points: 0 },
            { sku: '', points: 1 },
          ],
        }),
      ).toEqual([
        { path: 'args.table[0].points', message: '0 is below the minimum 1' },
        { path: 'args.table[1].sku', message: 'must be a non-empty string' },
      ]);
      expect(bindErrors('action', 'perProductPoints', { table: [...table, { sku: 'BALL', points: 1 }] })).toEqual([
        { path: 'args.table[2].sku', message: "duplicate SKU 'BALL'" },
      ]);
      expect(bindErrors('action', 'perProductPoints', { table: [] })[0].message).toBe('must not be empty');
    });
  });

  it('multiplier adds (factor − 1) × the other rules’ points, rounded down', () => {
    expect(run('multiplier', { factor: 2 }, makeContext(), 500)).toEqual({ points: 500 });
    expect(run('multiplier', { factor: '1.5' }, makeContext(), 333)).toEqual({ points: 166 });
    expect(run('multiplier', { factor: 3 }, makeContext(), 0)).toEqual({ points: 0 });
    expect(bindErrors('action', 'multiplier', { factor: 0.5 })[0].message).toBe('0.5 is below the minimum 1');
  });

  describe('rewardReferrer', () => {
    const context = makeContext({ order: order(line('BIKE', 100_000)) });

    it('awards the referrer at the given level, fixed or by percent', () => {
      expect(run('rewardReferrer', { points: 50 }, context)).toEqual({ points: 50, beneficiary: { referrerLevel: 1 } });
      expect(run('rewardReferrer', { percent: 5, level: 2 }, context)).toEqual({
        points: 50,
        beneficiary: { referrerLevel: 2 },
      });
    });

    it('needs exactly one of points and percent, and a level ≥ 1', () => {
      expect(bindErrors('action', 'rewardReferrer', {})).toEqual([
        { path: 'args', message: 'needs exactly one of points, percent' },
      ]);
      expect(bindErrors('action', 'rewardReferrer', { points: 1, percent: 1 })[0].message).toBe(
        'needs exactly one of points, percent',
      );
      expect(bindErrors('action', 'rewardReferrer', { points: 1, level: 0 })[0].path).toBe('args.level');
    });
  });

  it('issueCoupon asks for a coupon and awards no points', () => {
    expect(run('issueCoupon', { couponTemplate: 'WELCOME10' }, makeContext())).toEqual({
      sideEffects: [{ kind: 'issueCoupon', couponTemplate: 'WELCOME10', beneficiary: 'member' }],
    });
    expect(bindErrors('action', 'issueCoupon', {})).toEqual([{ path: 'args.couponTemplate', message: 'is required' }]);
  });
});

describe('the catalogue listing for admin tools', () => {
  it('lists every condition and action with typed arguments', () => {
    expect(listConditions().map((entry) => entry.code)).toEqual([
      'eventField',
      'orderTotal',
      'orderHasLine',
      'paymentMethod',
      'channel',
      'memberTags',
      'memberAttribute',
      'daysSinceRegistration',
      'memberTier',
      'cumulativeSpendCrosses',
      'dayOfWeek',
      'hourOfDay',
      'occurredWithin',
    ]);
    expect(listActions().map((entry) => entry.code)).toEqual([
      'fixedPoints',
      'percentOfAmount',
      'perProductPoints',
      'multiplier',
      'rewardReferrer',
      'issueCoupon',
    ]);
  });

  it('describes arguments with type, requirement, bounds, options and defaults', () => {
    const hourOfDay = listConditions().find((entry) => entry.code === 'hourOfDay')!;
    expect(hourOfDay.args).toEqual([
      { name: 'from', type: 'int', required: true, min: 0, max: 23, description: expect.any(String) },
      { name: 'to', type: 'int', required: true, min: 0, max: 24, description: expect.any(String) },
    ]);
    const memberTags = listConditions().find((entry) => entry.code === 'memberTags')!;
    expect(memberTags.args[1]).toMatchObject({
      name: 'match',
      type: 'enum',
      required: false,
      options: ['any', 'all'],
      default: 'any',
    });
    const perProduct = listActions().find((entry) => entry.code === 'perProductPoints')!;
    expect(perProduct.args[0].columns?.map((column) => [column.name, column.type])).toEqual([
      ['sku', 'string'],
      ['points', 'int'],
    ]);
    expect(listActions().find((entry) => entry.code === 'multiplier')!.stage).toBe('multiply');
    for (const entry of [...listConditions(), ...listActions()]) expect(entry.description.length).toBeGreaterThan(10);
  });
});
