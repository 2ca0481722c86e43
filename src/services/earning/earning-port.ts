import type { UnitOfWork } from '../../db/database';
import type { RuleContext } from '../../rules';
import type { AccountBook, EntryRecord } from '../ledger';

/**
 * What happened to a member that rules may reward: a tracked event, or a paid order
 * (trigger 'order_paid'). `sourceId` makes awards idempotent: one source is rewarded once.
 */
export interface EarningRequest {
  trigger: string;
  occurredAt: Date;
  payload: Record<string, unknown>;
  source: { type: 'event' | 'order'; id: string };
  order?: RuleContext['order'];
}

/**
 * Points one rule credited to one beneficiary. A beneficiary's awards for one source share one
 * entry (see EarningService's write): `entry` is that entry, `points` this rule's part of it.
 */
export interface EarnedAward {
  ruleId: string;
  ruleVersionId: string;
  version: number;
  ruleName: string;
  memberId: string;
  /** null: the member whose event it is; N: their referrer N levels up. */
  referrerLevel: number | null;
  points: number;
  entry: EntryRecord;
}

export interface EarningOutcome {
  /** Entries written to the member's account (and to referrers' accounts). */
  entries: EntryRecord[];
  /** Points credited to the member, after caps. */
  memberPoints: number;
  /** What was credited, one award per rule and beneficiary (a beneficiary's awards share their entry). */
  awards: EarnedAward[];
  /**
   * Money a paid order added to the member's cumulative spend: what cancelling or returning it
   * gives back through `returnSpend`. 0 for events, and for a source that was earned on before.
   */
  spendAddedMinor: number;
}

/** Points newly withdrawn from one rule's part of an award (named by the award's entry and the version that gave the part). */
export interface WithdrawnPart {
  entryId: number;
  ruleVersionId: string;
  points: number;
}

/** One rule's part of an award as a take-back sees it. */
export interface AwardPartToWithdraw {
  ruleVersionId: string;
  /** What the part may have withdrawn after this take-back: all its points, or its share of what was returned. */
  upTo: number;
  /** What it had withdrawn before. */
  withdrawn: number;
}

/**
 * What a take-back of an award withdraws from its rule parts: each part up to `upTo`, in order,
 * and no more in all than the take-back recovered (`recovered`: points taken, or owed as debt).
 * Points it forgave or that expired unused stay counted by caps, once-only rules and budgets.
 */
export function withdrawal(entryId: number, parts: readonly AwardPartToWithdraw[], recovered: number): WithdrawnPart[] {
  let left = recovered;
  return parts.map((part) => {
    const points = Math.max(0, Math.min(part.upTo - part.withdrawn, left));
    left -= points;
    return { entryId, ruleVersionId: part.ruleVersionId, points };
  });
}

/**
 * Applies the program's active rules to one event inside the caller's transaction, with the
 * member's account already locked in `book`. Implemented by EarningService; the order
 * service calls it when an order is paid, cancelled or returned, and to quote one.
 */
export interface Earning {
  earn(tx: UnitOfWork, book: AccountBook, request: EarningRequest): Promise<EarningOutcome>;
  /**
   * Money of an order paid without the rules (it took the member's tier discount instead of
   * points) joins the cumulative spend of the member locked in `book`; returns what was added,
   * which cancelling or returning it gives back through `returnSpend`.
   */
  addSpend(tx: UnitOfWork, book: AccountBook, minor: number): Promise<number>;
  /** Money of a paid order that was cancelled or returned leaves the cumulative spend of the member locked in `book`. */
  returnSpend(tx: UnitOfWork, book: AccountBook, minor: number): Promise<void>;
  /**
   * Points of awards' rule parts that an order's cancellation or returned lines took back (see
   * `withdrawal`): caps and once-only rules stop counting them and total budgets get them back.
   * Called once per take-back, in its transaction, with the beneficiaries' accounts locked.
   */
  withdraw(tx: UnitOfWork, parts: WithdrawnPart[]): Promise<void>;
  /** What `earn` would credit the member for this request now: read without locks, nothing written. */
  preview(programId: string, memberId: string, request: Omit<EarningRequest, 'source'>, now: Date): Promise<{ memberPoints: number }>;
}
