import { EarnAction, MAX_AWARD_POINTS } from '../earn-action';
import { percentToPoints } from './points';

export const rewardReferrer = new EarnAction({
  code: 'rewardReferrer',
  description: "Awards the member's referrer N levels up: fixed points, or a percent of the money paid for the order",
  args: {
    level: { type: 'int', min: 1, max: 10, default: 1, description: '1 = the direct referrer, 2 = their referrer …' },
    points: { type: 'int', min: 1, max: MAX_AWARD_POINTS, description: 'Fixed points' },
    percent: { type: 'decimal', min: 0, max: 100, description: 'Percent of the money paid for all order lines (trigger order_paid only)' },
  },
  validate: ({ points, percent }) =>
    (points === undefined) === (percent === undefined) ? [{ message: 'needs exactly one of points, percent' }] : [],
  readsOrder: ({ percent }) => (percent === undefined ? null : 'with percent'),
  execute: ({ context }, { level, points, percent }) => {
    const beneficiary = { referrerLevel: level };
    if (points !== undefined) return { points, beneficiary };
    const paid = (context.order?.lines ?? []).reduce((sum, line) => sum + line.eligibleMoneyMinor, 0);
    return { points: percent ? percentToPoints(paid, percent, context) : 0, beneficiary };
  },
});
