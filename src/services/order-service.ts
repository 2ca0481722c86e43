import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { randomUUID } from 'node:crypto';
import { AuthorizationStatus } from '../entities/authorization';
import { CauseType, EntryKind } from '../entities/ledger-entry';
import { MemberStatus } from '../entities/member';
import { OrderStatus } from '../entities/order';
import { ErrorCode, PatronError, badInput, notFound } from '../errors';
import { AccountBook, Cause, EntryRecord, MemberRef, shortfallUnder, toEntryRecord } from './account-book';
import {
  CheckoutLine, CheckoutOrder, CheckoutQuote, IneligibleReason, RedemptionLimit, RedemptionPolicy, maxRedeemablePoints,
  quoteCheckout,
} from './checkout-math';
import type { Clock } from './clock';
import type { Earning, EarningRequest } from './earning';
import { EventPublisher, publishBalanceChanges } from './events';
import { once } from './idempotency';
import { AccountSnapshot, Actor, MAX_POINTS, closeAuthorization, recordAuthorization, snapshot } from './ledger-service';
import { RefundTotals, awardTakenBack, refundTotals } from './order-math';
import { transaction } from './unit-of-work';

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
const MAX_REASON = 500;

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
 * account first, records its idempotent result, commits, and then publishes the balance
 * changes of every account it touched. Rules are applied through the injected Earning port.
 */
export class OrderService {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly events: EventPublisher,
    private readonly earning: Earning,
  ) {}

  /**
   * What the member may spend on this order and how it lands on the receipt, and what paying
   * it would earn. Nothing is written: the rules run in a transaction that is rolled back.
   */
  async checkoutQuote(actor: Actor, input: { order: OrderInput; points?: number | null }): Promise<CheckoutQuoteRecord> {
    const order = checkOrder(input.order, false);
    if (input.points != null) checkPointsAmount(input.points, true);
    return rolledBack(this.orm, async (tx) => {
      const book = await AccountBook.open(tx, actor.programId, order.member, this.clock.now());
      const program = await loadProgram(tx, actor.programId, order);
      const quote = quoteFor(book, program, order, input.points ?? undefined);
      const availablePoints = spendableOf(book);
      // A source id of its own, so rules that reward a source once still answer for this dry run.
      const request = orderPaidRequest(quotedOrderView(order, program, quote), `quote:${randomUUID()}`, book.now);
      const outcome = await this.earning.earn(tx, book, request);
      return toQuoteRecord(book.state.memberId, availablePoints, program, order, quote, outcome.memberPoints);
    });
  }

  /** Records the order and reserves its points until it is paid or cancelled (see ORDER_AUTHORIZATION_TTL_SECONDS). */
  async placeOrder(actor: Actor, input: PlaceOrderInput): Promise<OrderResult> {
    const order = checkOrder(input, true);
    const points = input.points ?? 0;
    checkPointsAmount(points, true);
    return this.run(actor, 'placeOrder', input, reviveOrderResult, async (tx, books) => {
      const book = await books.open({ ...order.member });
      const program = await loadProgram(tx, actor.programId, order);
      const [taken] = await tx.execute('select status from shop_order where program_id = ? and order_id = ?', [actor.programId, order.orderId]);
      if (taken) throw duplicateOrder(order.orderId!, taken.status);
      const quote = quoteFor(book, program, order, points);
      const id = randomUUID();
      let authorizationId: string | null = null;
      if (points > 0) {
        authorizationId = randomUUID();
        await book.hold(points, authorizationId, orderCause(order.orderId!, input, 'Points reserved for the order'));
        const expiresAt = new Date(book.now.getTime() + ORDER_AUTHORIZATION_TTL_SECONDS * 1000);
        await recordAuthorization(tx, book, { id: authorizationId, points, reference: order.orderId, expiresAt });
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
        await closeAuthorization(tx, auth.id, AuthorizationStatus.CAPTURED, Number(auth.amount), book.now);
      }
      const order = await loadOrder(tx, actor.programId, { id: row.id });
      const outcome = await this.earning.earn(tx, book, orderPaidRequest(order, order.orderId, book.now));
      books.track(outcome.entries);
      const awards = outcome.entries.filter((e) => e.amount > 0 && (e.kind === EntryKind.ACCRUAL || e.kind === EntryKind.ADJUSTMENT));
      if (awards.length > 0) {
        await tx.execute(
          `insert into shop_order_award (order_id, entry_id, account_id, member_id, points)
           select ?, x.entry_id, x.account_id, x.member_id, x.points
           from jsonb_to_recordset(?::jsonb) as x(entry_id bigint, account_id uuid, member_id uuid, points bigint)`,
          [row.id, JSON.stringify(awards.map((e) => ({ entry_id: e.id, account_id: e.accountId, member_id: e.memberId, points: e.amount })))],
        );
      }
      const earned = awards.filter((e) => e.accountId === book.state.id).reduce((s, e) => s + e.amount, 0);
      await tx.execute(
        `update shop_order set status = 'paid', paid_at = ?, capture_entry_id = ?, points_earned = ?, updated_at = ? where id = ?`,
        [book.now, captureEntryId, earned, book.now, row.id],
      );
      return { order: await loadOrder(tx, actor.programId, { id: row.id }), account: snapshot(book) };
    });
  }

  /**
   * A placed order gives its reserved points back. A paid order gives back the points it was
   * paid with and takes back what it earned — the member's and the referrers' awards — under
   * the program's negativeBalancePolicy when those points were already spent.
   */
  async cancelOrder(actor: Actor, input: OrderActionInput): Promise<OrderResult> {
    checkAction(input);
    return this.run(actor, 'cancelOrder', input, reviveOrderResult, async (tx, books) => {
      const { row, book } = await lockOrder(tx, books, actor.programId, input.orderId);
      const cause = orderCause(row.order_id, input, 'Order cancelled');
      if (row.status === OrderStatus.PLACED) {
        await this.releasePlaced(tx, book, row, cause);
        await tx.execute('update shop_order set points_returned = points_redeemed where id = ?', [row.id]);
      } else if (row.status === OrderStatus.PAID) {
        const capture = row.capture_entry_id ? await loadEntry(tx, Number(row.capture_entry_id), book.state.memberId) : null;
        // The points paid with come back first, so they can cover earned points already spent.
        if (capture && !(await wasReversed(tx, capture.id))) await book.reverse(capture, cause);
        for (const award of await loadAwards(tx, row.id)) {
          const awardBook = await books.open({ id: award.member_id });
          if (await wasReversed(tx, Number(award.entry_id))) continue; // an operator reversed it already
          const entry = await loadEntry(tx, Number(award.entry_id), award.member_id);
          await awardBook.reverse(entry, cause, { shortfall: shortfallUnder(awardBook.policy.negativeBalancePolicy) });
          await tx.execute('update shop_order_award set taken_back = points where order_id = ? and entry_id = ?', [row.id, award.entry_id]);
        }
        await tx.execute('update shop_order set points_returned = points_redeemed where id = ?', [row.id]);
      } else {
        const hint = row.status === OrderStatus.PARTIALLY_REFUNDED ? '; return the remaining lines with refundOrderLines' : '';
        throw wrongState(row, 'cancelled', `A ${row.status} order cannot be cancelled${hint}`);
      }
      await tx.execute(`update shop_order set status = 'cancelled', cancelled_at = ?, updated_at = ? where id = ?`, [book.now, book.now, row.id]);
      return { order: await loadOrder(tx, actor.programId, { id: row.id }), account: snapshot(book) };
    });
  }

  /**
   * Returns units of a paid order's lines: their share of the points discount comes back and a
   * proportional share of every award is taken back (see order-math.ts for the rounding).
   * Returning every unit ends where cancelling the paid order would.
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

      const pointsBack = totals.pointsReturned - order.pointsReturned;
      if (pointsBack > 0 && row.capture_entry_id && !(await wasReversed(tx, Number(row.capture_entry_id)))) {
        await book.reversePart(await loadEntry(tx, Number(row.capture_entry_id), order.memberId), pointsBack, cause);
      }
      const memberTakenBack = await this.takeBackAwards(tx, books, row.id, totals, cause);

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
    const em = this.orm.em.fork();
    const [row] = await em.execute('select id from shop_order where program_id = ? and order_id = ?', [programId, orderId]);
    return row ? loadOrder(em, programId, { id: row.id }) : null;
  }

  private async releasePlaced(tx: EntityManager, book: AccountBook, row: any, cause: Cause): Promise<void> {
    if (!row.authorization_id) return;
    const [auth] = await tx.execute('select id, amount, status from "authorization" where id = ?', [row.authorization_id]);
    // The release job may have given the points back already, when the authorization ran out.
    if (auth.status !== AuthorizationStatus.OPEN) return;
    await book.release(Number(auth.amount), auth.id, cause);
    await closeAuthorization(tx, auth.id, AuthorizationStatus.RELEASED, 0, book.now);
  }

  /**
   * Brings each award's take-back up to its share under `totals`. What expired from an award's
   * lot unused is never taken back (as a whole reversal would not), so a share is capped at the
   * award less its expired points. Returns the points taken from the order's own member.
   */
  private async takeBackAwards(tx: EntityManager, books: Books, orderId: string, totals: RefundTotals, cause: Cause) {
    let memberTakenBack = 0;
    for (const award of await loadAwards(tx, orderId)) {
      const awardBook = await books.open({ id: award.member_id });
      if (await wasReversed(tx, Number(award.entry_id))) continue; // an operator reversed it already
      const entry = await loadEntry(tx, Number(award.entry_id), award.member_id);
      const lot = await awardBook.accrualLot(entry);
      const target = Math.min(awardTakenBack(Number(award.points), totals), Number(award.points) - lot.expired);
      const take = target - Number(award.taken_back);
      if (take <= 0) continue;
      await awardBook.reversePart(entry, take, cause, { shortfall: shortfallUnder(awardBook.policy.negativeBalancePolicy) });
      await tx.execute('update shop_order_award set taken_back = ? where order_id = ? and entry_id = ?', [target, orderId, award.entry_id]);
      if (award.member_id === books.memberId) memberTakenBack += take;
    }
    return memberTakenBack;
  }

  /** The transaction, the idempotency record, then the events of every touched account once committed. */
  private async run<T>(
    actor: Actor,
    operation: string,
    input: { idempotencyKey: string },
    revive: (json: any) => T,
    work: (tx: EntityManager, books: Books) => Promise<T>,
  ): Promise<T> {
    let books: Books | undefined;
    const { idempotencyKey, ...rest } = input;
    const result = await transaction(this.orm, (tx) => {
      const attempt = new Books(tx, actor.programId, this.clock.now());
      books = attempt;
      return once(tx, { programId: actor.programId, key: idempotencyKey, operation, input: rest, revive }, () => work(tx, attempt));
    });
    books?.publish(this.events);
    return result;
  }
}

/**
 * The accounts one order write touches, each opened (locked) once: the order's member first,
 * then referrers as their awards come up. Collects what was written, to publish after commit.
 */
class Books {
  private readonly byMember = new Map<string, AccountBook>();
  private readonly others: EntryRecord[] = [];
  /** The first member opened: the order's own. */
  memberId: string | null = null;

  constructor(
    private readonly tx: EntityManager,
    private readonly programId: string,
    private readonly now: Date,
  ) {}

  async open(member: MemberRef): Promise<AccountBook> {
    const known = 'id' in member ? this.byMember.get(member.id) : undefined;
    if (known) return known;
    const book = await AccountBook.open(this.tx, this.programId, member, this.now);
    this.byMember.set(book.state.memberId, book);
    this.memberId ??= book.state.memberId;
    return book;
  }

  /** Entries written through books the Earning port opened itself (e.g. a referrer's). */
  track(entries: EntryRecord[]): void {
    this.others.push(...entries);
  }

  publish(events: EventPublisher): void {
    const seen = new Set<number>();
    const all = [...[...this.byMember.values()].flatMap((b) => b.written), ...this.others]
      .filter((e) => !seen.has(e.id) && seen.add(e.id))
      .sort((a, b) => a.id - b.id);
    publishBalanceChanges(events, all);
  }
}

/** Runs `work` in a transaction and rolls it back, returning what the work returned. */
async function rolledBack<T>(orm: MikroORM, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  const rollback = new Error('rollback');
  let result: T | undefined;
  try {
    await transaction(orm, async (tx) => {
      result = await work(tx);
      throw rollback;
    });
  } catch (error) {
    if (error !== rollback) throw error;
  }
  return result as T;
}

/** Finds the order, locks its member's account, then reads the order again under that lock. */
async function lockOrder(tx: EntityManager, books: Books, programId: string, orderId: string) {
  const [found] = await tx.execute('select member_id from shop_order where program_id = ? and order_id = ?', [programId, orderId]);
  if (!found) throw notFound('Order', { orderId });
  const book = await books.open({ id: found.member_id });
  const [row] = await tx.execute('select * from shop_order where program_id = ? and order_id = ? for update', [programId, orderId]);
  return { row, book };
}

async function loadProgram(tx: EntityManager, programId: string, order: CheckedOrder): Promise<CheckoutProgram> {
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

/**
 * The quote for `requested` points (or the most allowed). A frozen member may not spend
 * (ACCOUNT_FROZEN); asking for more than the member has is INSUFFICIENT_POINTS; more than the
 * order accepts (the share cap, or the eligible amount) is BAD_USER_INPUT.
 */
function quoteFor(book: AccountBook, program: CheckoutProgram, order: CheckedOrder, requested?: number): CheckoutQuote {
  if (requested) book.assertActive();
  const spendable = spendableOf(book);
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
const spendableOf = (book: AccountBook) => (book.state.memberStatus === MemberStatus.FROZEN ? 0 : book.state.available);

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
  tx: EntityManager,
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

async function loadOrder(em: EntityManager, programId: string, by: { id: string }): Promise<OrderRecord> {
  const [row] = await em.execute('select * from shop_order where id = ? and program_id = ?', [by.id, programId]);
  if (!row) throw notFound('Order', by);
  const [lines, awards, refunds] = await Promise.all([
    em.execute('select * from shop_order_line where order_id = ? order by line_index', [row.id]),
    em.execute('select * from shop_order_award where order_id = ? order by entry_id', [row.id]),
    em.execute('select * from shop_order_refund where order_id = ? order by created_at, id', [row.id]),
  ]);
  const pointsDiscountMinor = Number(row.points_redeemed) * row.point_value_minor;
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
    pointsEarned: Number(row.points_earned),
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
    awards: awards.map((a: any) => ({
      memberId: a.member_id,
      entryId: Number(a.entry_id),
      points: Number(a.points),
      takenBack: Number(a.taken_back),
    })),
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

/** The order's awards, the member's own first, then by account: a stable order to lock accounts in. */
async function loadAwards(tx: EntityManager, orderId: string): Promise<any[]> {
  return tx.execute(
    `select aw.* from shop_order_award aw join shop_order o on o.id = aw.order_id
     where aw.order_id = ? order by aw.account_id <> o.account_id, aw.account_id, aw.entry_id`,
    [orderId],
  );
}

async function loadEntry(tx: EntityManager, entryId: number, memberId: string): Promise<EntryRecord> {
  const [row] = await tx.execute(
    `select e.*, (select id from lot where source_entry_id = e.id) as lot_id from ledger_entry e where e.id = ?`,
    [entryId],
  );
  return toEntryRecord(row, memberId);
}

async function wasReversed(tx: EntityManager, entryId: number): Promise<boolean> {
  const [row] = await tx.execute('select 1 from ledger_entry where reverses_entry_id = ?', [entryId]);
  return Boolean(row);
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
function orderPaidRequest(order: RuleOrderView, sourceId: string, now: Date): EarningRequest {
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
    source: { type: 'order', id: sourceId },
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

function checkText(value: string | null | undefined, field: string, max = MAX_TEXT, required = false): string | null {
  if (value == null || value === '') {
    if (required) throw badInput(`${field} is required`, { field });
    return null;
  }
  if (typeof value !== 'string' || value.length > max || !value.trim()) {
    throw badInput(`${field} must be 1 to ${max} characters`, { field });
  }
  return value;
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
    const category = checkText(l.category, `${field}.category`);
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
  checkText(input.reason, 'reason', MAX_REASON);
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
