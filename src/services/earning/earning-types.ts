import type { MismatchReason, RuleContext, RuleDefinition } from '../../rules';
import type { EntryRecord } from '../ledger';
import type { PlannedAward } from './award-planner';
import type { EarnedAward, EarningOutcome } from './earning-port';

/** An award written to the ledger: its rule's part of its beneficiary's entry. */
export type RuleAwardRecord = EarnedAward;

/** One rule's part of a ledger entry: the rule version that gave it and its points (a rule_award row). */
export interface AwardPart {
  ruleId: string;
  ruleVersionId: string;
  version: number;
  ruleName: string;
  points: number;
}

/** An award a rule's limits cut below what it asked for (to nothing included). */
export type LimitedAward = Pick<PlannedAward, 'ruleId' | 'ruleVersionId' | 'version' | 'ruleName' | 'referrerLevel' | 'memberId' | 'requestedPoints' | 'points'> & {
  limitedBy: NonNullable<PlannedAward['limitedBy']>;
};

export interface DetailedEarningOutcome extends EarningOutcome {
  awards: RuleAwardRecord[];
  limited: LimitedAward[];
}

/** A dry run's answer for one rule. */
export interface RuleSimulation {
  ruleId: string;
  ruleVersionId: string;
  version: number;
  ruleName: string;
  status: RuleDefinition['status'];
  matched: boolean;
  reason: MismatchReason | null;
  awards: PlannedAward[];
}

export interface Simulation {
  rules: RuleSimulation[];
  memberPoints: number;
  referrerPoints: number;
}

export interface SimulationRequest {
  trigger: string;
  memberId: string;
  occurredAt: Date;
  payload: Record<string, unknown>;
  order?: RuleContext['order'];
  now: Date;
}
