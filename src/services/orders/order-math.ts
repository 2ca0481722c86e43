/**
 * Refund arithmetic (S5): how much of an order's points come back, how much of what it earned
 * is taken back, and how much of its money leaves the member's cumulative spend, when some of
 * its units are returned.
 *
 * Every amount is computed cumulatively, from the units returned so far, and each refund
 * moves the difference from the previous total. Each share is rounded down, so a partial
 * refund never returns or takes more than its exact share; once every unit is returned the
 * totals are exact (all redeemed points back, every award taken back), so refunding all lines
 * — in one refund or many — ends where cancelling the paid order ends.
 *
 * Pure: integers in, integers out; BigInt keeps products exact beyond 2^53.
 */

/** A line as a refund sees it. Money in minor units. */
export interface RefundableLine {
  quantity: number;
  /** Units returned so far, including the refund being computed. */
  refundedQuantity: number;
  netMinor: number;
  /** The line's share of the points discount on the receipt. */
  pointsDiscountMinor: number;
  /** Money paid for the line that earning rules saw. */
  earnBaseMinor: number;
}

export interface RefundTotals {
  /** Every unit of every line has been returned. */
  complete: boolean;
  /** Redeemed points to have given back so far. */
  pointsReturned: number;
  /** Returned part of the awards' weight, out of `weightTotal` (see {@link awardWeights}). */
  weightReturned: number;
  weightTotal: number;
}

/** floor(amount × part / whole): the returned share of a line's amount after `part` of `whole` units. */
export function shareOf(amount: number, part: number, whole: number): number {
  if (whole <= 0 || part <= 0) return 0;
  if (part >= whole) return amount;
  return Number((BigInt(amount) * BigInt(part)) / BigInt(whole));
}

/**
 * What each line weighs when awards are taken back: the money the rules earned on (so a line
 * paid with points, which earned nothing, takes nothing back). When no line brought money —
 * an order paid wholly with points that still earned, say, a fixed bonus — the lines' net
 * amounts are used instead, and the units when those are zero too.
 *
 * Every award of the order is taken back by these same money weights, whatever its rule
 * counted: an award is stored as one number per rule and beneficiary, not per line, so a
 * per-product award (say 100 points for each BOOTS) or a fixed bonus loses, when some lines
 * come back, the returned lines' share of the money — not the points those lines brought.
 * Returning BOOTS from an order of BOOTS and SOCKS therefore takes back less of a
 * BOOTS-only award than BOOTS earned, and returning SOCKS takes back some of it. The rounding
 * still never takes more than the returned share, and once every unit is back every award is
 * taken back whole, as a cancel does.
 */
export function awardWeights(lines: readonly RefundableLine[]): number[] {
  const sum = (values: number[]) => values.reduce((s, v) => s + v, 0);
  const base = lines.map((l) => l.earnBaseMinor);
  if (sum(base) > 0) return base;
  const net = lines.map((l) => l.netMinor);
  if (sum(net) > 0) return net;
  return lines.map((l) => l.quantity);
}

/**
 * Totals after the returns in `lines` (their refundedQuantity already includes this refund).
 * Points come back per line — floor(line's points discount × returned / quantity), summed,
 * then floor(÷ point value) — and all of them once the order is wholly returned (the delivery's
 * share of the discount, if any, comes back only then).
 */
export function refundTotals(lines: readonly RefundableLine[], pointsRedeemed: number, pointValueMinor: number): RefundTotals {
  const complete = lines.every((l) => l.refundedQuantity >= l.quantity);
  const discountReturned = lines.reduce((s, l) => s + shareOf(l.pointsDiscountMinor, l.refundedQuantity, l.quantity), 0);
  const weights = awardWeights(lines);
  return {
    complete,
    pointsReturned: complete ? pointsRedeemed : Math.min(pointsRedeemed, Math.floor(discountReturned / pointValueMinor)),
    weightReturned: lines.reduce((s, l, i) => s + shareOf(weights[i], l.refundedQuantity, l.quantity), 0),
    weightTotal: weights.reduce((s, w) => s + w, 0),
  };
}

/**
 * Money of the order to have taken out of the member's cumulative spend after the returns in
 * `lines`, of the `spendAddedMinor` paying it added: each line's net amount per returned unit,
 * rounded down, the rest (the delivery, the rounding) once every unit is back. An order that
 * added nothing takes nothing out.
 */
export function spendReturned(lines: readonly RefundableLine[], spendAddedMinor: number): number {
  if (lines.every((l) => l.refundedQuantity >= l.quantity)) return spendAddedMinor;
  const netReturned = lines.reduce((s, l) => s + shareOf(l.netMinor, l.refundedQuantity, l.quantity), 0);
  return Math.min(spendAddedMinor, netReturned);
}

/** Points of one award to have taken back so far: its share by weight, rounded down; all of it once complete. */
export function awardTakenBack(points: number, totals: RefundTotals): number {
  if (totals.complete) return points;
  return shareOf(points, totals.weightReturned, totals.weightTotal);
}
