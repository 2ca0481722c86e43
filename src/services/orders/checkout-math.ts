/**
 * Checkout arithmetic for paying with points (S1–S4): which lines points may pay for, how many
 * points an order accepts, how redeemed points become per-line discounts for fiscal receipts,
 * and what money is left to earn points on (E3).
 *
 * Pure: no I/O, no clock, no randomness. Money is integer minor units (kopecks), points are
 * integers. Invalid input throws a `RangeError`; the service layer maps it to a GraphQL error.
 */

/** One line of an order as the storefront reports it. */
export interface CheckoutLine {
  sku: string;
  category?: string;
  /** Price of one unit in minor units. */
  unitPriceMinor: number;
  quantity: number;
  /** The item is already discounted by the shop (a sale price). */
  onSale?: boolean;
  /** Other discounts on this line (coupons, tier discount…), the total for the line, minor units. */
  discountMinor?: number;
  /** The item is a gift card: paying it with points would turn points into money. */
  giftCard?: boolean;
}

export interface CheckoutOrder {
  lines: readonly CheckoutLine[];
  /** Delivery price in minor units; absent or 0 when there is none. */
  deliveryMinor?: number;
}

/** The program's redemption settings; omitted fields take the defaults of {@link resolveRedemptionPolicy}. */
export interface RedemptionPolicy {
  /** Share of the eligible amount payable with points, an integer percent 0..100. */
  maxRedeemPercent: number;
  /** Money value of one point in minor units (100: one point is one ruble). */
  pointValueMinor?: number;
  /** Sale items cannot be paid with points (S4). Default true. */
  excludeOnSale?: boolean;
  /** Gift cards cannot be paid with points. Default true. */
  excludeGiftCards?: boolean;
  /** Delivery can be paid with points. Default false. */
  deliveryEligible?: boolean;
  /** Earn on the full net amount, including the part paid with points. Default false. */
  earnOnPointsPaidPart?: boolean;
}

/** A {@link RedemptionPolicy} with every default filled in and every value checked. */
export type ResolvedRedemptionPolicy = Required<RedemptionPolicy>;

/** Why points cannot pay for a line. */
export type IneligibleReason = 'gift_card' | 'on_sale';

/** A line's amounts and whether points may pay for it. */
export interface EligibleLine {
  index: number;
  sku: string;
  category?: string;
  /** unitPriceMinor × quantity. */
  grossMinor: number;
  /** gross − the line's other discounts, never below 0. */
  netMinor: number;
  redeemable: boolean;
  /** Set only when `redeemable` is false. */
  reason?: IneligibleReason;
}

/** What limits the points an order accepts. */
export type RedemptionLimit = 'balance' | 'share' | 'amount';

export interface MaxRedeemable {
  /** The most points this member can spend on this order. */
  maxPoints: number;
  /** Net amount points may pay for: redeemable lines, plus delivery when eligible. */
  eligibleMinor: number;
  /** floor(eligibleMinor × maxRedeemPercent / 100). */
  capMinor: number;
  /**
   * The binding limit. On a tie the balance wins ("you have N points" is what a member can act
   * on), then the amount (at 100 % the order itself is the limit), then the share.
   */
  limitedBy: RedemptionLimit;
}

/** How much of one receipt item points pay for. */
export interface RedemptionShare {
  discountMinor: number;
  /** What is left to pay with money: net − discountMinor. */
  payableMinor: number;
}

export interface LineRedemption extends RedemptionShare {
  index: number;
  sku: string;
}

/** A discount as receipt discounts per line (and delivery) that add up exactly to its total. */
export interface DiscountSplit {
  totalDiscountMinor: number;
  /** One entry per order line, in order; ineligible lines carry a discount of 0. */
  lines: LineRedemption[];
  /** Present only when delivery is eligible and the order has a delivery price. */
  delivery?: RedemptionShare;
  /** Money left to pay for the whole order: every line's payable plus delivery's. */
  totalPayableMinor: number;
}

/** Redeemed points as receipt discounts that add up exactly to points × pointValueMinor. */
export interface RedemptionSplit extends DiscountSplit {
  points: number;
}

/** The member's tier discount as receipt discounts (T4): no points are redeemed with it, and none earned. */
export interface TierDiscountSplit extends DiscountSplit {
  /** The tier's discount percent (up to two decimals). */
  percent: number;
  /** Net amount the discount applies to: the lines points may pay for, plus delivery when eligible. */
  eligibleMinor: number;
}

/** Money a line contributes to percent-of-amount earning rules. */
export interface EarningLine {
  index: number;
  sku: string;
  category?: string;
  onSale: boolean;
  giftCard: boolean;
  eligibleMoneyMinor: number;
}

export interface EarningBase {
  lines: EarningLine[];
  /** Sum of the lines' eligibleMoneyMinor; delivery never earns. */
  totalMinor: number;
}

export interface CheckoutQuote {
  max: MaxRedeemable;
  /** Points the split was made for: the requested number, or max.maxPoints. */
  points: number;
  split: RedemptionSplit;
  earningBase: EarningBase;
}

const DEFAULT_POINT_VALUE_MINOR = 100;

/**
 * Fill in the defaults of a redemption policy and check its values.
 * @throws RangeError when maxRedeemPercent is not an integer 0..100 or pointValueMinor is not a
 * positive integer.
 */
export function resolveRedemptionPolicy(policy: RedemptionPolicy): ResolvedRedemptionPolicy {
  const resolved: ResolvedRedemptionPolicy = {
    maxRedeemPercent: policy.maxRedeemPercent,
    pointValueMinor: policy.pointValueMinor ?? DEFAULT_POINT_VALUE_MINOR,
    excludeOnSale: policy.excludeOnSale ?? true,
    excludeGiftCards: policy.excludeGiftCards ?? true,
    deliveryEligible: policy.deliveryEligible ?? false,
    earnOnPointsPaidPart: policy.earnOnPointsPaidPart ?? false,
  };
  const percent = resolved.maxRedeemPercent;
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
    throw new RangeError(`maxRedeemPercent must be an integer 0..100, got ${percent}`);
  }
  if (!Number.isSafeInteger(resolved.pointValueMinor) || resolved.pointValueMinor <= 0) {
    throw new RangeError(`pointValueMinor must be a positive integer, got ${resolved.pointValueMinor}`);
  }
  return resolved;
}

/**
 * Each line's gross and net amounts and whether points may pay for it.
 * @throws RangeError on a price, quantity or discount that is not a non-negative integer.
 */
export function eligibleLines(order: CheckoutOrder, policy: RedemptionPolicy): EligibleLine[] {
  const resolved = resolveRedemptionPolicy(policy);
  return order.lines.map((line, index) => {
    const label = `line ${index} (${line.sku})`;
    requireAmount(line.unitPriceMinor, `${label} unitPriceMinor`);
    requireAmount(line.quantity, `${label} quantity`);
    const otherDiscountMinor = line.discountMinor ?? 0;
    requireAmount(otherDiscountMinor, `${label} discountMinor`);
    const grossMinor = line.unitPriceMinor * line.quantity;
    requireAmount(grossMinor, `${label} gross amount`);

    const reason = ineligibleReason(line, resolved);
    const result: EligibleLine = {
      index,
      sku: line.sku,
      grossMinor,
      netMinor: Math.max(0, grossMinor - otherDiscountMinor),
      redeemable: reason === undefined,
    };
    if (line.category !== undefined) result.category = line.category;
    if (reason !== undefined) result.reason = reason;
    return result;
  });
}

/**
 * The most points a member can spend on an order: the least of the balance, the policy's
 * share of the eligible amount, and the eligible amount itself, all in whole points.
 *
 * Example: eligible 10 000 rubles, 20 %, 1 point = 1 ruble, balance 5 000 → 2 000 points,
 * limited by the share.
 *
 * A negative balance (possible after earned points are taken back, S5) counts as 0.
 * @throws RangeError on invalid order or policy values, or a balance that is not an integer.
 */
export function maxRedeemablePoints(
  order: CheckoutOrder,
  policy: RedemptionPolicy,
  availablePoints: number,
): MaxRedeemable {
  const resolved = resolveRedemptionPolicy(policy);
  if (!Number.isSafeInteger(availablePoints)) {
    throw new RangeError(`availablePoints must be an integer, got ${availablePoints}`);
  }
  const eligibleMinor = eligibleAmounts(order, resolved).reduce((sum, amount) => sum + amount, 0);
  const capMinor = Number((BigInt(eligibleMinor) * BigInt(resolved.maxRedeemPercent)) / 100n);

  const balancePoints = Math.max(0, availablePoints);
  const sharePoints = Math.floor(capMinor / resolved.pointValueMinor);
  const amountPoints = Math.floor(eligibleMinor / resolved.pointValueMinor);
  const maxPoints = Math.min(balancePoints, sharePoints, amountPoints);

  let limitedBy: RedemptionLimit;
  if (balancePoints === maxPoints) limitedBy = 'balance';
  else if (amountPoints === maxPoints) limitedBy = 'amount';
  else limitedBy = 'share';

  return { maxPoints, eligibleMinor, capMinor, limitedBy };
}

/**
 * Turn redeemed points into per-line discounts for fiscal receipts (S3).
 *
 * The discounts add up exactly to points × pointValueMinor. They are proportional to each
 * eligible line's net amount (and delivery's, when eligible), rounded by the largest-remainder
 * method with ties going to the earlier line; no line gets more than its own net amount and
 * ineligible lines get 0.
 *
 * This checks only what the order can absorb; the balance and the share cap are checked by
 * {@link maxRedeemablePoints} (and {@link quoteCheckout}).
 * @throws RangeError when points is not a non-negative integer or exceeds what the eligible
 * amount can absorb.
 */
export function splitRedemption(
  order: CheckoutOrder,
  policy: RedemptionPolicy,
  points: number,
): RedemptionSplit {
  const resolved = resolveRedemptionPolicy(policy);
  requireAmount(points, 'points');
  const totalDiscountMinor = points * resolved.pointValueMinor;
  requireAmount(totalDiscountMinor, 'points × pointValueMinor');
  const absorbableMinor = eligibleAmounts(order, resolved).reduce((sum, amount) => sum + amount, 0);
  if (totalDiscountMinor > absorbableMinor) {
    throw new RangeError(
      `${points} points (${totalDiscountMinor} minor units) exceed the eligible amount of ${absorbableMinor}`,
    );
  }
  return { points, ...splitDiscount(order, resolved, totalDiscountMinor) };
}

/**
 * The member's tier discount (T4) on an order, as receipt discounts: `percent` of the amount
 * points may pay for (the same exclusions: sale items, gift cards, delivery unless eligible),
 * rounded down to a minor unit, and split over those lines exactly as redeemed points are —
 * largest remainder, ties to the earlier line, no line more than its net, ineligible lines 0.
 *
 * Example: lines of 10 000 and 999 minor units at 7 % → 769 (floor of 769.93), split 699 and 70.
 * @throws RangeError when percent is not a number 0..100 with at most two decimals.
 */
export function splitTierDiscount(order: CheckoutOrder, policy: RedemptionPolicy, percent: number): TierDiscountSplit {
  const resolved = resolveRedemptionPolicy(policy);
  const hundredths = Math.round(percent * 100);
  if (!Number.isFinite(percent) || hundredths < 0 || hundredths > 10_000 || Math.abs(percent * 100 - hundredths) > 1e-6) {
    throw new RangeError(`percent must be a number 0..100 with at most two decimals, got ${percent}`);
  }
  const eligibleMinor = eligibleAmounts(order, resolved).reduce((sum, amount) => sum + amount, 0);
  const totalDiscountMinor = Number((BigInt(eligibleMinor) * BigInt(hundredths)) / 10_000n);
  return { percent, eligibleMinor, ...splitDiscount(order, resolved, totalDiscountMinor) };
}

/**
 * A discount of `totalDiscountMinor` spread over the eligible lines (and delivery, when
 * eligible) in proportion to their net amounts, by largest remainder; the caller has checked
 * that the eligible amount absorbs it.
 */
function splitDiscount(order: CheckoutOrder, resolved: ResolvedRedemptionPolicy, totalDiscountMinor: number): DiscountSplit {
  const lines = eligibleLines(order, resolved);
  const weights = eligibleAmounts(order, resolved, lines);
  const discounts = allocateLargestRemainder(totalDiscountMinor, weights);
  const lineShares: LineRedemption[] = lines.map((line, i) => ({
    index: line.index,
    sku: line.sku,
    discountMinor: discounts[i],
    payableMinor: line.netMinor - discounts[i],
  }));
  const deliveryMinor = order.deliveryMinor ?? 0;
  // Delivery's weight is last and present only when eligible; otherwise it keeps its whole price.
  const deliveryDiscount = resolved.deliveryEligible ? discounts[lines.length] : 0;
  const linesPayableMinor = lineShares.reduce((sum, line) => sum + line.payableMinor, 0);

  const split: DiscountSplit = {
    totalDiscountMinor,
    lines: lineShares,
    totalPayableMinor: linesPayableMinor + deliveryMinor - deliveryDiscount,
  };
  if (resolved.deliveryEligible && deliveryMinor > 0) {
    split.delivery = { discountMinor: deliveryDiscount, payableMinor: deliveryMinor - deliveryDiscount };
  }
  return split;
}

/**
 * The money each line actually brings, to feed percent-of-amount earning rules (E3): net minus
 * its points discount, or the whole net when the policy earns on the points-paid part too.
 * Lines are all reported, with their sale and gift-card flags, so rules can filter them;
 * delivery is not part of the base.
 * @throws RangeError when the split was not made for this order.
 */
export function earningBase(
  order: CheckoutOrder,
  policy: RedemptionPolicy,
  split: RedemptionSplit,
): EarningBase {
  const resolved = resolveRedemptionPolicy(policy);
  const lines = eligibleLines(order, resolved);
  if (split.lines.length !== lines.length) {
    throw new RangeError(`split has ${split.lines.length} lines, the order has ${lines.length}`);
  }
  const earningLines = lines.map((line, i): EarningLine => {
    const pointsDiscount = split.lines[i].discountMinor;
    if (split.lines[i].sku !== line.sku || pointsDiscount > line.netMinor) {
      throw new RangeError(`split line ${i} does not match order line ${i} (${line.sku})`);
    }
    const result: EarningLine = {
      index: line.index,
      sku: line.sku,
      onSale: order.lines[i].onSale ?? false,
      giftCard: order.lines[i].giftCard ?? false,
      eligibleMoneyMinor: resolved.earnOnPointsPaidPart ? line.netMinor : line.netMinor - pointsDiscount,
    };
    if (line.category !== undefined) result.category = line.category;
    return result;
  });
  return {
    lines: earningLines,
    totalMinor: earningLines.reduce((sum, line) => sum + line.eligibleMoneyMinor, 0),
  };
}

/**
 * A checkout quote: the most points the member can spend, the receipt split for the requested
 * points (or for the most when none are requested), and the base for earning on the order.
 * @throws RangeError when requestedPoints is not a non-negative integer or exceeds the maximum
 * (the caller reports it as INSUFFICIENT_POINTS or BAD_USER_INPUT after reading `max.limitedBy`).
 */
export function quoteCheckout(
  order: CheckoutOrder,
  policy: RedemptionPolicy,
  availablePoints: number,
  requestedPoints?: number,
): CheckoutQuote {
  const resolved = resolveRedemptionPolicy(policy);
  const max = maxRedeemablePoints(order, resolved, availablePoints);
  const points = requestedPoints ?? max.maxPoints;
  requireAmount(points, 'requestedPoints');
  if (points > max.maxPoints) {
    throw new RangeError(`requested ${points} points, at most ${max.maxPoints} allowed (limited by ${max.limitedBy})`);
  }
  const split = splitRedemption(order, resolved, points);
  return { max, points, split, earningBase: earningBase(order, resolved, split) };
}

/** Money value of a number of points, for showing a balance in money too (S2). */
export function pointsToMinor(points: number, policy: Pick<RedemptionPolicy, 'pointValueMinor'>): number {
  return points * (policy.pointValueMinor ?? DEFAULT_POINT_VALUE_MINOR);
}

function ineligibleReason(line: CheckoutLine, policy: ResolvedRedemptionPolicy): IneligibleReason | undefined {
  // A gift card is reported first: it stays ineligible even on a sale.
  if (line.giftCard && policy.excludeGiftCards) return 'gift_card';
  if (line.onSale && policy.excludeOnSale) return 'on_sale';
  return undefined;
}

/**
 * Amounts points may pay for, one per line (0 when ineligible), then delivery's when eligible:
 * the weights of the split, in receipt order.
 */
function eligibleAmounts(
  order: CheckoutOrder,
  policy: ResolvedRedemptionPolicy,
  lines: EligibleLine[] = eligibleLines(order, policy),
): number[] {
  const amounts = lines.map((line) => (line.redeemable ? line.netMinor : 0));
  const deliveryMinor = order.deliveryMinor ?? 0;
  requireAmount(deliveryMinor, 'deliveryMinor');
  if (policy.deliveryEligible) amounts.push(deliveryMinor);
  return amounts;
}

/**
 * Split `total` into integers proportional to `weights` (Hamilton's method): everyone gets the
 * floor of their exact share, and the units left go one each to the largest remainders, the
 * earlier index winning ties. With total ≤ sum(weights) no part exceeds its weight, and a zero
 * weight gets nothing. BigInt keeps total × weight exact beyond 2^53.
 */
function allocateLargestRemainder(total: number, weights: readonly number[]): number[] {
  const weightSum = weights.reduce((sum, weight) => sum + weight, 0);
  if (total === 0 || weightSum === 0) return weights.map(() => 0);

  const bigTotal = BigInt(total);
  const bigWeightSum = BigInt(weightSum);
  const shares = weights.map((weight) => {
    const scaled = bigTotal * BigInt(weight);
    return { part: Number(scaled / bigWeightSum), remainder: scaled % bigWeightSum };
  });

  let unitsLeft = total - shares.reduce((sum, share) => sum + share.part, 0);
  const byRemainder = shares
    .map((share, index) => ({ index, remainder: share.remainder }))
    .filter((entry) => entry.remainder > 0n)
    .sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (const { index } of byRemainder) {
    if (unitsLeft === 0) break;
    shares[index].part += 1;
    unitsLeft -= 1;
  }
  return shares.map((share) => share.part);
}

function requireAmount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
  }
}
