import { EarnCondition } from '../earn-condition';
import type { OrderLine } from '../types';
import { inRange, rangeIssues } from './range';

const NO_ORDER = 'the event has no order';

export const orderTotal = new EarnCondition({
  code: 'orderTotal',
  description: 'The order total lies between min and max (inclusive, minor units)',
  args: {
    min: { type: 'int', min: 0, description: 'Smallest total, e.g. 100000 for 1 000.00' },
    max: { type: 'int', min: 0, description: 'Largest total' },
  },
  validate: ({ min, max }) => rangeIssues(min, max),
  readsOrder: true,
  check: ({ order }, { min, max }) => (order ? inRange(order.totalMinor, min, max) : NO_ORDER),
});

export const orderHasLine = new EarnCondition({
  code: 'orderHasLine',
  description: 'The order has lines with one of the SKUs or in one of the categories, in at least minQuantity units',
  args: {
    skus: { type: 'string[]', description: 'Matching SKUs' },
    categories: { type: 'string[]', description: 'Matching categories' },
    minQuantity: { type: 'int', min: 1, default: 1, description: 'Fewest units across the matching lines' },
  },
  validate: ({ skus, categories }) =>
    skus?.length || categories?.length ? [] : [{ message: 'needs skus, categories or both' }],
  readsOrder: true,
  check: ({ order }, { skus, categories, minQuantity }) => {
    if (!order) return NO_ORDER;
    const quantity = order.lines
      .filter((line) => lineMatches(line, skus, categories))
      .reduce((sum, line) => sum + line.quantity, 0);
    return quantity >= minQuantity || `${quantity} matching unit(s) < minQuantity ${minQuantity}`;
  },
});

/** A line matches when its SKU or its category is listed (either list may be absent). */
export function lineMatches(line: OrderLine, skus?: string[], categories?: string[]): boolean {
  return Boolean(skus?.includes(line.sku) || (line.category && categories?.includes(line.category)));
}

export const paymentMethod = new EarnCondition({
  code: 'paymentMethod',
  description: 'The order was paid with one of the methods',
  args: { methods: { type: 'string[]', required: true, description: "Payment method codes, e.g. 'card_online'" } },
  readsOrder: true,
  check: ({ order }, { methods }) => {
    if (!order) return NO_ORDER;
    const method = order.paymentMethod ?? null;
    return (method !== null && methods.includes(method)) || `'${method}' is not in ${methods.join(', ')}`;
  },
});

export const channel = new EarnCondition({
  code: 'channel',
  description: 'The order came through one of the sales channels',
  args: { channels: { type: 'string[]', required: true, description: "Channel codes, e.g. 'web', 'pos'" } },
  readsOrder: true,
  check: ({ order }, { channels }) => {
    if (!order) return NO_ORDER;
    const name = order.channel ?? null;
    return (name !== null && channels.includes(name)) || `'${name}' is not in ${channels.join(', ')}`;
  },
});
