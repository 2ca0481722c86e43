import type { ArgIssue } from '../args';

/** Cross-argument check shared by min/max conditions: at least one bound, and min ≤ max. */
export function rangeIssues(min: number | undefined, max: number | undefined): ArgIssue[] {
  if (min === undefined && max === undefined) return [{ message: 'needs min, max or both' }];
  if (min !== undefined && max !== undefined && min > max) {
    return [{ arg: 'max', message: `max ${max} is below min ${min}` }];
  }
  return [];
}

/** `true` when min ≤ value ≤ max (absent bounds are open), otherwise e.g. `90000 < min 100000`. */
export function inRange(value: number, min: number | undefined, max: number | undefined): true | string {
  if (min !== undefined && value < min) return `${value} < min ${min}`;
  if (max !== undefined && value > max) return `${value} > max ${max}`;
  return true;
}
