import { EarnAction } from '../earn-action';

export const issueCoupon = new EarnAction({
  code: 'issueCoupon',
  description: 'Asks the service to issue the member a coupon from a template; awards no points',
  args: { couponTemplate: { type: 'string', required: true, description: 'Code of the coupon template' } },
  execute: (_input, { couponTemplate }) => ({
    sideEffects: [{ kind: 'issueCoupon', couponTemplate, beneficiary: 'member' }],
  }),
});
