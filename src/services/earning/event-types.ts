import type { RuleContext } from '../../rules';
import type { MemberRef } from '../shared';
import type { LimitedAward, RuleAwardRecord } from './earning-types';

export interface TrackEventInput {
  type: string;
  member: MemberRef;
  payload?: Record<string, unknown> | null;
  /** When it happened; defaults to now. */
  occurredAt?: Date | null;
  /** The shop's id for this event: the same key is tracked once. */
  idempotencyKey: string;
}

export interface SimulateEventInput {
  type: string;
  member: MemberRef;
  payload?: Record<string, unknown> | null;
  occurredAt?: Date | null;
  /** For 'order_paid': the order as the order service would pass it. */
  order?: RuleContext['order'] | null;
}

export interface EventRecord {
  id: string;
  programId: string;
  memberId: string;
  type: string;
  payload: Record<string, unknown>;
  occurredAt: Date;
  idempotencyKey: string;
  createdAt: Date;
}

export interface TrackEventResult {
  event: EventRecord;
  awards: RuleAwardRecord[];
  /** Points credited to the member (referrers' awards are in `awards`). */
  memberPoints: number;
  /** Awards the rules' limits cut, and which limit. */
  limited: LimitedAward[];
}

/** What a birthday run did: programs visited, birthdays raised, their points, failures. */
export interface BirthdayRun {
  programs: number;
  raised: number;
  points: number;
  failed: number;
}
