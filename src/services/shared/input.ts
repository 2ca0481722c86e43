import { badInput } from '../../errors';

/**
 * A PostgreSQL array literal for one `?::uuid[]`, `?::bigint[]` or enum-array placeholder.
 * Elements are not quoted: ids, numbers and enum values only, never free text.
 */
export const pgArray = (values: ReadonlyArray<number | string>): string => `{${values.join(',')}}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a caller's id can be a uuid: anything else is simply not found, never a database error. */
export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** The longest free-text reason a write may carry. */
export const MAX_REASON = 500;

/**
 * Optional (or `required`) text of at most `max` characters that is not only blanks; returns
 * the value, or null when it is absent.
 */
export function checkText(value: string | null | undefined, field: string, max: number, required = false): string | null {
  if (value == null || value === '') {
    if (required) throw badInput(`${field} is required`, { field });
    return null;
  }
  if (typeof value !== 'string' || value.length > max || !value.trim()) {
    throw badInput(`${field} must be 1 to ${max} characters`, { field });
  }
  return value;
}

export const checkReason = (reason: string | null | undefined, required = false): string | null =>
  checkText(reason, 'reason', MAX_REASON, required);

/** How far ahead of our clock a caller's "now" may run (their clock may be a little fast). */
export const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * `value` (a time the caller says has happened, e.g. when a customer registered) is not after
 * now, give or take {@link CLOCK_SKEW_MS}, nor before `earliest`.
 */
export function checkPastDate(value: Date, field: string, now: Date, earliest: Date): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw badInput(`${field} must be a date and time`, { field });
  if (value.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    throw badInput(`${field} must not be in the future (up to 5 minutes ahead is allowed for clock skew)`, { field });
  }
  if (value < earliest) throw badInput(`${field} must not be before ${earliest.toISOString().slice(0, 10)}`, { field });
  return value;
}

/** The earliest date points may become available or expire at. */
export const EARLIEST_LOT_DATE = new Date('2000-01-01T00:00:00Z');
/** How many years ahead points may become available or expire. */
export const MAX_LOT_YEARS_AHEAD = 100;

/**
 * A lot's explicit `availableAt` and `expiresAt` fall from {@link EARLIEST_LOT_DATE} to
 * {@link MAX_LOT_YEARS_AHEAD} years after now: year 1 or 9999 is a caller's mistake, and such
 * dates would leave points pending or alive for ever.
 */
export function checkLotDates(input: { availableAt?: Date | null; expiresAt?: Date | null }, now: Date): void {
  const latest = new Date(now.getTime());
  latest.setUTCFullYear(latest.getUTCFullYear() + MAX_LOT_YEARS_AHEAD);
  for (const field of ['availableAt', 'expiresAt'] as const) {
    const at = input[field];
    if (at == null) continue;
    if (!(at instanceof Date) || Number.isNaN(at.getTime()) || at < EARLIEST_LOT_DATE || at > latest) {
      throw badInput(
        `${field} must be from ${EARLIEST_LOT_DATE.toISOString().slice(0, 10)} to ${MAX_LOT_YEARS_AHEAD} years from now (${latest.toISOString().slice(0, 10)})`,
        { field },
      );
    }
  }
}
