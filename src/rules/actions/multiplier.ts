import { mulDivFloor } from '../decimal';
import { EarnAction } from '../earn-action';

/**
 * Scales what other rules award the member for the same event ("double points on Black Friday").
 *
 * Exact semantics:
 * - base = points awarded to the member by the `award` actions (fixed, percent, per product …)
 *   of every OTHER rule that matched and was applied (not excluded) for this event; referrer
 *   awards and other multipliers are not part of the base;
 * - the action adds one award of floor(base × factor) − base, i.e. factor 2 doubles the base,
 *   1.5 adds half of it; it carries the multiplier rule's own lifetime, delay and caps;
 * - several multipliers do not compound: each adds its share of the same base
 *   (×2 and ×3 together give 1 + 1 + 2 = 4 × base, not 6 ×).
 */
export const multiplier = new EarnAction({
  code: 'multiplier',
  description:
    'Multiplies the points other matched rules award the member for this event (2 = double); multipliers do not compound',
  stage: 'multiply',
  args: { factor: { type: 'decimal', required: true, min: 1, max: 100, description: 'Factor, e.g. 2 or 1.5' } },
  execute: ({ otherRulesMemberPoints }, { factor }) => ({
    points: mulDivFloor(otherRulesMemberPoints, factor, 1) - otherRulesMemberPoints,
  }),
});
