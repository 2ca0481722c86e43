/**
 * The one place conditions and actions are registered. To add one, write it next to its
 * siblings in `conditions/` or `actions/` and add it to the list below.
 */
import { fixedPoints, percentOfAmount, perProductPoints } from './actions/points';
import { issueCoupon } from './actions/coupon';
import { multiplier } from './actions/multiplier';
import { rewardReferrer } from './actions/referrer';
import type { ArgDescription } from './args';
import { eventField } from './conditions/event';
import { cumulativeSpendCrosses, daysSinceRegistration, memberAttribute, memberTags, memberTier } from './conditions/member';
import { channel, orderHasLine, orderTotal, paymentMethod } from './conditions/order';
import { dayOfWeek, hourOfDay, occurredWithin } from './conditions/time';
import type { ActionStage, EarnAction } from './earn-action';
import type { EarnCondition } from './earn-condition';

const CONDITIONS: readonly EarnCondition[] = [
  eventField,
  orderTotal,
  orderHasLine,
  paymentMethod,
  channel,
  memberTags,
  memberAttribute,
  daysSinceRegistration,
  memberTier,
  cumulativeSpendCrosses,
  dayOfWeek,
  hourOfDay,
  occurredWithin,
];

const ACTIONS: readonly EarnAction[] = [
  fixedPoints,
  percentOfAmount,
  perProductPoints,
  multiplier,
  rewardReferrer,
  issueCoupon,
];

const conditionsByCode = indexByCode(CONDITIONS);
const actionsByCode = indexByCode(ACTIONS);

export function findCondition(code: string): EarnCondition | undefined {
  return conditionsByCode.get(code);
}

export function findAction(code: string): EarnAction | undefined {
  return actionsByCode.get(code);
}

export interface CatalogueEntry {
  code: string;
  description: string;
  /** Only rules with trigger order_paid may use it (an action may read the order only with some arguments). */
  readsOrder: boolean;
  args: ArgDescription[];
}

/** For admin tools: every condition with its typed arguments. */
export function listConditions(): CatalogueEntry[] {
  return CONDITIONS.map((condition) => condition.describe());
}

/** For admin tools: every action with its typed arguments and stage. */
export function listActions(): (CatalogueEntry & { stage: ActionStage })[] {
  return ACTIONS.map((action) => action.describe());
}

function indexByCode<T extends { code: string }>(entries: readonly T[]): Map<string, T> {
  const map = new Map<string, T>();
  for (const entry of entries) {
    if (map.has(entry.code)) throw new Error(`duplicate rule catalogue code '${entry.code}'`);
    map.set(entry.code, entry);
  }
  return map;
}
