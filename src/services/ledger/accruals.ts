/**
 * Accruals whose parts live differently (AccountBook.accrueAll): one entry, with a lot per
 * lifetime of its parts. Pure: what to write, and how a take-back spreads over the lots.
 */
import { EntryKind } from '../../entities/ledger-entry';
import type { AccountState, AccrualLot, Cause, LotChange } from './entries';

/**
 * One accrual: its entry's cause and its points by part. Parts with the same availability and
 * expiry share a lot. When rules gave the points, each part names its rule (and `source` says
 * whose event or order it was): the entry is then written with one rule_award row per part,
 * in the same statement.
 */
export interface NewAccrual {
  cause: Cause;
  kind?: EntryKind;
  parts: readonly AccrualPart[];
  source?: RuleSource;
}

export interface AccrualPart {
  points: number;
  availableAt: Date;
  expiresAt: Date | null;
  rule?: RulePart;
}

/** The rule a part of an accrual comes from (a rule_award row). */
export interface RulePart {
  ruleId: string;
  ruleVersionId: string;
  /** null: the member whose event it is; N: their referrer N levels up. */
  referrerLevel: number | null;
  /** A once-only rule's award (one per member and beneficiary). */
  oneOff: boolean;
}

/** Whose event or order the rules rewarded. */
export interface RuleSource {
  memberId: string;
  type: string;
  id: string;
}

/** An accrual with its lots (its parts with the same availability and expiry summed into one) and its rules' parts. */
export interface PlannedAccrual {
  cause: Cause;
  kind?: EntryKind;
  lots: AccrualPart[];
  rules: Array<RulePart & { points: number }>;
  source: RuleSource | null;
}

/** The accrual's lots, in the order their lifetimes first appear; RangeError for a part without points. */
export function planAccrual(accrual: NewAccrual): PlannedAccrual {
  const lots = new Map<string, AccrualPart>();
  for (const part of accrual.parts) {
    if (!Number.isSafeInteger(part.points) || part.points <= 0) {
      throw new RangeError(`accrueAll: ${part.points} is not a positive whole number of points`);
    }
    const key = `${part.availableAt.getTime()}:${part.expiresAt?.getTime() ?? ''}`;
    const lot = lots.get(key);
    if (lot) lot.points += part.points;
    else lots.set(key, { ...part });
  }
  if (lots.size === 0) throw new RangeError('accrueAll: an accrual needs points');
  const rules = accrual.parts.filter((p) => p.rule).map((p) => ({ ...p.rule!, points: p.points }));
  if (rules.length > 0 && (rules.length !== accrual.parts.length || !accrual.source)) {
    throw new RangeError('accrueAll: an accrual from rules names the rule of every part, and its source');
  }
  return { cause: accrual.cause, kind: accrual.kind, lots: [...lots.values()].map(({ rule, ...lot }) => lot), rules, source: accrual.source ?? null };
}

/** The rows of `accrueMany`'s JSON parameter, one per entry with its lots, and the account's balances after the last. */
export function accrualRows(accruals: readonly PlannedAccrual[], state: AccountState, now: Date) {
  let { available, pending } = state;
  let earned = state.lifetimeEarned;
  const rows = accruals.map((a, i) => {
    let deltaAvailable = 0;
    let deltaPending = 0;
    const lots = a.lots.map((lot) => {
      const activated = lot.availableAt.getTime() <= now.getTime();
      if (activated) deltaAvailable += lot.points;
      else deltaPending += lot.points;
      return {
        amount: lot.points,
        available_at: lot.availableAt.toISOString(),
        activated_at: activated ? now.toISOString() : null,
        expires_at: lot.expiresAt ? lot.expiresAt.toISOString() : null,
      };
    });
    available += deltaAvailable;
    pending += deltaPending;
    earned += deltaAvailable + deltaPending;
    const c = a.cause;
    return {
      ord: i + 1,
      kind: a.kind ?? EntryKind.ACCRUAL,
      amount: deltaAvailable + deltaPending,
      delta_available: deltaAvailable,
      delta_pending: deltaPending,
      available_after: available,
      pending_after: pending,
      cause_type: c.type,
      cause_id: c.id ?? null,
      rule_version_id: c.ruleVersionId ?? null,
      reason: c.reason ?? null,
      idempotency_key: c.idempotencyKey ?? null,
      owner_type: c.owner?.type ?? null,
      owner_id: c.owner?.id ?? null,
      lots,
      rules: a.rules.length === 0 ? null : a.rules.map((r) => ({
        rule_id: r.ruleId, rule_version_id: r.ruleVersionId, referrer_level: r.referrerLevel, points: r.points, one_off: r.oneOff,
      })),
      source_member_id: a.source?.memberId ?? null,
      source_type: a.source?.type ?? null,
      source_id: a.source?.id ?? null,
    };
  });
  return { rows, available, pending, earned };
}

/**
 * Notes `forgiven` points on the accrual's lots that others took them from, each up to what it
 * may still forgive (verifyLedger's lot_forgiven check), in the lots' order; should that fall
 * short, the rest goes on the first lot, as a one-lot accrual always did.
 */
export function forgiveAcross(lots: readonly AccrualLot[], forgiven: number, changes: Map<number, LotChange>): void {
  let left = forgiven;
  for (const lot of lots) {
    const here = Math.min(left, Math.max(0, lot.spentElsewhere - lot.forgiven));
    if (here > 0) changes.get(lot.id)!.forgiven! += here;
    left -= here;
  }
  if (left > 0) changes.get(lots[0].id)!.forgiven! += left;
}
