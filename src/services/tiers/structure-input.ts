/** Checks a tier structure as staff send it; every refusal is BAD_USER_INPUT naming the field. */
import { apiEnum, badInput } from '../../errors';
import type { DowngradePolicy, TierLevel, TierMetric, TierStructureInput, TierWindowKind } from './types';

export const MAX_LEVELS = 20;
const CODE = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const METRICS: readonly TierMetric[] = ['spend', 'points'];
const WINDOWS: readonly TierWindowKind[] = ['lifetime', 'calendar_year', 'rolling_months'];
const POLICIES: readonly DowngradePolicy[] = ['none', 'one_level', 'to_earned'];

export interface CheckedStructure {
  metric: TierMetric;
  window: { kind: TierWindowKind; months: number | null };
  downgradePolicy: DowngradePolicy;
  graceDays: number;
  levels: TierLevel[];
}

const hasDecimals = (value: number, places: number) => Math.abs(Math.round(value * 10 ** places) - value * 10 ** places) > 1e-6;

function oneOf<T extends string>(value: unknown, options: readonly T[], field: string): T {
  if (!options.includes(value as T)) throw badInput(`${field} must be one of ${options.map(apiEnum).join(', ')}`, { field, value });
  return value as T;
}

function wholeNumber(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badInput(`${field} must be a whole number from ${min} to ${max}`, { field, value });
  }
  return value;
}

function decimal(value: unknown, field: string, min: number, max: number, places: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || hasDecimals(value, places)) {
    throw badInput(`${field} must be a number from ${min} to ${max} with at most ${places} decimals`, { field, value });
  }
  return value;
}

function text(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || !value.trim() || value.length > max) throw badInput(`${field} must be 1 to ${max} characters`, { field });
  return value;
}

export function checkStructure(input: TierStructureInput): CheckedStructure {
  const metric = oneOf(input.metric, METRICS, 'metric');
  const kind = oneOf(input.window, WINDOWS, 'window');
  let months: number | null = null;
  if (kind === 'rolling_months') months = wholeNumber(input.windowMonths, 'windowMonths', 1, 120);
  else if (input.windowMonths != null) throw badInput(`windowMonths is only for a ${apiEnum('rolling_months')} window`, { field: 'windowMonths' });
  const downgradePolicy = oneOf(input.downgradePolicy, POLICIES, 'downgradePolicy');
  const graceDays = wholeNumber(input.graceDays ?? 0, 'graceDays', 0, 3660);
  if (!Array.isArray(input.levels) || input.levels.length === 0 || input.levels.length > MAX_LEVELS) {
    throw badInput(`levels must list 1 to ${MAX_LEVELS} levels, lowest first`, { field: 'levels' });
  }
  const codes = new Set<string>();
  const levels = input.levels.map((l, rank): TierLevel => {
    const field = `levels[${rank}]`;
    if (typeof l.code !== 'string' || !CODE.test(l.code)) {
      throw badInput(`${field}.code must be 1 to 40 lower-case letters, digits, '-' or '_'`, { field: `${field}.code`, value: l.code });
    }
    if (codes.has(l.code)) throw badInput(`${field}.code '${l.code}' is used twice`, { field: `${field}.code`, value: l.code });
    codes.add(l.code);
    const threshold = wholeNumber(l.threshold, `${field}.threshold`, 0, 1e13);
    const previous = input.levels[rank - 1];
    if (previous && threshold <= previous.threshold) {
      throw badInput(`${field}.threshold must be above the level below it (${previous.threshold})`, { field: `${field}.threshold`, value: threshold });
    }
    const perks = l.perks ?? [];
    if (!Array.isArray(perks) || perks.length > 20) throw badInput(`${field}.perks lists at most 20 perks`, { field: `${field}.perks` });
    return {
      rank,
      code: l.code,
      name: text(l.name, `${field}.name`, 100),
      threshold,
      earnMultiplier: decimal(l.earnMultiplier ?? 1, `${field}.earnMultiplier`, 1, 100, 3),
      maxRedeemPercent: l.maxRedeemPercent == null ? null : wholeNumber(l.maxRedeemPercent, `${field}.maxRedeemPercent`, 0, 100),
      discountPercent: decimal(l.discountPercent ?? 0, `${field}.discountPercent`, 0, 100, 2),
      perks: perks.map((p, i) => text(p, `${field}.perks[${i}]`, 100)),
    };
  });
  return { metric, window: { kind, months }, downgradePolicy, graceDays, levels };
}
