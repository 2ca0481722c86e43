import fc from 'fast-check';
import { formatDecimal, mulDivFloor, parseDecimal } from '../../src/rules/decimal';
import { calendarDaysBetween, isValidTimeZone, localTime } from '../../src/rules/time-zone';

const decimal = (value: number | string) => {
  const parsed = parseDecimal(value);
  if (!parsed) throw new Error(`not a decimal: ${value}`);
  return parsed;
};

describe('exact decimals', () => {
  it.each([
    [5, 5n, 0],
    ['2.5', 25n, 1],
    [2.5, 25n, 1],
    ['1.50', 150n, 2],
    [-0.75, -75n, 2],
    ['1e-3', 1n, 3],
    [1e21, 10n ** 21n, 0],
  ])('reads %p as units %p at scale %p', (input, units, scale) => {
    expect(parseDecimal(input)).toEqual({ units, scale });
  });

  it.each([['abc'], ['1,5'], [''], [Number.NaN], [Infinity], [null], [true]])('rejects %p', (input) => {
    expect(parseDecimal(input)).toBeUndefined();
  });

  it('formats back to the shortest text', () => {
    expect(formatDecimal(decimal('1.50'))).toBe('1.5');
    expect(formatDecimal(decimal('0.05'))).toBe('0.05');
    expect(formatDecimal(decimal(-3))).toBe('-3');
  });

  it('5 % of 1 000 000 kopecks at 100 kopecks a point is exactly 500 points', () => {
    expect(mulDivFloor(1_000_000, decimal(5), 100 * 100)).toBe(500);
  });

  it('has none of the binary float drift: 0.57 % of 10 000 is 57, where floats give 56', () => {
    expect(Math.floor((10_000 * 0.57) / 100)).toBe(56);
    expect(mulDivFloor(10_000, decimal(0.57), 100)).toBe(57);
    expect(mulDivFloor(100_000, decimal('2.3'), 100)).toBe(2300);
    expect(Math.floor(100 * 4.35)).toBe(434);
    expect(mulDivFloor(100, decimal(4.35), 1)).toBe(435);
  });

  it('rounds down and never goes below zero', () => {
    expect(mulDivFloor(999, decimal(5), 100)).toBe(49);
    expect(mulDivFloor(1000, decimal(-5), 100)).toBe(0);
  });

  it('refuses results beyond the safe integer range and bad divisors', () => {
    expect(() => mulDivFloor(Number.MAX_SAFE_INTEGER, decimal(100), 1)).toThrow(RangeError);
    expect(() => mulDivFloor(100, decimal(1), 0)).toThrow(RangeError);
    expect(() => mulDivFloor(1.5, decimal(1), 1)).toThrow(RangeError);
  });

  it('matches exact rational arithmetic for any amount and two-decimal percent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 ** 12 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 1, max: 1000 }),
        (amount, hundredths, pointValue) => {
          const percent = decimal(`${Math.floor(hundredths / 100)}.${String(hundredths % 100).padStart(2, '0')}`);
          const expected = (BigInt(amount) * BigInt(hundredths)) / (100n * 100n * BigInt(pointValue));
          expect(mulDivFloor(amount, percent, 100 * pointValue)).toBe(Number(expected));
        },
      ),
    );
  });
});

describe('time zones', () => {
  it('23:30 UTC on Sunday is 02:30 on Monday in Moscow', () => {
    const instant = new Date('2024-03-10T23:30:00Z');
    expect(localTime(instant, 'UTC')).toMatchObject({ day: 10, hour: 23, weekday: 'sun' });
    expect(localTime(instant, 'Europe/Moscow')).toEqual({
      year: 2024,
      month: 3,
      day: 11,
      hour: 2,
      minute: 30,
      weekday: 'mon',
    });
  });

  it('reads midnight as hour 0, not 24', () => {
    expect(localTime(new Date('2024-01-01T21:00:00Z'), 'Europe/Moscow').hour).toBe(0);
  });

  it('counts calendar days on the local calendar, across a DST change', () => {
    const from = new Date('2024-03-09T12:00:00-05:00');
    const to = new Date('2024-03-11T00:30:00-04:00');
    expect(calendarDaysBetween(from, to, 'America/New_York')).toBe(2);
    // 23:00 and 01:00 UTC the next day are one calendar day apart in UTC but the same day in Moscow.
    expect(calendarDaysBetween(new Date('2024-05-01T22:00:00Z'), new Date('2024-05-02T01:00:00Z'), 'UTC')).toBe(1);
    expect(
      calendarDaysBetween(new Date('2024-05-01T22:00:00Z'), new Date('2024-05-02T01:00:00Z'), 'Europe/Moscow'),
    ).toBe(0);
  });

  it('recognises IANA names only', () => {
    expect(isValidTimeZone('Europe/Moscow')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});
