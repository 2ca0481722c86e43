import { Decimal, mulDivFloor } from '../decimal';
import { EarnAction, MAX_AWARD_POINTS } from '../earn-action';
import { lineMatches } from '../conditions/order';
import type { RuleContext } from '../types';

export const fixedPoints = new EarnAction({
  code: 'fixedPoints',
  description: 'Awards a fixed number of points',
  args: { points: { type: 'int', required: true, min: 1, max: MAX_AWARD_POINTS, description: 'Points to award' } },
  execute: (_input, { points }) => ({ points }),
});

export const percentOfAmount = new EarnAction({
  code: 'percentOfAmount',
  description: 'Awards a percent of the money paid for the order lines, converted to points and rounded down',
  args: {
    percent: { type: 'decimal', required: true, min: 0, max: 100, description: 'Percent, e.g. 5 or 2.5' },
    skus: { type: 'string[]', description: 'Only lines with these SKUs (or the categories below)' },
    categories: { type: 'string[]', description: 'Only lines in these categories (or the SKUs above)' },
    excludeOnSale: { type: 'boolean', default: true, description: 'Skip lines that are on sale' },
  },
  readsOrder: true,
  execute: ({ context }, { percent, skus, categories, excludeOnSale }) => {
    const filtered = Boolean(skus?.length || categories?.length);
    const lines = (context.order?.lines ?? []).filter(
      (line) => !(excludeOnSale && line.onSale) && (!filtered || lineMatches(line, skus, categories)),
    );
    const amount = lines.reduce((sum, line) => sum + line.eligibleMoneyMinor, 0);
    return { points: percentToPoints(amount, percent, context) };
  },
});

/** floor(amountMinor × percent / 100 / pointValueMinor), exactly: one rounding, over the sum of the lines. */
export function percentToPoints(amountMinor: number, percent: Decimal, context: RuleContext): number {
  return mulDivFloor(amountMinor, percent, 100 * context.pointValueMinor);
}

export const perProductPoints = new EarnAction({
  code: 'perProductPoints',
  description: 'Awards listed points for each unit of the listed SKUs',
  args: {
    table: {
      type: 'table',
      required: true,
      description: 'Points per unit, by SKU',
      columns: {
        sku: { type: 'string', required: true, description: 'SKU' },
        points: { type: 'int', required: true, min: 1, max: MAX_AWARD_POINTS, description: 'Points per unit' },
      },
    },
  },
  readsOrder: true,
  validate: ({ table }) => {
    const seen = new Set<string>();
    return table.flatMap(({ sku }, index) => {
      if (seen.has(sku)) return [{ arg: `table[${index}].sku`, message: `duplicate SKU '${sku}'` }];
      seen.add(sku);
      return [];
    });
  },
  execute: ({ context }, { table }) => {
    const pointsBySku = new Map(table.map((row) => [row.sku, row.points]));
    const points = (context.order?.lines ?? []).reduce(
      // Floor per line: a fractional quantity (weighed goods) earns whole points only.
      (sum, line) => sum + Math.floor((pointsBySku.get(line.sku) ?? 0) * line.quantity),
      0,
    );
    return { points };
  },
});
