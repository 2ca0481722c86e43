/** The tiers module's shapes: structures and levels, a member's tier, its history and status. */

/** What qualifies: money paid (minor units, net of points, refunds and cancels) or points earned. */
export type TierMetric = 'spend' | 'points';
export type TierWindowKind = 'lifetime' | 'calendar_year' | 'rolling_months';
/** What happens when a member stops qualifying, after the grace period. */
export type DowngradePolicy = 'none' | 'one_level' | 'to_earned';

export interface TierWindow {
  kind: TierWindowKind;
  /** rolling_months only. */
  months: number | null;
}

export interface TierLevel {
  /** 0 = the lowest level. */
  rank: number;
  code: string;
  name: string;
  /** In the structure's metric; the lowest level may be 0 (every member has it). */
  threshold: number;
  /** Multiplies what the rules award the member (1 = as the rules say). */
  earnMultiplier: number;
  /** Overrides the program's maxRedeemPercent for the member; null = the program's. */
  maxRedeemPercent: number | null;
  /** The member's discount when an order takes it instead of points (T4). */
  discountPercent: number;
  perks: string[];
}

export interface TierStructure {
  id: string;
  programId: string;
  version: number;
  metric: TierMetric;
  window: TierWindow;
  downgradePolicy: DowngradePolicy;
  graceDays: number;
  /** By rank, lowest first. */
  levels: TierLevel[];
  createdAt: Date;
}

export interface TierStructureInput {
  metric: TierMetric;
  window: TierWindowKind;
  windowMonths?: number | null;
  downgradePolicy: DowngradePolicy;
  graceDays?: number | null;
  levels: Array<{
    code: string;
    name: string;
    threshold: number;
    earnMultiplier?: number | null;
    maxRedeemPercent?: number | null;
    discountPercent?: number | null;
    perks?: string[] | null;
  }>;
}

export type GrantKind = 'manual' | 'paid';

/** Why a member's tier in force changed. */
export type TierChangeReason =
  | 'qualified'
  | 'returned'
  | 'grace_ended'
  | 'assigned'
  | 'assignment_ended'
  | 'purchased'
  | 'membership_lapsed'
  | 'structure_changed';

/** A member's member_tier row. */
export interface MemberTierState {
  memberId: string;
  earnedCode: string | null;
  earnedSince: Date | null;
  grantCode: string | null;
  grantKind: GrantKind | null;
  grantUntil: Date | null;
  tierCode: string | null;
  tierSince: Date | null;
}

export interface TierChange {
  programId: string;
  memberId: string;
  fromCode: string | null;
  toCode: string | null;
  reason: TierChangeReason;
  detail: string | null;
  structureVersion: number;
  changedAt: Date;
}

export interface TierHistoryRecord extends TierChange {
  id: number;
}

export interface DowngradeRisk {
  /** The tier the member falls to; null = no tier. */
  toCode: string | null;
  /** When, unless they qualify again by then. */
  at: Date;
}

/** "Why am I Silver, and until when" (A3). */
export interface TierStatusRecord {
  memberId: string;
  structureVersion: number;
  metric: TierMetric;
  tier: TierLevel | null;
  /** Where the tier in force comes from. */
  source: 'earned' | GrantKind | null;
  since: Date | null;
  /** null: as long as the member keeps it (lifetime window, no downgrades). */
  validUntil: Date | null;
  /** The tier held by qualification (differs from `tier` under a VIP grant). */
  earnedTier: TierLevel | null;
  /** Money (minor units) or points counted in the window now. */
  qualifyingAmount: number;
  windowStart: Date | null;
  nextTier: TierLevel | null;
  /** What the member still needs for nextTier (0 when none). */
  amountToNext: number;
  /** qualifyingAmount ÷ nextTier's threshold, 0..1; 1 at the top. */
  progress: number;
  downgradeRisk: DowngradeRisk | null;
}

export interface TierPreviewRow {
  code: string;
  name: string | null;
  /** Members in this tier now. */
  before: number;
  /** Members in it once the structure is saved. */
  after: number;
  /** Members who would land here from a lower tier, or from a higher one. */
  movingUp: number;
  movingDown: number;
}

export interface TierStructurePreview {
  members: number;
  movingUp: number;
  movingDown: number;
  unchanged: number;
  tiers: TierPreviewRow[];
}
