import type { Sql } from '../../db/database';
import type { Queryable } from '../../db/statement';
import { MemberStatus } from '../../entities/member';
import { ErrorCode, PatronError, apiEnum, badInput, notFound } from '../../errors';
import type { AccountBook } from '../ledger';
import { memberLookup } from '../members';
import type { MemberRef } from '../shared';
import { isUuid } from '../shared';
import {
  CheckoutLine, CheckoutQuote, IneligibleReason, RedemptionLimit, RedemptionPolicy, TierDiscountSplit, maxRedeemablePoints, quoteCheckout,
  splitTierDiscount,
} from './checkout-math';
import { orderTotal, type CheckedOrder } from './order-input';
import * as store from './order-store';

/**
 * Checkout: what a member may spend on an order and how it lands on the receipt. The quote
 * and placeOrder walk the same steps — the spender, the program's terms for them, the quote —
 * the quote without locks, placeOrder under the account's lock.
 */

/** The member's tier as checkout uses it: its share cap (S1) and its discount (T4). */
export interface CheckoutTier {
  code: string;
  /** Overrides the program's maxRedeemPercent for the member; null = the program's. */
  maxRedeemPercent: number | null;
  /** The discount an order may take instead of points (two decimals); 0 = none. */
  discountPercent: number;
}

/** The member's tier in force, or null (implemented by services/tiers' TierService). */
export interface CheckoutTiers {
  memberTier(db: Sql, programId: string, memberId: string, now: Date): Promise<CheckoutTier | null>;
}

export interface QuoteLineRecord {
  index: number;
  sku: string;
  netMinor: number;
  redeemable: boolean;
  ineligibleReason: IneligibleReason | null;
  /** The line's share of the points discount, for the fiscal receipt. */
  discountMinor: number;
  payableMinor: number;
  /** Money the line brings to earning rules. */
  earnBaseMinor: number;
}

export interface CheckoutQuoteRecord {
  memberId: string;
  currency: string;
  pointValueMinor: number;
  maxRedeemPercent: number;
  /** Points the member can spend now (0 when frozen). */
  availablePoints: number;
  maxPoints: number;
  limitedBy: RedemptionLimit;
  eligibleMinor: number;
  capMinor: number;
  /** Points the split below is for: the requested number, or maxPoints. */
  points: number;
  totalDiscountMinor: number;
  orderTotalMinor: number;
  totalPayableMinor: number;
  lines: QuoteLineRecord[];
  delivery: { priceMinor: number; redeemable: boolean; discountMinor: number; payableMinor: number } | null;
  /** What the member would earn when the order is paid with `points` (a dry run of the rules). */
  pointsToEarn: number;
  /** The other option (T4): the member's tier discount instead of points; null when their tier gives none. */
  tierDiscount: TierDiscountOptionRecord | null;
}

/** An order with the member's tier discount: no points redeemed, none earned. */
export interface TierDiscountOptionRecord {
  tierCode: string;
  percent: number;
  /** The amount the percent applies to: the lines points may pay for (and delivery when eligible). */
  eligibleMinor: number;
  totalDiscountMinor: number;
  totalPayableMinor: number;
  /** Each line's share of the discount, for the fiscal receipt; ineligible lines get 0. */
  lines: Array<{ index: number; sku: string; discountMinor: number; payableMinor: number }>;
  delivery: { priceMinor: number; discountMinor: number; payableMinor: number } | null;
  /** Always 0: an order that takes the discount earns nothing from the rules. */
  pointsToEarn: 0;
}

/** The program settings checkout reads, with the member's own share cap when they have one. */
export interface CheckoutProgram {
  currency: string;
  pointValueMinor: number;
  maxRedeemPercent: number;
  redemption: RedemptionPolicy;
}

/** The member's account as checkout sees it. */
export interface Spender {
  memberId: string;
  frozen: boolean;
  /** Points available now; a frozen member keeps them but may not spend them. */
  available: number;
}

/** The spender of a locked account (placeOrder). */
export const spenderOf = (book: AccountBook): Spender => ({
  memberId: book.state.memberId,
  frozen: book.state.memberStatus === MemberStatus.FROZEN,
  available: book.state.available,
});

/**
 * The member's account read without a lock, as the next write would find it: AccountBook.open
 * expires overdue lots, activates due pending ones and pays the debt from what is available,
 * so the points available now are the unexpired lots whose time has come, less the debt (lot
 * remainders equal the balances: the books balance).
 */
export async function readSpender(db: Queryable, programId: string, member: MemberRef, now: Date): Promise<Spender> {
  const [column, value] = await memberLookup(db, programId, member);
  const [row] = column === 'id' && !isUuid(value) ? [] : await db.run(store.readSpender[column], [now, now, value, programId]);
  if (!row) throw notFound('Member', { member });
  return { memberId: row.id, frozen: row.status === MemberStatus.FROZEN, available: Math.max(0, Number(row.lots) - Number(row.debt)) };
}

/** A frozen member keeps their points but cannot spend them. */
export const spendableOf = (spender: Spender): number => (spender.frozen ? 0 : spender.available);

/**
 * The program's checkout terms for this member: its settings, with the member's own share cap
 * (their tier's) instead of the program's when they have one. An order in another currency
 * than the program's is BAD_USER_INPUT.
 */
export async function checkoutProgram(
  db: Sql, programId: string, order: CheckedOrder, tier: CheckoutTier | null, { placing = false } = {},
): Promise<CheckoutProgram> {
  const program = await loadProgram(db, programId, order, placing);
  return withTierCap(program, tier?.maxRedeemPercent);
}

/** `placing`: inside placeOrder's transaction, the program's terms held until it commits (see readProgramForOrder). */
async function loadProgram(db: Queryable, programId: string, order: CheckedOrder, placing: boolean): Promise<CheckoutProgram> {
  const [p] = await db.run(placing ? store.readProgramForOrder : store.readProgram, [programId]);
  if (order.currency && order.currency !== p.currency) {
    throw badInput(`The program's currency is ${p.currency}, the order's is ${order.currency}`, { field: 'currency' });
  }
  return {
    currency: p.currency,
    pointValueMinor: p.point_value_minor,
    maxRedeemPercent: p.max_redeem_percent,
    redemption: {
      maxRedeemPercent: p.max_redeem_percent,
      pointValueMinor: p.point_value_minor,
      excludeOnSale: p.exclude_on_sale,
      excludeGiftCards: p.exclude_gift_cards,
      deliveryEligible: p.delivery_eligible,
      earnOnPointsPaidPart: p.earn_on_points_paid_part,
    },
  };
}

/** The member's own share cap (their tier's, S1), when they have one, instead of the program's. */
function withTierCap(program: CheckoutProgram, percent: number | null | undefined): CheckoutProgram {
  if (percent == null) return program;
  return { ...program, maxRedeemPercent: percent, redemption: { ...program.redemption, maxRedeemPercent: percent } };
}

/** The member's tier discount on the order (T4), or null when their tier gives none. */
export function tierDiscountFor(tier: CheckoutTier | null, program: CheckoutProgram, order: CheckedOrder): TierDiscount | null {
  if (!tier || !(tier.discountPercent > 0)) return null;
  return { tierCode: tier.code, split: checkoutMath(() => splitTierDiscount(order, program.redemption, tier.discountPercent)) };
}

export interface TierDiscount {
  tierCode: string;
  split: TierDiscountSplit;
}

/**
 * The quote for `requested` points (or the most allowed). A frozen member may not spend
 * (ACCOUNT_FROZEN); asking for more than the member has is INSUFFICIENT_POINTS; more than the
 * order accepts (the share cap, or the eligible amount) is BAD_USER_INPUT.
 */
export function quoteFor(spender: Spender, program: CheckoutProgram, order: CheckedOrder, requested?: number): CheckoutQuote {
  if (requested && spender.frozen) {
    throw new PatronError(ErrorCode.ACCOUNT_FROZEN, 'The member is frozen and cannot spend points', { memberId: spender.memberId });
  }
  const spendable = spendableOf(spender);
  const max = checkoutMath(() => maxRedeemablePoints(order, program.redemption, spendable));
  if (requested !== undefined && requested > max.maxPoints) {
    if (requested > spendable) {
      throw new PatronError(ErrorCode.INSUFFICIENT_POINTS, `Not enough points: ${requested} asked, ${spendable} available`, {
        requested,
        available: spendable,
        maxPoints: max.maxPoints,
      });
    }
    const why =
      max.limitedBy === 'share'
        ? `${program.maxRedeemPercent} % of the ${max.eligibleMinor} minor units points may pay for`
        : `the ${max.eligibleMinor} minor units points may pay for (sale items, gift cards and delivery may be excluded)`;
    throw badInput(`At most ${max.maxPoints} points can pay for this order: ${why}`, {
      field: 'points',
      requested,
      maxPoints: max.maxPoints,
      limitedBy: apiEnum(max.limitedBy),
    });
  }
  return checkoutMath(() => quoteCheckout(order, program.redemption, spendable, requested));
}

/** checkout-math reports bad numbers as RangeError; they reach clients as BAD_USER_INPUT. */
function checkoutMath<T>(compute: () => T): T {
  try {
    return compute();
  } catch (error) {
    if (error instanceof RangeError) throw badInput(error.message);
    throw error;
  }
}

export function toQuoteRecord(
  spender: Spender,
  program: CheckoutProgram,
  order: CheckedOrder,
  quote: CheckoutQuote,
  pointsToEarn: number,
  tierDiscount: TierDiscount | null,
): CheckoutQuoteRecord {
  const { max, split, earningBase } = quote;
  const deliveryEligible = program.redemption.deliveryEligible ?? false;
  return {
    memberId: spender.memberId,
    currency: program.currency,
    pointValueMinor: program.pointValueMinor,
    maxRedeemPercent: program.maxRedeemPercent,
    availablePoints: spendableOf(spender),
    maxPoints: max.maxPoints,
    limitedBy: max.limitedBy,
    eligibleMinor: max.eligibleMinor,
    capMinor: max.capMinor,
    points: quote.points,
    totalDiscountMinor: split.totalDiscountMinor,
    orderTotalMinor: orderTotal(order),
    totalPayableMinor: split.totalPayableMinor,
    lines: split.lines.map((l, i) => {
      const reason = ineligibility(order.lines[i], program.redemption);
      return {
        index: l.index,
        sku: l.sku,
        netMinor: l.discountMinor + l.payableMinor,
        redeemable: reason === null,
        ineligibleReason: reason,
        discountMinor: l.discountMinor,
        payableMinor: l.payableMinor,
        earnBaseMinor: earningBase.lines[i].eligibleMoneyMinor,
      };
    }),
    delivery:
      order.deliveryMinor > 0
        ? {
            priceMinor: order.deliveryMinor,
            redeemable: deliveryEligible,
            discountMinor: split.delivery?.discountMinor ?? 0,
            payableMinor: split.delivery?.payableMinor ?? order.deliveryMinor,
          }
        : null,
    pointsToEarn,
    tierDiscount: tierDiscount && toTierDiscountOption(tierDiscount, order),
  };
}

function toTierDiscountOption({ tierCode, split }: TierDiscount, order: CheckedOrder): TierDiscountOptionRecord {
  return {
    tierCode,
    percent: split.percent,
    eligibleMinor: split.eligibleMinor,
    totalDiscountMinor: split.totalDiscountMinor,
    totalPayableMinor: split.totalPayableMinor,
    lines: split.lines.map((l) => ({ index: l.index, sku: l.sku, discountMinor: l.discountMinor, payableMinor: l.payableMinor })),
    delivery:
      order.deliveryMinor > 0
        ? {
            priceMinor: order.deliveryMinor,
            discountMinor: split.delivery?.discountMinor ?? 0,
            payableMinor: split.delivery?.payableMinor ?? order.deliveryMinor,
          }
        : null,
    pointsToEarn: 0,
  };
}

function ineligibility(line: CheckoutLine, policy: RedemptionPolicy): IneligibleReason | null {
  if (line.giftCard && (policy.excludeGiftCards ?? true)) return 'gift_card';
  if (line.onSale && (policy.excludeOnSale ?? true)) return 'on_sale';
  return null;
}
