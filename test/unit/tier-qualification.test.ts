import {
  addMonths, amountAt, downgradeDue, downgradeTarget, justifiedAmount, lastQualifyingMoment, lookbackStart, progressTo, rankFor,
  windowStart, yearStart, type Contribution,
} from '../../src/services/tiers/qualification';
import type { TierLevel, TierWindow } from '../../src/services/tiers/types';

const MSK = 'Europe/Moscow'; // UTC+3, no DST
const at = (iso: string) => new Date(iso);
const level = (rank: number, code: string, threshold: number): TierLevel => ({
  rank, code, name: code, threshold, earnMultiplier: 1, maxRedeemPercent: null, discountPercent: 0, perks: [],
});
const LEVELS = [level(0, 'standard', 0), level(1, 'silver', 1_000), level(2, 'gold', 5_000)];
const LIFETIME: TierWindow = { kind: 'lifetime', months: null };
const YEAR: TierWindow = { kind: 'calendar_year', months: null };
const ROLLING_12: TierWindow = { kind: 'rolling_months', months: 12 };
const c = (iso: string, amount: number): Contribution => ({ at: at(iso), amount });

describe('windows in the program time zone', () => {
  it('starts a calendar year at local midnight of January 1', () => {
    // 2026-12-31T22:00Z is already 2027-01-01 01:00 in Moscow.
    expect(yearStart(at('2026-12-31T22:00:00Z'), MSK).toISOString()).toBe('2026-12-31T21:00:00.000Z');
    expect(yearStart(at('2026-12-31T20:00:00Z'), MSK).toISOString()).toBe('2025-12-31T21:00:00.000Z');
    expect(windowStart(at('2026-06-01T00:00:00Z'), YEAR, 'UTC')!.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('moves months on the wall calendar, clamping the day to the month end', () => {
    expect(addMonths(at('2026-03-31T10:00:00Z'), -1, 'UTC').toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(addMonths(at('2026-01-15T10:00:00Z'), 12, 'UTC').toISOString()).toBe('2027-01-15T10:00:00.000Z');
    // Berlin changes to summer time on 2026-03-29: the wall time is kept, the offset changes.
    expect(addMonths(at('2026-03-15T11:00:00Z'), 1, 'Europe/Berlin').toISOString()).toBe('2026-04-15T10:00:00.000Z');
  });

  it('counts contributions dated inside [start, s] only', () => {
    const cs = [c('2025-05-01T00:00:00Z', 700), c('2026-02-01T00:00:00Z', 400)];
    const s = at('2026-03-01T00:00:00Z');
    expect(amountAt(cs, s, LIFETIME, 'UTC')).toBe(1_100);
    expect(amountAt(cs, s, YEAR, 'UTC')).toBe(400);
    expect(amountAt(cs, s, ROLLING_12, 'UTC')).toBe(1_100);
    expect(amountAt(cs, at('2026-05-02T00:00:00Z'), ROLLING_12, 'UTC')).toBe(400);
    expect(amountAt(cs, at('2025-04-30T00:00:00Z'), LIFETIME, 'UTC')).toBe(0);
  });
});

describe('levels and progress', () => {
  it('finds the highest level an amount reaches', () => {
    expect(rankFor(0, LEVELS)).toBe(0);
    expect(rankFor(999, LEVELS)).toBe(0);
    expect(rankFor(1_000, LEVELS)).toBe(1);
    expect(rankFor(10_000, LEVELS)).toBe(2);
    expect(rankFor(10, [level(0, 'silver', 100)])).toBe(-1);
  });

  it('measures progress to the level above the tier in force', () => {
    expect(progressTo(600, 0, LEVELS)).toEqual({ next: LEVELS[1], needed: 400, progress: 0.6 });
    expect(progressTo(2_000, 1, LEVELS)).toEqual({ next: LEVELS[2], needed: 3_000, progress: 0.4 });
    // Held above what the amount reaches (grace, VIP): still measured against the next level.
    expect(progressTo(6_000, 1, LEVELS).needed).toBe(0);
    expect(progressTo(6_000, 2, LEVELS)).toEqual({ next: null, needed: 0, progress: 1 });
  });

  it('steps down one level or to the earned level, never under policy none', () => {
    expect(downgradeTarget(2, 0, 'one_level')).toBe(1);
    expect(downgradeTarget(2, 0, 'to_earned')).toBe(0);
    expect(downgradeTarget(2, 0, 'none')).toBe(2);
    expect(downgradeTarget(1, 2, 'to_earned')).toBe(1);
  });
});

describe('the grace lookback', () => {
  const cs = [c('2025-03-01T00:00:00Z', 1_200), c('2025-11-01T00:00:00Z', 300)];

  it('takes the best moment of the lookback, including the last moment an order is counted', () => {
    // Rolling 12 months: the March order is counted until 2026-03-01; on 2026-03-20 with 30 days of
    // grace, the member last had 1 500 on 2026-03-01.
    const t = at('2026-03-20T00:00:00Z');
    expect(amountAt(cs, t, ROLLING_12, 'UTC')).toBe(300);
    expect(justifiedAmount(cs, t, lookbackStart(t, 30, 'to_earned'), ROLLING_12, 'UTC')).toBe(1_500);
    expect(justifiedAmount(cs, t, lookbackStart(t, 10, 'to_earned'), ROLLING_12, 'UTC')).toBe(300);
    // Policy none looks at all history.
    expect(justifiedAmount(cs, t, lookbackStart(t, 0, 'none'), ROLLING_12, 'UTC')).toBe(1_500);
  });

  it('counts a calendar year up to its last moment', () => {
    const t = at('2026-01-20T00:00:00Z');
    expect(amountAt(cs, t, YEAR, 'UTC')).toBe(0);
    expect(justifiedAmount(cs, t, lookbackStart(t, 30, 'one_level'), YEAR, 'UTC')).toBe(1_500);
    expect(justifiedAmount(cs, t, lookbackStart(t, 19, 'one_level'), YEAR, 'UTC')).toBe(0);
  });

  it('knows the last moment a threshold is met', () => {
    const now = at('2025-12-01T00:00:00Z');
    expect(lastQualifyingMoment(cs, 1_000, now, ROLLING_12, 'UTC')).toEqual(at('2026-03-01T00:00:00Z'));
    expect(lastQualifyingMoment(cs, 5_000, now, ROLLING_12, 'UTC')).toBeNull();
    expect(lastQualifyingMoment(cs, 1_000, now, YEAR, 'UTC')).toEqual(at('2025-12-31T23:59:59.999Z'));
    expect(lastQualifyingMoment(cs, 1_000, now, LIFETIME, 'UTC')).toBe('forever');
    expect(lastQualifyingMoment(cs, 0, now, ROLLING_12, 'UTC')).toBe('forever');
  });

  it('says when a held tier goes down and to what', () => {
    const now = at('2025-12-01T00:00:00Z');
    const held = { rank: 1, since: at('2025-03-01T00:00:00Z') };
    expect(downgradeDue(cs, held, LEVELS, 'to_earned', 30, now, ROLLING_12, 'UTC')).toEqual({
      at: at('2026-03-31T00:00:00.001Z'),
      toRank: 0,
    });
    expect(downgradeDue(cs, held, LEVELS, 'none', 30, now, ROLLING_12, 'UTC')).toBeNull();
    expect(downgradeDue(cs, held, LEVELS, 'to_earned', 30, now, LIFETIME, 'UTC')).toBeNull();
    // Gold held without ever qualifying (stepped down to it, say): due a grace period after it began, one level down.
    const gold = { rank: 2, since: at('2025-11-15T00:00:00Z') };
    expect(downgradeDue(cs, gold, LEVELS, 'one_level', 30, now, ROLLING_12, 'UTC')).toEqual({
      at: at('2025-12-15T00:00:00.001Z'),
      toRank: 1,
    });
  });
});
