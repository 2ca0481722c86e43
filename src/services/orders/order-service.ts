import { randomUUID } from 'node:crypto';
import type { Database, Sql, UnitOfWork } from '../../db/database';
import { OrderBenefit, OrderStatus } from '../../entities/order';
import { badInput } from '../../errors';
import type { Earning } from '../earning';
import { snapshot } from '../ledger';
import type { Clock, MemberRef, RequestContext } from '../shared';
import { checkClientKey, idempotentTransaction, raise } from '../shared';
import { Books, lockOrder } from './order-books';
import {
  type CheckoutQuoteRecord, type CheckoutTier, type CheckoutTiers, checkoutProgram, quoteFor, readSpender, spenderOf, tierDiscountFor,
  toQuoteRecord,
} from './order-checkout';
import { OrderEvent, ORDER_TOPIC } from './order-events';
import {
  type CheckoutQuoteInput, type OrderActionInput, type PlaceOrderInput, type RefundOrderLinesInput, MAX_TEXT, checkAction,
  checkBenefit, checkOrder, checkPointsAmount, checkRefund, resolveReturns,
} from './order-input';
import { refundTotals, spendReturned } from './order-math';
import { capturePoints, holdPoints, orderCause, releasePlaced, returnPart, reversePaid } from './order-points';
import {
  type CheckoutAttribution, type OrderRecord, type OrderResult, type PaidAward, type RefundResult, asPaid, duplicateOrder, insertOrder, loadOrder, markPaid,
  orderFromRow, paidAwards, reviveOrderResult, reviveRefundResult,
} from './order-records';
import { orderPaidEvent, quotedOrderView } from './order-rules';
import { assertTransition } from './order-state';
import * as store from './order-store';

/** Referrals at checkout (implemented by services/referrals' ReferralAttribution). */
export interface CheckoutReferrals {
  ownerOf(db: Sql, programId: string, code: string, field: string): Promise<string>;
  atCheckout(tx: Sql, programId: string, member: MemberRef, code: string): Promise<CheckoutAttribution>;
}

/**
 * The order lifecycle (S1–S5): quote, place (authorize the points), pay (capture them and
 * earn), cancel, and return lines. Each write is one transaction that locks the member's
 * account first and records its idempotent result; the entries it writes and the order events it
 * raises (paid, cancelled, lines refunded — what tiers and other modules hook into) go to the
 * outbox with it. Rules are applied through the injected Earning port.
 *
 * This class tells each use case's story; the work lives beside it: order-input (checks),
 * order-checkout (the quote), order-state (which status may follow which), order-points (the
 * order's points in the ledger), order-records (reading and writing the order), order-books
 * (the accounts a write locks), order-store (the SQL).
 */
export class OrderService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly earning: Earning,
    /** The member's tier: its share cap (S1) and its discount (T4) (services/tiers). */
    private readonly tiers?: CheckoutTiers,
    /** Referrals: codes at checkout (services/referrals). */
    private readonly referrals?: CheckoutReferrals,
  ) {}

  /**
   * What the member may spend on this order and how it lands on the receipt, and what paying
   * it would earn; beside it, when their tier gives a discount, the other option (T4): that
   * discount split over the lines the same way, earning nothing. A read: it locks nothing and
   * writes nothing, so quotes never wait on writes or on each other; what it says holds until a
   * write changes the balance, the rules' counts or the member's tier, and placeOrder checks
   * again under the account's lock.
   */
  async checkoutQuote(ctx: RequestContext, input: CheckoutQuoteInput): Promise<CheckoutQuoteRecord> {
    const order = checkOrder(input.order, false);
    if (input.points != null) checkPointsAmount(input.points, true);
    const { programId } = ctx;
    // Referrals: an unknown code is BAD_USER_INPUT; a quote binds nobody.
    if (input.order.referralCode != null) await this.referrals?.ownerOf(this.db, programId, input.order.referralCode, 'order.referralCode');
    const now = this.clock.now();
    const spender = await readSpender(this.db, programId, order.member, now);
    const tier = await this.tierOf(this.db, programId, spender.memberId, now);
    const program = await checkoutProgram(this.db, programId, order, tier);
    const quote = quoteFor(spender, program, order, input.points ?? undefined);
    const view = quotedOrderView(order, program.currency, quote);
    const earned = await this.earning.preview(programId, spender.memberId, orderPaidEvent(view, now), now);
    return toQuoteRecord(spender, program, order, quote, earned.memberPoints, tierDiscountFor(tier, program, order));
  }

  /**
   * Records the order and reserves its points until it is paid or cancelled (see
   * ORDER_AUTHORIZATION_TTL_SECONDS) — or, with benefit tier_discount, records it with the
   * discount of the member's tier in force now, split over its lines, and no points. A member
   * whose tier gives no discount is BAD_USER_INPUT, and nothing is written.
   */
  async placeOrder(ctx: RequestContext, input: PlaceOrderInput): Promise<OrderResult> {
    const order = checkOrder(input, true);
    const orderId = order.orderId!;
    const points = input.points ?? 0;
    checkPointsAmount(points, true);
    const benefit = checkBenefit(input.benefit, points);
    // Points are the default: naming them or not is the same request to the idempotency record.
    const keyed = { ...input, benefit: benefit === OrderBenefit.POINTS ? undefined : benefit };
    return this.run(ctx, 'placeOrder', keyed, reviveOrderResult, async (tx, books) => {
      // Referrals: the code binds the buyer (or records why not) before any account is locked.
      const referral = input.referralCode != null && this.referrals ? await this.referrals.atCheckout(tx, ctx.programId, order.member, input.referralCode) : null;
      const book = await books.open({ ...order.member });
      const tier = await this.tierOf(tx, ctx.programId, book.state.memberId, book.now);
      const program = await checkoutProgram(tx, ctx.programId, order, tier, { placing: true });
      const [taken] = await tx.run(store.findOrderStatus, [ctx.programId, orderId]);
      if (taken) throw duplicateOrder(orderId, taken.status);
      const quote = quoteFor(spenderOf(book), program, order, points);
      const tierDiscount = benefit === OrderBenefit.TIER_DISCOUNT ? tierDiscountFor(tier, program, order) : null;
      if (benefit === OrderBenefit.TIER_DISCOUNT && !tierDiscount) {
        throw badInput(
          tier ? `The member's tier (${tier.code}) gives no discount; place the order with points` : 'The member has no tier with a discount; place the order with points',
          { field: 'benefit', tierCode: tier?.code ?? null },
        );
      }
      const id = randomUUID();
      const authorizationId = await holdPoints(tx, book, orderId, points, orderCause(orderId, input, 'Points reserved for the order'));
      await insertOrder(tx, {
        id, programId: ctx.programId, book, order, currency: program.currency, pointValueMinor: program.pointValueMinor, quote,
        authorizationId, tierDiscount,
      });
      return { order: await loadOrder(tx, ctx.programId, { id }), account: snapshot(book), referral };
    });
  }

  /**
   * Captures the reserved points and lets the rules reward the paid order. An order that took
   * the tier discount earns nothing (the rules do not run, no award is written); its money still
   * joins the member's cumulative spend, and its order.paid event feeds tier qualification.
   */
  async payOrder(ctx: RequestContext, input: OrderActionInput): Promise<OrderResult> {
    checkAction(input);
    return this.run(ctx, 'payOrder', input, reviveOrderResult, async (tx, books) => {
      // The order, its hold and its lines in one read, under the member's lock.
      const { row, book } = await lockOrder(tx, books, ctx.programId, input.orderId, store.lockOrderToPay);
      assertTransition({ orderId: row.order_id, status: row.status }, OrderStatus.PAID);
      const captureEntryId = await capturePoints(tx, book, row, row.hold, orderCause(row.order_id, input, 'Order paid'));
      // The locked row is the order as it stands: capturing its points changed only the authorization.
      const order = await orderFromRow(tx, row, row.lines);
      let awards: PaidAward[] = [];
      let spendAddedMinor: number;
      if (order.benefit === OrderBenefit.TIER_DISCOUNT) {
        spendAddedMinor = await this.earning.addSpend(tx, book, order.totalMinor);
      } else {
        const outcome = await this.earning.earn(tx, book, { ...orderPaidEvent(order, book.now), source: { type: 'order', id: order.orderId } });
        awards = paidAwards(outcome.awards);
        spendAddedMinor = outcome.spendAddedMinor;
      }
      markPaid(tx, row.id, { now: book.now, captureEntryId, spendAddedMinor, awards });
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
  async cancelOrder(ctx: RequestContext, input: OrderActionInput): Promise<OrderResult> {
    checkAction(input);
    return this.run(ctx, 'cancelOrder', input, reviveOrderResult, async (tx, books) => {
      const { row, book } = await lockOrder(tx, books, ctx.programId, input.orderId, store.lockOrder);
      assertTransition({ orderId: row.order_id, status: row.status }, OrderStatus.CANCELLED);
      const cause = orderCause(row.order_id, input, 'Order cancelled');
      let pointsReturned: number;
      if (row.status === OrderStatus.PLACED) {
        pointsReturned = await releasePlaced(tx, book, row, cause);
      } else {
        await this.earning.withdraw(tx, await reversePaid(tx, books, book, row, cause));
        await this.earning.returnSpend(tx, book, Number(row.spend_added_minor));
        pointsReturned = Number(row.points_redeemed);
      }
      tx.write(store.markCancelled, [pointsReturned, book.now, book.now, row.id]);
      await raise(tx, OrderEvent.CANCELLED, ORDER_TOPIC, book.state, { id: row.id, orderId: row.order_id, occurredAt: book.now });
      return { order: await loadOrder(tx, ctx.programId, { id: row.id }), account: snapshot(book) };
    });
  }

  /**
   * Returns units of a paid order's lines: their share of the points discount comes back, a
   * proportional share of every award is taken back and their money leaves the member's
   * cumulative spend (see order-math.ts for the weights and the rounding). Returning every
   * unit ends where cancelling the paid order would.
   */
  async refundOrderLines(ctx: RequestContext, input: RefundOrderLinesInput): Promise<RefundResult> {
    checkRefund(input);
    return this.run(ctx, 'refundOrderLines', input, reviveRefundResult, async (tx, books) => {
      const { row, book } = await lockOrder(tx, books, ctx.programId, input.orderId, store.lockOrder);
      assertTransition({ orderId: row.order_id, status: row.status }, OrderStatus.REFUNDED);
      const order = await loadOrder(tx, ctx.programId, { id: row.id });
      const returned = resolveReturns(order, input.lines);
      const lines = order.lines.map((l) => ({ ...l, refundedQuantity: l.refundedQuantity + (returned.get(l.index) ?? 0) }));
      const totals = refundTotals(lines, order.pointsRedeemed, order.pointValueMinor);
      const pointsBack = totals.pointsReturned - order.pointsReturned;
      const cause = orderCause(row.order_id, input, 'Order lines returned');
      const { memberTakenBack, withdrawn } = await returnPart(tx, books, book, row, pointsBack, totals, cause);
      await this.earning.withdraw(tx, withdrawn);
      const spendAdded = Number(row.spend_added_minor);
      await this.earning.returnSpend(tx, book, spendReturned(lines, spendAdded) - spendReturned(order.lines, spendAdded));

      const quantities = lines.map((l) => ({ line_index: l.index, refunded_quantity: l.refundedQuantity }));
      tx.write(store.setRefundedQuantities, [JSON.stringify(quantities), row.id]);
      const status = totals.complete ? OrderStatus.REFUNDED : OrderStatus.PARTIALLY_REFUNDED;
      tx.write(store.markRefunded, [status, totals.pointsReturned, book.now, book.now, row.id]);
      await raise(tx, OrderEvent.LINES_REFUNDED, ORDER_TOPIC, book.state, { id: row.id, orderId: row.order_id, occurredAt: book.now });
      const refundLines = [...returned].map(([lineIndex, quantity]) => ({ lineIndex, sku: order.lines[lineIndex].sku, quantity }));
      const refundId = randomUUID();
      tx.write(store.insertRefund, [
        refundId, row.id, JSON.stringify(refundLines), Math.max(pointsBack, 0), memberTakenBack, input.reason ?? null, book.now,
      ]);
      const updated = await loadOrder(tx, ctx.programId, { id: row.id });
      return { order: updated, account: snapshot(book), refund: updated.refunds.find((r) => r.id === refundId)! };
    });
  }

  /**
   * Which of the given shop order ids are this member's own orders (an entry of someone else's
   * order — a referrer's award — names it to keys only).
   */
  async ownOrderIds(ctx: RequestContext, memberId: string, orderIds: readonly string[]): Promise<Set<string>> {
    if (orderIds.length === 0) return new Set();
    const rows = await this.db.run(store.ownOrderIds, [ctx.programId, memberId, [...new Set(orderIds)]]);
    return new Set(rows.map((r) => r.order_id));
  }

  /** The order by the shop's id, or null. */
  async getOrder(ctx: RequestContext, orderId: string): Promise<OrderRecord | null> {
    if (typeof orderId !== 'string' || !orderId || orderId.length > MAX_TEXT) return null;
    const [row] = await this.db.run(store.findOrderId, [ctx.programId, orderId]);
    return row ? loadOrder(this.db, ctx.programId, { id: row.id }) : null;
  }

  /** The member's tier in force (its share cap and discount), or null without one or without the tiers module. */
  private async tierOf(db: Sql, programId: string, memberId: string, now: Date): Promise<CheckoutTier | null> {
    return (await this.tiers?.memberTier(db, programId, memberId, now)) ?? null;
  }

  /** The transaction and the idempotency record around one write; its events go out with the commit. */
  private async run<T>(
    ctx: RequestContext,
    operation: string,
    input: { idempotencyKey: string },
    revive: (json: any) => T,
    work: (tx: UnitOfWork, books: Books) => Promise<T>,
  ): Promise<T> {
    checkClientKey(input.idempotencyKey);
    const { idempotencyKey, ...rest } = input;
    return idempotentTransaction(this.db, { programId: ctx.programId, key: idempotencyKey, operation, input: rest, revive }, (tx) =>
      work(tx, new Books(tx, ctx.programId, this.clock.now())),
    );
  }
}
