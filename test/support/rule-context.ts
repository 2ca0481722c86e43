import type { OrderLine, RuleContext } from '../../src/rules/types';

/** Changes to the default rule context; nested event and member fields merge. */
export type ContextChanges = {
  event?: Partial<RuleContext['event']>;
  member?: Partial<RuleContext['member']>;
  order?: RuleContext['order'];
} & Partial<Pick<RuleContext, 'now' | 'timeZone' | 'pointValueMinor'>>;

/** An order line whose whole price was paid with money. */
export const line = (sku: string, eligibleMoneyMinor: number, extra: Partial<OrderLine> = {}): OrderLine => ({
  sku,
  unitPriceMinor: eligibleMoneyMinor,
  quantity: 1,
  onSale: false,
  eligibleMoneyMinor,
  ...extra,
});

/** A paid order on 5 June 2024 at noon UTC, in Moscow, 1 point = 1 ruble, unless changed. */
export function makeContext({ event, member, order, ...rest }: ContextChanges = {}): RuleContext {
  return {
    now: new Date('2024-06-05T12:00:00Z'),
    timeZone: 'Europe/Moscow',
    pointValueMinor: 100,
    event: { type: 'order_paid', occurredAt: new Date('2024-06-05T12:00:00Z'), payload: {}, ...event },
    member: { id: 'm1', tags: [], registeredAt: new Date('2024-01-01T09:00:00Z'), ...member },
    order,
    ...rest,
  };
}
