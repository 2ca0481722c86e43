/**
 * Tier qualification, pure: windows in the program's time zone, the amount a member qualifies
 * with, the tier that amount earns, progress to the next one, and when a tier held without
 * qualifying for it runs out. The requalify job runs the same definitions as set-based SQL
 * (requalify-store.ts); a test holds the two to the same answers.
 *
 * Definitions (all instants; windows are closed intervals [start, s]):
 * - amountAt(s): sum of the contributions dated in window(s): lifetime = everything up to s;
 *   calendar_year = from the local New Year of s; rolling_months = from s minus N months (local
 *   wall time, the day clamped to the month's end as PostgreSQL does).
 * - A contribution is what one paid order still counts for (never negative: a return lowers it,
 *   down to 0), dated when the order was paid, so a return is judged as if the returned lines
 *   were never bought.
 * - justifiedAmount(t): the most the member qualified with at any moment of the lookback
 *   [t − grace, t] (all history under policy 'none'). A held tier above the level of this
 *   amount has not been qualified for during the grace period: it is due to go down.
 */
import type { DowngradePolicy, TierLevel, TierWindow } from './types';

export const DAY_MS = 86_400_000;

export interface Contribution {
  at: Date;
  amount: number;
}

// ---------------------------------------------------------------------------------------------
// Wall time in a time zone (Intl only, no date library).

interface WallTime {
  year: number;
  month: number; // 1..12
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

function wallTime(instant: Date, timeZone: string): WallTime {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(instant)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { year: p.year, month: p.month, day: p.day, hour: p.hour, minute: p.minute, second: p.second, ms: instant.getUTCMilliseconds() };
}

/** The instant a wall time names in the zone (the earlier one in a DST overlap, shifted forward in a gap). */
function fromWallTime(w: WallTime, timeZone: string): Date {
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.ms);
  let guess = asUtc;
  for (let i = 0; i < 3; i++) {
    const seen = wallTime(new Date(guess), timeZone);
    const seenUtc = Date.UTC(seen.year, seen.month - 1, seen.day, seen.hour, seen.minute, seen.second, seen.ms);
    const next = guess + (asUtc - seenUtc);
    if (next === guess) break;
    guess = next;
  }
  return new Date(guess);
}

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** `instant` moved by `months` on the zone's wall calendar; the day is clamped to the month's end. */
export function addMonths(instant: Date, months: number, timeZone: string): Date {
  const w = wallTime(instant, timeZone);
  const index = w.year * 12 + (w.month - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return fromWallTime({ ...w, year, month, day: Math.min(w.day, daysInMonth(year, month)) }, timeZone);
}

/** Local midnight of January 1 of `instant`'s year, plus `years`. */
export function yearStart(instant: Date, timeZone: string, years = 0): Date {
  const { year } = wallTime(instant, timeZone);
  return fromWallTime({ year: year + years, month: 1, day: 1, hour: 0, minute: 0, second: 0, ms: 0 }, timeZone);
}

// ---------------------------------------------------------------------------------------------
// Windows and amounts.

/** The first instant window(s) counts; null = from the beginning. */
export function windowStart(s: Date, window: TierWindow, timeZone: string): Date | null {
  if (window.kind === 'lifetime') return null;
  if (window.kind === 'calendar_year') return yearStart(s, timeZone);
  return addMonths(s, -window.months!, timeZone);
}

/** The last instant a contribution dated `at` is still counted (null: forever). */
export function lastCounted(at: Date, window: TierWindow, timeZone: string): Date | null {
  if (window.kind === 'lifetime') return null;
  if (window.kind === 'calendar_year') return new Date(yearStart(at, timeZone, 1).getTime() - 1);
  return addMonths(at, window.months!, timeZone);
}

export function amountAt(contributions: readonly Contribution[], s: Date, window: TierWindow, timeZone: string): number {
  const start = windowStart(s, window, timeZone);
  let sum = 0;
  for (const c of contributions) if (c.at <= s && (!start || c.at >= start)) sum += c.amount;
  return sum;
}

/** Where the lookback of `t` starts: grace days back, or null (all history) under policy 'none'. */
export function lookbackStart(t: Date, graceDays: number, policy: DowngradePolicy): Date | null {
  return policy === 'none' ? null : new Date(t.getTime() - graceDays * DAY_MS);
}

/**
 * The most the member qualified with at any moment of [from, t] (from null: all history). With
 * contributions never negative, the amount only rises at a contribution and only falls when one
 * leaves the window, so the maximum is at `from`, `t`, a contribution's date, or the last moment
 * a contribution is counted: those are the only moments looked at.
 */
export function justifiedAmount(
  contributions: readonly Contribution[],
  t: Date,
  from: Date | null,
  window: TierWindow,
  timeZone: string,
): number {
  const inRange = (s: Date | null): s is Date => s !== null && s <= t && (!from || s >= from);
  const candidates: Date[] = [t];
  if (from) candidates.push(from);
  for (const c of contributions) {
    if (inRange(c.at)) candidates.push(c.at);
    const last = lastCounted(c.at, window, timeZone);
    if (inRange(last)) candidates.push(last);
  }
  return Math.max(...candidates.map((s) => amountAt(contributions, s, window, timeZone)));
}

/**
 * The last moment, with no new contributions, at which the member qualifies for `threshold`:
 * 'forever' when it never runs out (lifetime, or a threshold of 0), null when they never did.
 */
export function lastQualifyingMoment(
  contributions: readonly Contribution[],
  threshold: number,
  now: Date,
  window: TierWindow,
  timeZone: string,
): Date | 'forever' | null {
  if (threshold <= 0) return 'forever';
  if (window.kind === 'lifetime') return amountAt(contributions, now, window, timeZone) >= threshold ? 'forever' : null;
  // The amount falls only when a contribution stops being counted: the last such moment at which
  // it still reaches the threshold is the answer (or now, if it reaches it now and nothing leaves).
  const moments = [now, ...contributions.map((c) => lastCounted(c.at, window, timeZone)!)];
  let best: Date | null = null;
  for (const m of moments) {
    if ((!best || m > best) && amountAt(contributions, m, window, timeZone) >= threshold) best = m;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Levels.

/** The rank of the highest level `amount` reaches; -1 when it reaches none. Levels by rank, thresholds ascending. */
export function rankFor(amount: number, levels: readonly TierLevel[]): number {
  let rank = -1;
  for (const level of levels) if (amount >= level.threshold) rank = level.rank;
  return rank;
}

/** Where a held tier goes when it is due: one level down, or to what the member qualifies for. */
export function downgradeTarget(heldRank: number, justifiedRank: number, policy: DowngradePolicy): number {
  if (policy === 'none' || justifiedRank >= heldRank) return heldRank;
  return policy === 'one_level' ? Math.max(heldRank - 1, justifiedRank) : justifiedRank;
}

export interface Progress {
  next: TierLevel | null;
  /** What is still needed for `next`. */
  needed: number;
  /** amount ÷ next threshold, 0..1; 1 when there is no higher level. */
  progress: number;
}

/** Progress from the tier in force (rank, -1 = none) to the level above it. */
export function progressTo(amount: number, rank: number, levels: readonly TierLevel[]): Progress {
  const next = levels.find((l) => l.rank > rank) ?? null;
  if (!next) return { next: null, needed: 0, progress: 1 };
  const needed = Math.max(0, next.threshold - amount);
  const progress = next.threshold <= 0 ? 1 : Math.min(1, Math.max(0, amount / next.threshold));
  return { next, needed, progress: Math.floor(progress * 10_000) / 10_000 };
}

export interface HeldTier {
  rank: number;
  since: Date;
}

/**
 * When the requalify job would take the held tier down if nothing new is bought, and to which
 * rank: at the later of the last qualifying moment and the tier's start, plus the grace period
 * (a tier just stepped down to is kept for a grace period too). null: it is not at risk.
 */
export function downgradeDue(
  contributions: readonly Contribution[],
  held: HeldTier,
  levels: readonly TierLevel[],
  policy: DowngradePolicy,
  graceDays: number,
  now: Date,
  window: TierWindow,
  timeZone: string,
): { at: Date; toRank: number } | null {
  const level = levels.find((l) => l.rank === held.rank);
  if (policy === 'none' || !level) return null;
  const last = lastQualifyingMoment(contributions, level.threshold, now, window, timeZone);
  if (last === 'forever') return null;
  const from = last && last > held.since ? last : held.since;
  const at = new Date(from.getTime() + graceDays * DAY_MS + 1);
  const justified = rankFor(justifiedAmount(contributions, at, lookbackStart(at, graceDays, policy), window, timeZone), levels);
  return { at, toRank: downgradeTarget(held.rank, justified, policy) };
}
