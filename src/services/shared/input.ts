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
