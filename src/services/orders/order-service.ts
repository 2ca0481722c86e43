import type { Actor, MemberRef } from '../shared';
import type { Database, Sql, UnitOfWork } from '../../db/database';
import { randomUUID } from 'node:crypto';
import { AuthorizationStatus } from '../../entities/authorization';
import { CauseType } from '../../entities/ledger-entry';
import { MemberStatus } from '../../entities/member';
import { OrderStatus } from '../../entities/order';
import { ErrorCode, PatronError, badInput, notFound } from '../../errors';
import { AccountBook, Cause, EntryRecord, shortfallUnder, toEntryRecord } from '../ledger';
import {
  CheckoutLine, CheckoutOrder, CheckoutQuote, IneligibleReason, RedemptionLimit, RedemptionPolicy, maxRedeemablePoints,
  quoteCheckout,
} from './checkout-math';
import type { Clock } from '../shared';
import type { EarnedAward, Earning, EarningRequest } from '../earning';
import { lockReferrerAccounts } from '../earning';
import { checkClientKey, once } from '../shared';
import { AccountSnapshot, MAX_POINTS, closeAuthorization, recordAuthorization, snapshot } from '../ledger';
import { memberRefColumn } from '../members';
import { RefundTotals, awardTakenBack, refundTotals, spendReturned } from './order-math';
import { checkReason, checkText, isUuid, pgArray, raise } from '../shared';
import { OrderEvent, ORDER_TOPIC } from './order-events';

/** A member's own share cap (S1) from elsewhere (their tier), overriding the program's maxRedeemPercent. */
export interface RedeemCapSource {
  redeemPercentFor(db: Sql, programId: string, memberId: string, now: Date): Promise<number | null>;
}

/**
 * How long a placed order holds its points: 7 days, the longest authorization the ledger
 * allows. Checkout is not one web session: a bank transfer, a payment retried the next day or
 * payment on delivery all come before `payOrder`. A shop that abandons an order should cancel
 * it; otherwise the release job gives the points back when this runs out, and paying after
 * that is AUTHORIZATION_EXPIRED. (The program's authorizationTtlSeconds, 15 minutes by
 * default, is for bare authorizeRedemption calls.)
 */
export const ORDER_AUTHORIZATION_TTL_SECONDS = 7 * 86_400;

const MAX_LINES = 500;
const MAX_QUANTITY = 1_000_000;
const MAX_MONEY = 1e13;
const MAX_TEXT = 200;

export interface OrderLineInput {
  sku: string;
  category?: string | null;
  unitPriceMinor: number;
  quantity: number;
  onSale?: boolean | null;
  /** The shop's own discounts on the line (coupons, tier discount), in total, minor units. */
  discountMinor?: number | null;
  giftCard?: boolean | null;
}

/** An order as the storefront describes it; money in minor units of the program's currency. */
export interface OrderInput {
  /** The shop's order id; a quote may leave it out. */
  orderId?: string | null;
  member: MemberRef;
  lines: OrderLineInput[];
  deliveryMinor?: number | null;
  paymentMethod?: string | null;
  channel?: string | null;
  shopCode?: string | null;
  /** When given, must be the program's currency. */
  currency?: string | null;
  /** Referrals (R2): a referral code; placeOrder binds the buyer to its owner (a quote only checks it exists). */
  referralCode?: string | null;
}

export interface PlaceOrderInput extends OrderInput {
  orderId: string;
  /** Points to pay with; at most what the quote allows. Default 0. */
  points?: number | null;
  idempotencyKey: string;
}

export interface OrderActionInput {
  orderId: string;
  reason?: string | null;
  idempotencyKey: string;
}

/** Units to return: the line by its index in the order, or by SKU when only one line has it. */
export interface RefundLineInput {
  lineIndex?: number | null;
  sku?: string | null;
  quantity: number;
}

export interface RefundOrderLinesInput extends OrderActionInput {
  lines: RefundLineInput[];
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
}

export interface OrderLineRecord {
  index: number;
  sku: string;
  category: string | null;
  unitPriceMinor: number;
  quantity: number;
  onSale: boolean;
  giftCard: boolean;
  discountMinor: number;
  netMinor: number;
  pointsDiscountMinor: number;
  payableMinor: number;
  earnBaseMinor: number;
  refundedQuantity: number;
}

export interface OrderAwardRecord {
  memberId: string;
  entryId: number;
  points: number;
  takenBack: number;
}

export interface OrderRefundRecord {
  id: string;
  lines: Array<{ lineIndex: number; sku: string; quantity: number }>;
  pointsReturned: number;
  /** Points taken back from the member (referrers' take-backs are in the order's awards). */
  pointsTakenBack: number;
  reason: string | null;
  createdAt: Date;
}

export interface OrderRecord {
  id: string;
  orderId: string;
  memberId: string;
  status: OrderStatus;
  currency: string;
  totalMinor: number;
  deliveryMinor: number;
  deliveryPointsDiscountMinor: number;
  pointValueMinor: number;
  pointsRedeemed: number;
  pointsDiscountMinor: number;
  payableMinor: number;
  pointsReturned: number;
  /** What the rules gave the member for the order: the sum of the member's own awards. */
  pointsEarned: number;
  pointsTakenBack: number;
  paymentMethod: string | null;
  channel: string | null;
  shopCode: string | null;
  authorizationId: string | null;
  placedAt: Date;
  paidAt: Date | null;
  cancelledAt: Date | null;
  refundedAt: Date | null;
  updatedAt: Date;
  lines: OrderLineRecord[];
  awards: OrderAwardRecord[];
  refunds: OrderRefundRecord[];
}

export interface OrderResult {
  order: OrderRecord;
  /** The member's account right after the write. */
  account: AccountSnapshot;
}

export interface RefundResult extends OrderResult {
  refund: OrderRefundRecord;
}

/** Referrals at checkout (implemented by services/referrals' ReferralAttribution). */
export interface CheckoutReferrals {
  ownerOf(db: Sql, programId: string, code: string, field: string): Promise<string>;
  atCheckout(tx: Sql, programId: string, member: MemberRef, code: string): Promise<unknown>;
}

/** A checked order: the lines checkout-math works on, and the rest of what was said about it. */
interface CheckedOrder extends CheckoutOrder {
  orderId: string | null;
  member: MemberRef;
  lines: Array<CheckoutLine & { category?: string }>;
  deliveryMinor: number;
  paymentMethod: string | null;
  channel: string | null;
  shopCode: string | null;
  currency: string | null;
}

/** The program settings checkout reads. */
interface CheckoutProgram {
  currency: string;
  pointValueMinor: number;
  maxRedeemPercent: number;
  redemption: RedemptionPolicy;
}

/**
 * The order lifecycle (S1–S5): quote, place (authorize the points), pay (capture them and
 * earn), cancel, and return lines. Each write is one transaction that locks the member's
 * account first and records its idempotent result; the entries it writes and the order events it
 * raises (paid, cancelled, lines refunded — what tiers and other modules hook into) go to the
 * outbox with it. Rules are applied through the injected Earning port.
 */
export class OrderService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly earning: Earning,
    private readonly redeemCaps?: RedeemCapSource,
    /** Referrals: codes at checkout (services/referrals). */
    private readonly referrals?: CheckoutReferrals,
  ) {}

  /**
   * What the member may spend on this order and how it lands on the receipt, and what paying
   * it would earn. A read: it locks nothing and writes nothing, so quotes never wait on
   * writes or on each other; what it says holds until a write changes the balance or the
   * rules' counts, and placeOrder checks the points again under the account's lock.
   */
  async checkoutQuote(actor: Actor, input: { order: OrderInput; points?: number | null }): Promise<CheckoutQuoteRecord> {
    const order = checkOrder(input.order, false);
    if (input.points != null) checkPointsAmount(input.points, true);
    const em = this.db;
    // Referrals: an unknown code is BAD_USER_INPUT; a quote binds nobody.
    if (input.order.referralCode != null) await this.referrals?.ownerOf(em, actor.programId, input.order.referralCode, 'referralCode');
    const now = this.clock.now();
    const spender = await readSpender(em, actor.programId, order.member, now);
    const program = withTierCap(await loadProgram(em, actor.programId, order), await this.redeemCaps?.redeemPercentFor(em, actor.programId, spender.memberId, now));
    const quote = quoteFor(spender, program, order, input.points ?? undefined);
    const earned = await this.earning.preview(actor.programId, spender.memberId, orderPaidEvent(quotedOrderView(order, program, quote), now), now);
    return toQuoteRecord(spender.memberId, spendableOf(spender), program, order, quote, earned.memberPoints);
  }

  /** Records the order and reserves its points until it is paid or cancelled (see ORDER_AUTHORIZATION_TTL_SECONDS). */
  async placeOrder(actor: Actor, input: PlaceOrderInput): Promise<OrderResult> {
    const order = checkOrder(input, true);
    const points = input.points ?? 0;
    checkPointsAmount(points, true);
    return this.run(actor, 'placeOrder', input, reviveOrderResult, async (tx, books) => {
      // Referrals: the code binds the buyer (or records why not) before any account is locked.
      if (input.referralCode != null) await this.referrals?.atCheckout(tx, actor.programId, order.member, input.referralCode);
      const book = await books.open({ ...order.member });
      const program = withTierCap(await loadProgram(tx, actor.programId, order), await this.redeemCaps?.redeemPercentFor(tx, actor.programId, book.state.memberId, book.now));
      const [taken] = await tx.execute('select status from shop_order where program_id = ? and order_id = ?', [actor.programId, order.orderId]);
      if (taken) throw duplicateOrder(order.orderId!, taken.status);
      const quote = quoteFor(spenderOf(book), program, order, points);
      const id = randomUUID();
      let authorizationId: string | null = null;
      if (points > 0) {
        authorizationId = randomUUID();
        await book.hold(points, authorizationId, orderCause(order.orderId!, input, 'Points reserved for the order'));
        const expiresAt = new Date(book.now.getTime() + ORDER_AUTHORIZATION_TTL_SECONDS * 1000);
        await recordAuthorization(tx, book, { id: authorizationId, points, reference: order.orderId, expiresAt, owner: { type: 'order', id: order.orderId! } });
      }
      await insertOrder(tx, { id, programId: actor.programId, book, order, program, quote, authorizationId });
      return { order: await loadOrder(tx, actor.programId, { id }), account: snapshot(book) };
    });
  }

  /** Captures the reserved points and lets the rules reward the paid order. */
  async payOrder(actor: Actor, input: OrderActionInput): Promise<OrderResult> {
    checkAction(input);
    return this.run(actor, 'payOrder', input, reviveOrderResult, async (tx, books) => {
      const { row, book } = await lockOrder(tx, books, actor.programId, input.orderId);
      if (row.status !== OrderStatus.PLACED) throw wrongState(row, 'paid', 'Only a placed order can be paid');
      const cause = orderCause(row.order_id, input, 'Order paid');
      let captureEntryId: number | null = null;
      if (row.authorization_id) {
        const [auth] = await tx.execute('select * from "authorization" where id = ?', [row.authorization_id]);
        if (auth.status !== AuthorizationStatus.OPEN || book.now >= new Date(auth.expires_at)) {
          throw new PatronError(
            ErrorCode.AUTHORIZATION_EXPIRED,
            'The points reserved for this order were released when their authorization expired; cancel the order and place it again',
            { orderId: row.order_id, authorizationId: auth.id, expiredAt: new Date(auth.expires_at) },
          );
        }
        captureEntryId = (await book.capture(Number(auth.amount), auth.id, cause)).id;
        await closeAuthorization(tx, { id: auth.id, memberId: book.state.memberId }, AuthorizationStatus.CAPTURED, Number(auth.amount), book.now);
      }
      // The locked row is the order as it stands: capturing its points changed only the authorization.
      const order = await orderFromRow(tx, row);
      const outcome = await this.earning.earn(tx, book, { ...orderPaidEvent(order, book.now), source: { type: 'order', id: order.orderId } });
      const awards = [...outcome.awards].sort((a, b) => a.entry.id - b.entry.id);
      if (awards.length > 0) {
        await tx.execute(
          `insert into shop_order_award (order_id, entry_id, account_id, member_id, points, referrer_level)
           select ?, x.entry_id, x.account_id, x.member_id, x.points, x.referrer_level
           from jsonb_to_recordset(?::jsonb) as x(entry_id bigint, account_id uuid, member_id uuid, points bigint, referrer_level int)`,
          [row.id, JSON.stringify(awards.map((a) => ({
            entry_id: a.entry.id, account_id: a.entry.accountId, member_id: a.memberId, points: a.points, referrer_level: a.referrerLevel,
          })))],
        );
      }
      await tx.execute(
        `update shop_order set status = 'paid', paid_at = ?, capture_entry_id = ?, spend_added_minor = ?, updated_at = ? where id = ?`,
        [book.now, captureEntryId, outcome.spendAddedMinor, book.now, row.id],
      );
      await raise(tx, OrderEvent.PAID, ORDER_TOPIC, book.state, { id: row.id, orderId: row.order_id, occurredAt: book.now });
      return { order: asPaid(order, awards, book.now), account: snapshot(book) };
    });
  }

  /**
   * A placed order gives its reserved points back. A paid order gives back the points it was
   * paid with and takes back what it earned — the member's and the referrers' awards — under
   * the program's negativeBalancePolicy when those points were already spent; its money
   * leaves the member's cumulative spend.
   */
  async cancelOrder(actor: Actor, input: OrderActionInput): Promise<OrderResult> {
    checkAction(input);
    return this.run(actor, 'cancelOrder', input, reviveOrderResult, async (tx, books) => {
      const { row, book } = await lockOrder(tx, books, actor.programId, input.orderId);
      const cause = orderCause(row.order_id, input, 'Order cancelled');
      let pointsReturned: number;
      if (row.status === OrderStatus.PLACED) {
        pointsReturned = await this.releasePlaced(tx, book, row, cause);
      } else if (row.status === OrderStatus.PAID) {
        const awards = await openAwards(tx, books, row);
        const entries = await loadEntries(tx, [row.capture_entry_id, ...awards.map((a) => a.entryId)]);
        // The points paid with come back first, so they can cover earned points already spent.
        const capture = row.capture_entry_id ? entries.get(Number(row.capture_entry_id))! : null;
        if (capture && !capture.reversed) await book.reverse(capture.entry, cause);
        const takenBack: TakenBack[] = [];
        for (const award of awards) {
          const { entry, reversed } = entries.get(award.entryId)!;
          if (reversed) continue; // an operator reversed it already
          const awardBook = await books.open({ id: award.memberId });
          await awardBook.reverse(entry, cause, { shortfall: shortfallUnder(awardBook.policy.negativeBalancePolicy) });
          takenBack.push({ entryId: award.entryId, takenBack: award.points });
        }
        await recordTakenBack(tx, row.id, takenBack);
        await this.earning.returnSpend(tx, book, Number(row.spend_added_minor));
        pointsReturned = Number(row.points_redeemed);
      } else {
        const hint = row.status === OrderStatus.PARTIALLY_REFUNDED ? '; return the remaining lines with refundOrderLines' : '';
        throw wrongState(row, 'cancelled', `A ${row.status} order cannot be cancelled${hint}`);
      }
      await tx.execute(
        `update shop_order set status = 'cancelled', points_returned = ?, cancelled_at = ?, updated_at = ? where id = ?`,
        [pointsReturned, book.now, book.now, row.id],
      );
      await raise(tx, OrderEvent.CANCELLED, ORDER_TOPIC, book.state, { id: row.id, orderId: row.order_id, occurredAt: book.now });
      return { order: await loadOrder(tx, actor.programId, { id: row.id }), account: snapshot(book) };
    });
  }

  /**
   * Returns units of a paid order's lines: their share of the points discount comes back, a
   * proportional share of every award is taken back and their money leaves the member's
   * cumulative spend (see order-math.ts for the weights and the rounding). Returning every
   * unit ends where cancelling the paid order would.
   */
  async refundOrderLines(actor: Actor, input: RefundOrderLinesInput): Promise<RefundResult> {
    checkAction(input);
    if (!Array.isArray(input.lines) || input.lines.length === 0 || input.lines.length > MAX_LINES) {
      throw badInput(`lines must list 1 to ${MAX_LINES} returns`, { field: 'lines' });
    }
    return this.run(actor, 'refundOrderLines', input, reviveRefundResult, async (tx, books) => {
      const { row, book } = await lockOrder(tx, books, actor.programId, input.orderId);
      if (row.status !== OrderStatus.PAID && row.status !== OrderStatus.PARTIALLY_REFUNDED) {
        const hint = row.status === OrderStatus.PLACED ? '; an unpaid order is cancelled instead' : '';
        throw wrongState(row, 'refunded', `Lines of a ${row.status} order cannot be returned${hint}`);
      }
      const order = await loadOrder(tx, actor.programId, { id: row.id });
      const returned = resolveReturns(order, input.lines);
      const lines = order.lines.map((l) => ({ ...l, refundedQuantity: l.refundedQuantity + (returned.get(l.index) ?? 0) }));
      const totals = refundTotals(lines, order.pointsRedeemed, order.pointValueMinor);
      const cause = orderCause(row.order_id, input, 'Order lines returned');
      const awards = await openAwards(tx, books, row);
      const entries = await loadEntries(tx, [row.capture_entry_id, ...awards.map((a) => a.entryId)]);

      const pointsBack = totals.pointsReturned - order.pointsReturned;
      const capture = row.capture_entry_id ? entries.get(Number(row.capture_entry_id))! : null;
      if (pointsBack > 0 && capture && !capture.reversed) await book.reversePart(capture.entry, pointsBack, cause);
      const memberTakenBack = await this.takeBackAwards(tx, books, row, awards, entries, totals, cause);
      const spendAdded = Number(row.spend_added_minor);
      await this.earning.returnSpend(tx, book, spendReturned(lines, spendAdded) - spendReturned(order.lines, spendAdded));

      await tx.execute(
        `update shop_order_line l set refunded_quantity = x.refunded_quantity
         from jsonb_to_recordset(?::jsonb) as x(line_index int, refunded_quantity int)
         where l.order_id = ? and l.line_index = x.line_index`,
        [JSON.stringify(lines.map((l) => ({ line_index: l.index, refunded_quantity: l.refundedQuantity }))), row.id],
      );
      const status = totals.complete ? OrderStatus.REFUNDED : OrderStatus.PARTIALLY_REFUNDED;
      await tx.execute(
        `update shop_order set status = ?::order_status, points_returned = ?, refunded_at = ?, updated_at = ? where id = ?`,
        [status, totals.pointsReturned, book.now, book.now, row.id],
      );
      await raise(tx, OrderEvent.LINES_REFUNDED, ORDER_TOPIC, book.state, { id: row.id, orderId: row.order_id, occurredAt: book.now });
      const refundLines = [...returned].map(([lineIndex, quantity]) => ({ lineIndex, sku: order.lines[lineIndex].sku, quantity }));
      const refundId = randomUUID();
      await tx.execute(
        `insert into shop_order_refund (id, order_id, lines, points_returned, points_taken_back, reason, created_at)
         values (?, ?, ?::jsonb, ?, ?, ?, ?)`,
        [refundId, row.id, JSON.stringify(refundLines), Math.max(pointsBack, 0), memberTakenBack, input.reason ?? null, book.now],
      );
      const updated = await loadOrder(tx, actor.programId, { id: row.id });
      return { order: updated, account: snapshot(book), refund: updated.refunds.find((r) => r.id === refundId)! };
    });
  }

  /** The order by the shop's id, or null. */
  async getOrder(programId: string, orderId: string): Promise<OrderRecord | null> {
    if (typeof orderId !== 'string' || !orderId || orderId.length > MAX_TEXT) return null;
    const em = this.db;
    const [row] = await em.execute('select id from shop_order where program_id = ? and order_id = ?', [programId, orderId]);
    return row ? loadOrder(em, programId, { id: row.id }) : null;
  }

  /**
   * Ends a placed order's reservation and says how many of its points came back: all of them,
   * whether released now or by the release job when the authorization ran out, but none that
   * something else captured.
   */
  private async releasePlaced(tx: UnitOfWork, book: AccountBook, row: any, cause: Cause): Promise<number> {
    if (!row.authorization_id) return 0;
    const [auth] = await tx.execute('select id, amount, captured, status from "authorization" where id = ?', [row.authorization_id]);
    if (auth.status !== AuthorizationStatus.OPEN) return Number(auth.amount) - Number(auth.captured);
    await book.release(Number(auth.amount), auth.id, cause);
    await closeAuthorization(tx, { id: auth.id, memberId: book.state.memberId }, AuthorizationStatus.RELEASED, 0, book.now);
    return Number(auth.amount);
  }

  /**
   * Brings each award's take-back up to its share under `totals`. What expired from an award's
   * lot unused is never taken back (as a whole reversal would not), so a share is capped at the
   * award less its expired points. Returns the points taken from the order's own member.
   */
  private async takeBackAwards(
    tx: UnitOfWork,
    books: Books,
    row: any,
    awards: AwardRow[],
    entries: Map<number, LoadedEntry>,
    totals: RefundTotals,
    cause: Cause,
  ): Promise<number> {
    let memberTakenBack = 0;
    const takenBack: TakenBack[] = [];
    for (const award of awards) {
      const { entry, reversed } = entries.get(award.entryId)!;
      if (reversed) continue; // an operator reversed it already
      const awardBook = await books.open({ id: award.memberId });
      const lot = await awardBook.accrualLot(entry);
      const target = Math.min(awardTakenBack(award.points, totals), award.points - lot.expired);
      const take = target - award.takenBack;
      if (take <= 0) continue;
      await awardBook.reversePart(entry, take, cause, { shortfall: shortfallUnder(awardBook.policy.negativeBalancePolicy) });
      takenBack.push({ entryId: award.entryId, takenBack: target });
      if (award.memberId === row.member_id) memberTakenBack += take;
    }
    await recordTakenBack(tx, row.id, takenBack);
    return memberTakenBack;
  }

  /** The transaction, the idempotency record, then the events of every touched account once committed. */
  private async run<T>(
    actor: Actor,
    operation: string,
    input: { idempotencyKey: string },
    revive: (json: any) => T,
    work: (tx: UnitOfWork, books: Books) => Promise<T>,
  ): Promise<T> {
    checkClientKey(input.idempotencyKey);
    const { idempotencyKey, ...rest } = input;
    return this.db.transaction((tx) => {
      const books = new Books(tx, actor.programId, this.clock.now());
      return once(tx, { programId: actor.programId, key: idempotencyKey, operation, input: rest, revive }, () => work(tx, books));
    });
  }
}

/**
 * The accounts one order write touches, each opened (locked) once: the order's member first,
 * then the referrers of its awards, all together, up the tree (see lockReferrerAccounts).
 */
class Books {
  private readonly byMember = new Map<string, AccountBook>();

  constructor(
    private readonly tx: UnitOfWork,
    private readonly programId: string,
    private readonly now: Date,
  ) {}

  async open(member: MemberRef): Promise<AccountBook> {
    const known = 'id' in member ? this.byMember.get(member.id) : undefined;
    if (known) return known;
    const book = await AccountBook.open(this.tx, this.programId, member, this.now);
    this.byMember.set(book.state.memberId, book);
    return book;
  }

  /** Opens referrers' accounts, locked in one statement, nearest first, before anything is written to them. */
  async openReferrers(referrers: Array<{ memberId: string; level: number }>): Promise<void> {
    const fresh = referrers.filter((r) => !this.byMember.has(r.memberId)).sort((a, b) => a.level - b.level);
    await lockReferrerAccounts(this.tx, this.programId, fresh);
    for (const referrer of fresh) await this.open({ id: referrer.memberId });
  }
}

/** The member's account as checkout sees it. */
interface Spender {
  memberId: string;
  frozen: boolean;
  /** Points available now; a frozen member keeps them but may not spend them. */
  available: number;
}

const spenderOf = (book: AccountBook): Spender => ({
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
async function readSpender(em: Sql, programId: string, member: MemberRef, now: Date): Promise<Spender> {
  const [column, value] = memberRefColumn(member);
  const [row] =
    column === 'id' && !isUuid(value)
      ? []
      : await em.execute(
          `select m.id, m.status, a.debt,
             coalesce((select sum(l.remaining) from lot l
                       where l.account_id = a.id and l.remaining > 0 and (l.activated_at is not null or l.available_at <= ?)
                         and (l.expires_at is null or l.expires_at > ?)), 0) as lots
           from member m join account a on a.member_id = m.id
           where m.${column} = ? and m.program_id = ?`,
          [now, now, value, programId],
        );
  if (!row) throw notFound('Member', { member });
  return { memberId: row.id, frozen: row.status === MemberStatus.FROZEN, available: Math.max(0, Number(row.lots) - Number(row.debt)) };
}

/** Finds the order, locks its member's account, then reads the order again under that lock. */
async function lockOrder(tx: UnitOfWork, books: Books, programId: string, orderId: string) {
  const [found] = await tx.execute('select member_id from shop_order where program_id = ? and order_id = ?', [programId, orderId]);
  if (!found) throw notFound('Order', { orderId });
  const book = await books.open({ id: found.member_id });
  const [row] = await tx.execute('select * from shop_order where program_id = ? and order_id = ? for update', [programId, orderId]);
  return { row, book };
}

async function loadProgram(tx: Sql, programId: string, order: CheckedOrder): Promise<CheckoutProgram> {
  const [p] = await tx.execute('select * from program where id = ?', [programId]);
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

/**
 * The quote for `requested` points (or the most allowed). A frozen member may not spend
 * (ACCOUNT_FROZEN); asking for more than the member has is INSUFFICIENT_POINTS; more than the
 * order accepts (the share cap, or the eligible amount) is BAD_USER_INPUT.
 */
function quoteFor(spender: Spender, program: CheckoutProgram, order: CheckedOrder, requested?: number): CheckoutQuote {
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
      limitedBy: max.limitedBy,
    });
  }
  return checkoutMath(() => quoteCheckout(order, program.redemption, spendable, requested));
}

/** A frozen member keeps their points but cannot spend them. */
const spendableOf = (spender: Spender) => (spender.frozen ? 0 : spender.available);

/** checkout-math reports bad numbers as RangeError; they reach clients as BAD_USER_INPUT. */
function checkoutMath<T>(compute: () => T): T {
  try {
    return compute();
  } catch (error) {
    if (error instanceof RangeError) throw badInput(error.message);
    throw error;
  }
}

function toQuoteRecord(
  memberId: string,
  availablePoints: number,
  program: CheckoutProgram,
  order: CheckedOrder,
  quote: CheckoutQuote,
  pointsToEarn: number,
): CheckoutQuoteRecord {
  const { max, split, earningBase } = quote;
  const deliveryEligible = program.redemption.deliveryEligible ?? false;
  return {
    memberId,
    currency: program.currency,
    pointValueMinor: program.pointValueMinor,
    maxRedeemPercent: program.maxRedeemPercent,
    availablePoints,
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
  };
}

function ineligibility(line: CheckoutLine, policy: RedemptionPolicy): IneligibleReason | null {
  if (line.giftCard && (policy.excludeGiftCards ?? true)) return 'gift_card';
  if (line.onSale && (policy.excludeOnSale ?? true)) return 'on_sale';
  return null;
}

const lineNet = (l: CheckoutLine) => Math.max(0, l.unitPriceMinor * l.quantity - (l.discountMinor ?? 0));
const orderTotal = (order: CheckedOrder) => order.lines.reduce((s, l) => s + lineNet(l), 0) + order.deliveryMinor;

async function insertOrder(
  tx: UnitOfWork,
  o: { id: string; programId: string; book: AccountBook; order: CheckedOrder; program: CheckoutProgram; quote: CheckoutQuote; authorizationId: string | null },
): Promise<void> {
  const { order, quote, book } = o;
  try {
    await tx.execute(
      `insert into shop_order (id, program_id, order_id, member_id, account_id, status, currency, delivery_minor,
         delivery_points_discount_minor, total_minor, payment_method, channel, shop_code, point_value_minor, points_redeemed,
         authorization_id, placed_at, updated_at)
       values (?, ?, ?, ?, ?, 'placed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [o.id, o.programId, order.orderId, book.state.memberId, book.state.id, o.program.currency, order.deliveryMinor,
        quote.split.delivery?.discountMinor ?? 0, orderTotal(order), order.paymentMethod, order.channel, order.shopCode,
        o.program.pointValueMinor, quote.points, o.authorizationId, book.now, book.now],
    );
  } catch (error) {
    // Another member's order with this id committed first (ours was checked under our own lock only).
    if ((error as { code?: string }).code === '23505') throw duplicateOrder(order.orderId!, null);
    throw error;
  }
  const lines = order.lines.map((l, i) => ({
    line_index: i,
    sku: l.sku,
    category: l.category ?? null,
    unit_price_minor: l.unitPriceMinor,
    quantity: l.quantity,
    on_sale: l.onSale ?? false,
    gift_card: l.giftCard ?? false,
    discount_minor: l.discountMinor ?? 0,
    net_minor: lineNet(l),
    points_discount_minor: quote.split.lines[i].discountMinor,
    earn_base_minor: quote.earningBase.lines[i].eligibleMoneyMinor,
  }));
  await tx.execute(
    `insert into shop_order_line (order_id, line_index, sku, category, unit_price_minor, quantity, on_sale, gift_card,
       discount_minor, net_minor, points_discount_minor, earn_base_minor)
     select ?, x.line_index, x.sku, x.category, x.unit_price_minor, x.quantity, x.on_sale, x.gift_card, x.discount_minor,
       x.net_minor, x.points_discount_minor, x.earn_base_minor
     from jsonb_to_recordset(?::jsonb) as x(line_index int, sku text, category text, unit_price_minor bigint, quantity int,
       on_sale boolean, gift_card boolean, discount_minor bigint, net_minor bigint, points_discount_minor bigint, earn_base_minor bigint)`,
    [o.id, JSON.stringify(lines)],
  );
}

async function loadOrder(em: Sql, programId: string, by: { id: string }): Promise<OrderRecord> {
  const [row] = await em.execute('select * from shop_order where id = ? and program_id = ?', [by.id, programId]);
  if (!row) throw notFound('Order', by);
  return orderFromRow(em, row);
}

/**
 * The order whose shop_order row the caller has read already (e.g. locked). Awards are written
 * only when an order is paid and refunds only for a paid order, so a placed order has neither
 * and they are not read for one.
 */
async function orderFromRow(em: Sql, row: any): Promise<OrderRecord> {
  // One after another: inside a transaction they share one connection.
  const lines = await em.execute('select * from shop_order_line where order_id = ? order by line_index', [row.id]);
  const placed = row.status === OrderStatus.PLACED;
  const awards = placed ? [] : await em.execute('select * from shop_order_award where order_id = ? order by entry_id', [row.id]);
  const refunds = placed ? [] : await em.execute('select * from shop_order_refund where order_id = ? order by created_at, id', [row.id]);
  const pointsDiscountMinor = Number(row.points_redeemed) * row.point_value_minor;
  const awardRecords = awards.map(toAwardRecord);
  return {
    id: row.id,
    orderId: row.order_id,
    memberId: row.member_id,
    status: row.status,
    currency: row.currency,
    totalMinor: Number(row.total_minor),
    deliveryMinor: Number(row.delivery_minor),
    deliveryPointsDiscountMinor: Number(row.delivery_points_discount_minor),
    pointValueMinor: row.point_value_minor,
    pointsRedeemed: Number(row.points_redeemed),
    pointsDiscountMinor,
    payableMinor: Number(row.total_minor) - pointsDiscountMinor,
    pointsReturned: Number(row.points_returned),
    pointsEarned: earnedBy(row.member_id, awardRecords),
    pointsTakenBack: awards
      .filter((a: any) => a.member_id === row.member_id)
      .reduce((s: number, a: any) => s + Number(a.taken_back), 0),
    paymentMethod: row.payment_method,
    channel: row.channel,
    shopCode: row.shop_code,
    authorizationId: row.authorization_id,
    placedAt: new Date(row.placed_at),
    paidAt: row.paid_at ? new Date(row.paid_at) : null,
    cancelledAt: row.cancelled_at ? new Date(row.cancelled_at) : null,
    refundedAt: row.refunded_at ? new Date(row.refunded_at) : null,
    updatedAt: new Date(row.updated_at),
    lines: lines.map((l: any) => ({
      index: l.line_index,
      sku: l.sku,
      category: l.category,
      unitPriceMinor: Number(l.unit_price_minor),
      quantity: l.quantity,
      onSale: l.on_sale,
      giftCard: l.gift_card,
      discountMinor: Number(l.discount_minor),
      netMinor: Number(l.net_minor),
      pointsDiscountMinor: Number(l.points_discount_minor),
      payableMinor: Number(l.net_minor) - Number(l.points_discount_minor),
      earnBaseMinor: Number(l.earn_base_minor),
      refundedQuantity: l.refunded_quantity,
    })),
    awards: awardRecords,
    refunds: refunds.map((r: any) => ({
      id: r.id,
      lines: r.lines,
      pointsReturned: Number(r.points_returned),
      pointsTakenBack: Number(r.points_taken_back),
      reason: r.reason,
      createdAt: new Date(r.created_at),
    })),
  };
}

const toAwardRecord = (a: any): OrderAwardRecord => ({
  memberId: a.member_id,
  entryId: Number(a.entry_id),
  points: Number(a.points),
  takenBack: Number(a.taken_back),
});

/** Points the order's member earned: their own awards (the referrers' are the rest). */
const earnedBy = (memberId: string, awards: OrderAwardRecord[]) =>
  awards.filter((a) => a.memberId === memberId).reduce((s, a) => s + a.points, 0);

/** The order as payOrder leaves it: what loadOrder would read back, without reading it again. */
function asPaid(order: OrderRecord, awards: EarnedAward[], now: Date): OrderRecord {
  const records = awards.map((a) => ({ memberId: a.memberId, entryId: a.entry.id, points: a.points, takenBack: 0 }));
  return { ...order, status: OrderStatus.PAID, paidAt: now, updatedAt: now, awards: records, pointsEarned: earnedBy(order.memberId, records) };
}

/** An award of the order as a take-back needs it. */
interface AwardRow extends OrderAwardRecord {
  /** null: the order's member; N: their referrer N levels up. */
  referrerLevel: number | null;
}

/**
 * The order's awards, the member's own first, then the referrers' up the tree, with the
 * referrers' accounts locked, all at once, before anything is written (see lockReferrerAccounts;
 * the order's member is locked already).
 */
async function openAwards(tx: UnitOfWork, books: Books, row: any): Promise<AwardRow[]> {
  const rows = await tx.execute(
    'select * from shop_order_award where order_id = ? order by referrer_level nulls first, entry_id',
    [row.id],
  );
  const awards: AwardRow[] = rows.map((a: any) => ({ ...toAwardRecord(a), referrerLevel: a.referrer_level }));
  await books.openReferrers(
    awards.filter((a) => a.memberId !== row.member_id && a.referrerLevel !== null).map((a) => ({ memberId: a.memberId, level: a.referrerLevel! })),
  );
  return awards;
}

interface LoadedEntry {
  entry: EntryRecord;
  /** Reversed whole already (by an operator): nothing is left to take back. */
  reversed: boolean;
}

/** Ledger entries by id, each with its lot and whether it was reversed whole, in one read. */
async function loadEntries(tx: Sql, ids: Array<number | string | null>): Promise<Map<number, LoadedEntry>> {
  const wanted = ids.filter((id) => id != null).map(Number);
  if (wanted.length === 0) return new Map();
  const rows = await tx.execute(
    `select e.*, a.member_id, (select id from lot where source_entry_id = e.id) as lot_id,
       exists (select 1 from ledger_entry r where r.reverses_entry_id = e.id) as reversed
     from ledger_entry e join account a on a.id = e.account_id where e.id = any(?::bigint[])`,
    [pgArray(wanted)],
  );
  return new Map(rows.map((r: any) => [Number(r.id), { entry: toEntryRecord(r, r.member_id), reversed: r.reversed }]));
}

interface TakenBack {
  entryId: number;
  /** The award's points taken back so far. */
  takenBack: number;
}

async function recordTakenBack(tx: UnitOfWork, orderId: string, awards: TakenBack[]): Promise<void> {
  if (awards.length === 0) return;
  await tx.execute(
    `update shop_order_award aw set taken_back = x.taken_back
     from jsonb_to_recordset(?::jsonb) as x(entry_id bigint, taken_back bigint)
     where aw.order_id = ? and aw.entry_id = x.entry_id`,
    [JSON.stringify(awards.map((a) => ({ entry_id: a.entryId, taken_back: a.takenBack }))), orderId],
  );
}

/** What the rules see of an order: an OrderRecord, or a quoted order that has no record yet. */
type RuleOrderView = Pick<
  OrderRecord,
  'totalMinor' | 'deliveryMinor' | 'currency' | 'paymentMethod' | 'channel' | 'shopCode' | 'pointsRedeemed'
> & {
  orderId: string | null;
  lines: Array<Pick<OrderLineRecord, 'sku' | 'category' | 'unitPriceMinor' | 'quantity' | 'onSale' | 'giftCard' | 'earnBaseMinor'>>;
};

/**
 * The 'order_paid' event for the rules. Each line's eligibleMoneyMinor is the money paid for
 * it (net of the shop's discounts and of points, unless the program earns on the points-paid
 * part too); totalMinor is the order's total before points, for conditions on the order size.
 */
function orderPaidEvent(order: RuleOrderView, now: Date): Omit<EarningRequest, 'source'> {
  return {
    trigger: 'order_paid',
    occurredAt: now,
    payload: {
      orderId: order.orderId,
      totalMinor: order.totalMinor,
      deliveryMinor: order.deliveryMinor,
      currency: order.currency,
      paymentMethod: order.paymentMethod,
      channel: order.channel,
      shopCode: order.shopCode,
      pointsRedeemed: order.pointsRedeemed,
      lines: order.lines.map((l) => ({ sku: l.sku, category: l.category, quantity: l.quantity, giftCard: l.giftCard })),
    },
    order: {
      totalMinor: order.totalMinor,
      paymentMethod: order.paymentMethod,
      channel: order.channel,
      lines: order.lines.map((l) => ({
        sku: l.sku,
        category: l.category,
        unitPriceMinor: l.unitPriceMinor,
        quantity: l.quantity,
        onSale: l.onSale,
        eligibleMoneyMinor: l.earnBaseMinor,
      })),
    },
  };
}

/** The rules' view of a quoted order, as if it were paid with the quoted points. */
function quotedOrderView(order: CheckedOrder, program: CheckoutProgram, quote: CheckoutQuote): RuleOrderView {
  return {
    orderId: order.orderId,
    totalMinor: orderTotal(order),
    deliveryMinor: order.deliveryMinor,
    currency: program.currency,
    paymentMethod: order.paymentMethod,
    channel: order.channel,
    shopCode: order.shopCode,
    pointsRedeemed: quote.points,
    lines: order.lines.map((l, i) => ({
      sku: l.sku,
      category: l.category ?? null,
      unitPriceMinor: l.unitPriceMinor,
      quantity: l.quantity,
      onSale: l.onSale ?? false,
      giftCard: l.giftCard ?? false,
      earnBaseMinor: quote.earningBase.lines[i].eligibleMoneyMinor,
    })),
  };
}

function checkMoney(value: number | null | undefined, field: string): number {
  const v = value ?? 0;
  if (!Number.isSafeInteger(v) || v < 0 || v > MAX_MONEY) {
    throw badInput(`${field} must be a whole number of minor units from 0 to ${MAX_MONEY}`, { field, value });
  }
  return v;
}

function checkPointsAmount(points: number, allowZero: boolean): void {
  if (!Number.isSafeInteger(points) || points < (allowZero ? 0 : 1) || points > MAX_POINTS) {
    throw badInput(`points must be a whole number from ${allowZero ? 0 : 1} to ${MAX_POINTS}`, { field: 'points', value: points });
  }
}

/** Checks what the storefront sent before anything is read or written. */
function checkOrder(input: OrderInput, needsOrderId: boolean): CheckedOrder {
  const orderId = checkText(input.orderId, 'orderId', MAX_TEXT, needsOrderId);
  if (!Array.isArray(input.lines) || input.lines.length === 0 || input.lines.length > MAX_LINES) {
    throw badInput(`An order has 1 to ${MAX_LINES} lines`, { field: 'lines' });
  }
  const lines = input.lines.map((l, i) => {
    const field = `lines[${i}]`;
    const quantity = l.quantity;
    if (!Number.isSafeInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
      throw badInput(`${field}.quantity must be a whole number from 1 to ${MAX_QUANTITY}`, { field: `${field}.quantity` });
    }
    const unitPriceMinor = checkMoney(l.unitPriceMinor, `${field}.unitPriceMinor`);
    const discountMinor = checkMoney(l.discountMinor, `${field}.discountMinor`);
    if (unitPriceMinor * quantity > MAX_MONEY) throw badInput(`${field} costs more than ${MAX_MONEY} minor units`, { field });
    if (discountMinor > unitPriceMinor * quantity) {
      throw badInput(`${field}.discountMinor is more than the line costs`, { field: `${field}.discountMinor` });
    }
    const category = checkText(l.category, `${field}.category`, MAX_TEXT);
    return {
      sku: checkText(l.sku, `${field}.sku`, MAX_TEXT, true)!,
      ...(category != null ? { category } : {}),
      unitPriceMinor,
      quantity,
      onSale: l.onSale ?? false,
      discountMinor,
      giftCard: l.giftCard ?? false,
    };
  });
  const currency = checkText(input.currency, 'currency', 3);
  if (currency != null && !/^[A-Z]{3}$/.test(currency)) throw badInput('currency must be an ISO 4217 code', { field: 'currency' });
  return {
    orderId,
    member: input.member,
    lines,
    deliveryMinor: checkMoney(input.deliveryMinor, 'deliveryMinor'),
    paymentMethod: checkText(input.paymentMethod, 'paymentMethod', 50),
    channel: checkText(input.channel, 'channel', 50),
    shopCode: checkText(input.shopCode, 'shopCode', 100),
    currency,
  };
}

function checkAction(input: OrderActionInput): void {
  checkText(input.orderId, 'orderId', MAX_TEXT, true);
  checkReason(input.reason);
}

/** Units returned per line index; by SKU only when exactly one line has it. More than was bought is BAD_USER_INPUT. */
function resolveReturns(order: OrderRecord, requested: RefundLineInput[]): Map<number, number> {
  const returned = new Map<number, number>();
  requested.forEach((r, i) => {
    const field = `lines[${i}]`;
    if (!Number.isSafeInteger(r.quantity) || r.quantity < 1) {
      throw badInput(`${field}.quantity must be a whole number of at least 1`, { field: `${field}.quantity` });
    }
    let index: number;
    if (r.lineIndex != null) {
      if (r.sku != null && order.lines[r.lineIndex]?.sku !== r.sku) {
        throw badInput(`${field}: line ${r.lineIndex} is not SKU ${r.sku}`, { field });
      }
      index = r.lineIndex;
      if (!order.lines[index]) throw badInput(`${field}: the order has no line ${index}`, { field: `${field}.lineIndex` });
    } else if (r.sku != null) {
      const matches = order.lines.filter((l) => l.sku === r.sku);
      if (matches.length === 0) throw badInput(`${field}: the order has no line with SKU ${r.sku}`, { field: `${field}.sku` });
      if (matches.length > 1) throw badInput(`${field}: several lines have SKU ${r.sku}; name the lineIndex`, { field: `${field}.sku` });
      index = matches[0].index;
    } else {
      throw badInput(`${field}: name the line by lineIndex or sku`, { field });
    }
    returned.set(index, (returned.get(index) ?? 0) + r.quantity);
  });
  for (const [index, quantity] of returned) {
    const line = order.lines[index];
    if (line.refundedQuantity + quantity > line.quantity) {
      throw badInput(
        `Line ${index} (${line.sku}): ${quantity} asked back, ${line.quantity - line.refundedQuantity} of ${line.quantity} left to return`,
        { field: 'lines', lineIndex: index, requested: quantity, returnable: line.quantity - line.refundedQuantity },
      );
    }
  }
  return returned;
}

function orderCause(orderId: string, input: { reason?: string | null; idempotencyKey: string }, what: string): Cause {
  return {
    type: CauseType.ORDER,
    id: orderId,
    owner: { type: 'order', id: orderId },
    reason: input.reason ? `${what}: ${input.reason}` : what,
    idempotencyKey: input.idempotencyKey,
  };
}

function duplicateOrder(orderId: string, status: OrderStatus | null): PatronError {
  return new PatronError(ErrorCode.CONFLICT, `Order ${orderId} already exists`, { orderId, ...(status ? { status } : {}) });
}

function wrongState(row: any, wanted: string, message: string): PatronError {
  return new PatronError(ErrorCode.INVALID_STATE, message, { orderId: row.order_id, status: row.status, wanted });
}

const date = (v: string | null) => (v ? new Date(v) : null);

function reviveOrder(json: any): OrderRecord {
  return {
    ...json,
    placedAt: new Date(json.placedAt),
    paidAt: date(json.paidAt),
    cancelledAt: date(json.cancelledAt),
    refundedAt: date(json.refundedAt),
    updatedAt: new Date(json.updatedAt),
    refunds: json.refunds.map(reviveRefund),
  };
}

const reviveRefund = (json: any): OrderRefundRecord => ({ ...json, createdAt: new Date(json.createdAt) });

function reviveOrderResult(json: any): OrderResult {
  return { order: reviveOrder(json.order), account: json.account };
}

function reviveRefundResult(json: any): RefundResult {
  return { ...reviveOrderResult(json), refund: reviveRefund(json.refund) };
}
