import { birthdayCelebration, isoDate } from '../../src/services/earning/birthday-calendar';

const at = (asOf: string, zone = 'Europe/Moscow', daysBefore = 0) => {
  const c = birthdayCelebration(new Date(asOf), zone, daysBefore);
  return { on: isoDate(c.celebratedOn), year: c.year, month: c.month, days: c.days };
};

test('today is the program\'s local day', () => {
  expect(at('2026-03-14T20:59:00Z')).toEqual({ on: '2026-03-14', year: 2026, month: 3, days: [14] });
  expect(at('2026-03-14T21:00:00Z')).toEqual({ on: '2026-03-15', year: 2026, month: 3, days: [15] });
  expect(at('2026-03-14T21:00:00Z', 'UTC').on).toBe('2026-03-14');
});

test('Feb 28 also celebrates Feb 29 birthdays, except in leap years', () => {
  expect(at('2027-02-28T09:00:00Z').days).toEqual([28, 29]);
  expect(at('2028-02-28T09:00:00Z').days).toEqual([28]);
  expect(at('2028-02-29T09:00:00Z').days).toEqual([29]);
  expect(at('2100-02-28T09:00:00Z').days).toEqual([28, 29]);
});

test('days before look ahead, into the next year', () => {
  expect(at('2026-12-30T09:00:00Z', 'Europe/Moscow', 3)).toEqual({ on: '2027-01-02', year: 2027, month: 1, days: [2] });
});
