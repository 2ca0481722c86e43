/** Data shapes of the rule engine: what a rule is, what it is evaluated against, what it yields. */

/** Event types the product knows; any other string is a custom trigger. */
export type KnownTrigger =
  | 'registration'
  | 'order_paid'
  | 'birthday'
  | 'newsletter_subscription'
  | 'product_review'
  | 'survey_answer'
  | 'external_visit';

export type RuleStatus = 'draft' | 'active' | 'paused' | 'archived';
export const RULE_STATUSES: readonly RuleStatus[] = ['draft', 'active', 'paused', 'archived'];

/** Limits in points; the service enforces them with database counts, the engine only carries them. */
export interface RuleCaps {
  perMemberPerDay?: number;
  perMemberPerWeek?: number;
  perMemberPerMonth?: number;
  perMemberLifetime?: number;
  totalBudget?: number;
}
export const CAP_KEYS: readonly (keyof RuleCaps)[] = [
  'perMemberPerDay',
  'perMemberPerWeek',
  'perMemberPerMonth',
  'perMemberLifetime',
  'totalBudget',
];

/** A leaf names a catalogue condition by code; `args` are checked against its definitions. */
export interface ConditionLeaf {
  condition: string;
  args?: Record<string, unknown>;
}
export type ConditionNode =
  { all: ConditionNode[] } | { any: ConditionNode[] } | { not: ConditionNode } | ConditionLeaf;

export interface ActionSpec {
  code: string;
  args?: Record<string, unknown>;
}

export interface RuleDefinition {
  trigger: KnownTrigger | (string & {});
  /** Absent or null: the rule matches every event of its trigger. */
  condition?: ConditionNode | null;
  actions: ActionSpec[];
  /** Days the awarded points live; null = the program's default. */
  lifetimeDays?: number | null;
  /** Days the points stay pending (e.g. the return window); null = the program's default. */
  delayDays?: number | null;
  caps?: RuleCaps | null;
  /** Higher runs first; default 0. */
  priority?: number;
  /** When this rule matches, rules of strictly lower priority are not applied. */
  exclusive?: boolean;
  /**
   * Achievements: the rule rewards each member at most once, ever (the service enforces it with a
   * unique index, so concurrent orders cannot both win).
   */
  oncePerMember?: boolean;
  activeFrom?: Date | null;
  /** Exclusive upper bound. */
  activeTo?: Date | null;
  status: RuleStatus;
}

/** One saved version of a rule, as the service hands it to the engine. */
export interface Rule {
  id: string;
  versionId: string;
  version: number;
  name: string;
  definition: RuleDefinition;
}

export interface OrderLine {
  sku: string;
  category?: string | null;
  unitPriceMinor: number;
  quantity: number;
  onSale: boolean;
  /** What was paid with money for this line, after discounts and points (minor units). */
  eligibleMoneyMinor: number;
}

export interface RuleContext {
  /** The evaluation instant: decides the rules' active windows. */
  now: Date;
  /** IANA time zone of the program, e.g. 'Europe/Moscow'. */
  timeZone: string;
  /** Money value of one point in minor units (100 = one point is worth one ruble). */
  pointValueMinor: number;
  event: {
    type: string;
    /** When the event happened: time conditions look at this, not at `now`. */
    occurredAt: Date;
    payload: Record<string, unknown>;
  };
  member: {
    id: string;
    tags: string[];
    registeredAt: Date;
    /** 'YYYY-MM-DD' or 'MM-DD'. */
    birthday?: string | null;
    tierCode?: string | null;
    attributes?: Record<string, unknown>;
    /** Paid orders only: the member's cumulative paid amount before and after this order (minor units). */
    cumulativeSpend?: { beforeMinor: number; afterMinor: number } | null;
  };
  order?: {
    totalMinor: number;
    paymentMethod?: string | null;
    channel?: string | null;
    lines: OrderLine[];
  };
}

/** Who receives points: the member, or their referrer N levels up (the caller resolves the tree). */
export type Beneficiary = 'member' | { referrerLevel: number };

export interface Award {
  points: number;
  beneficiary: Beneficiary;
  lifetimeDays: number | null;
  delayDays: number | null;
  actionCode: string;
  /** The producing rule's caps, for the service to apply. */
  caps: RuleCaps;
}

/** A request for work other than points, carried out by the service; add kinds here. */
export type SideEffectRequest = { kind: 'issueCoupon'; couponTemplate: string; beneficiary: Beneficiary };

/** A side-effect request as the engine returns it: tagged with the action that asked for it. */
export type SideEffect = SideEffectRequest & { actionCode: string };

/** Why a rule did not match: `code` groups the cause, `path` names the node, `message` says why. */
export interface MismatchReason {
  code: 'invalid' | 'trigger' | 'inactive' | 'window' | 'excluded' | 'condition';
  path: string;
  message: string;
}

export interface RuleResult {
  ruleId: string;
  versionId: string;
  matched: boolean;
  reason?: MismatchReason;
  awards: Award[];
  sideEffects: SideEffect[];
}

export interface EvaluationTotals {
  memberPoints: number;
  /** Sorted by level. */
  referrerPoints: { referrerLevel: number; points: number }[];
}

export interface EvaluationResult {
  /** One per rule, in evaluation order (priority desc, then id). */
  results: RuleResult[];
  totals: EvaluationTotals;
}

export interface ValidationError {
  /** Names the offending node, e.g. `condition.all[1].args.min` or `actions[0].code`. */
  path: string;
  message: string;
}

export type ValidationResult = { ok: true } | { ok: false; errors: ValidationError[] };
