import type { EntityManager } from '@mikro-orm/postgresql';
import type { RuleContext } from '../rules';
import type { AccountBook, EntryRecord } from './account-book';

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

export interface EarningOutcome {
  /** Entries written to the member's account (and to referrers' accounts). */
  entries: EntryRecord[];
  /** Points credited to the member, after caps. */
  memberPoints: number;
}

/**
 * Applies the program's active rules to one event inside the caller's transaction, with the
 * member's account already locked in `book`. Implemented by the rules service; the order
 * service calls it when an order is paid.
 */
export interface Earning {
  earn(tx: EntityManager, book: AccountBook, request: EarningRequest): Promise<EarningOutcome>;
}
