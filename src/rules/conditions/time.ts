import { EarnCondition } from '../earn-condition';
import { localTime, WEEKDAYS } from '../time-zone';

export const dayOfWeek = new EarnCondition({
  code: 'dayOfWeek',
  description: 'The event happened on one of the weekdays, in the program time zone',
  args: { days: { type: 'string[]', required: true, options: WEEKDAYS, description: "Weekdays: 'mon' … 'sun'" } },
  check: ({ event, timeZone }, { days }) => {
    const { weekday } = localTime(event.occurredAt, timeZone);
    return days.includes(weekday) || `${weekday} is not in ${days.join(', ')}`;
  },
});

export const hourOfDay = new EarnCondition({
  code: 'hourOfDay',
  description:
    'The event happened from hour `from` up to (not including) hour `to`, in the program time zone; 22 → 2 wraps past midnight',
  args: {
    from: { type: 'int', required: true, min: 0, max: 23, description: 'First hour included' },
    to: { type: 'int', required: true, min: 0, max: 24, description: 'First hour excluded; 24 = until midnight' },
  },
  validate: ({ from, to }) => (from === to ? [{ arg: 'to', message: 'must differ from from' }] : []),
  check: ({ event, timeZone }, { from, to }) => {
    const { hour } = localTime(event.occurredAt, timeZone);
    const inside = from < to ? hour >= from && hour < to : hour >= from || hour < to;
    return inside || `hour ${hour} is outside ${from}–${to}`;
  },
});

export const occurredWithin = new EarnCondition({
  code: 'occurredWithin',
  description: 'The event happened at or after `from` and before `to`',
  args: {
    from: { type: 'datetime', description: 'Start, included' },
    to: { type: 'datetime', description: 'End, excluded' },
  },
  validate: ({ from, to }) => {
    if (!from && !to) return [{ message: 'needs from, to or both' }];
    if (from && to && from >= to) return [{ arg: 'to', message: 'must be after from' }];
    return [];
  },
  check: ({ event }, { from, to }) => {
    const at = event.occurredAt;
    if (from && at < from) return `${at.toISOString()} is before ${from.toISOString()}`;
    if (to && at >= to) return `${at.toISOString()} is not before ${to.toISOString()}`;
    return true;
  },
});
