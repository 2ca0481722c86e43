import { BigIntType, Entity, Enum, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';

/**
 * placed → paid | cancelled; paid → cancelled | partially_refunded | refunded;
 * partially_refunded → partially_refunded | refunded. Cancelled and refunded are final.
 */
export enum OrderStatus {
  PLACED = 'placed',
  PAID = 'paid',
  CANCELLED = 'cancelled',
  PARTIALLY_REFUNDED = 'partially_refunded',
  REFUNDED = 'refunded',
}

/**
 * What the member gets for an order (T4): points (redeem some, earn by the rules) or their
 * tier's discount instead (no points redeemed, none earned).
 */
export enum OrderBenefit {
  POINTS = 'points',
  TIER_DISCOUNT = 'tier_discount',
}

/** A shop's order as the loyalty program sees it: the points it redeemed and earned, or the tier discount it took. */
@Entity({ tableName: 'shop_order' })
@Unique({ properties: ['programId', 'orderId'] })
export class ShopOrder {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  programId!: string;

  /** The shop's own order id. */
  @Property({ type: 'text' })
  orderId!: string;

  @Property({ type: 'uuid' })
  memberId!: string;

  @Property({ type: 'uuid' })
  accountId!: string;

  @Enum({ items: () => OrderStatus, nativeEnumName: 'order_status' })
  status!: OrderStatus;

  @Property({ type: 'text' })
  currency!: string;

  @Property({ type: new BigIntType('number') })
  deliveryMinor!: number;

  @Property({ type: new BigIntType('number') })
  deliveryPointsDiscountMinor: number = 0;

  /** Lines net of the shop's discounts and the tier discount, plus delivery less its tier discount, before points. */
  @Property({ type: new BigIntType('number') })
  totalMinor!: number;

  @Enum({ items: () => OrderBenefit, nativeEnumName: 'order_benefit' })
  benefit: OrderBenefit = OrderBenefit.POINTS;

  /** With the tier discount: the tier and its percent when the order was placed. */
  @Property({ type: 'text', nullable: true })
  tierCode: string | null = null;

  @Property({ type: 'decimal', precision: 5, scale: 2, nullable: true })
  tierDiscountPercent: string | null = null;

  /** Delivery's share of the tier discount (when the program lets delivery be discounted). */
  @Property({ type: new BigIntType('number') })
  deliveryTierDiscountMinor: number = 0;

  @Property({ type: 'text', nullable: true })
  paymentMethod: string | null = null;

  @Property({ type: 'text', nullable: true })
  channel: string | null = null;

  @Property({ type: 'text', nullable: true })
  shopCode: string | null = null;

  @Property({ type: 'integer' })
  pointValueMinor!: number;

  @Property({ type: new BigIntType('number') })
  pointsRedeemed!: number;

  @Property({ type: new BigIntType('number') })
  pointsReturned: number = 0;

  /** What paying the order added to the member's cumulative spend; a cancel or return takes it back. */
  @Property({ type: new BigIntType('number') })
  spendAddedMinor: number = 0;

  @Property({ type: 'uuid', nullable: true })
  authorizationId: string | null = null;

  @Property({ type: new BigIntType('number'), nullable: true })
  captureEntryId: number | null = null;

  @Property({ type: 'timestamptz' })
  placedAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  paidAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  cancelledAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  refundedAt: Date | null = null;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;
}

/** One line of an order with its share of the points (or tier) discount and of the earning base. */
@Entity({ tableName: 'shop_order_line' })
export class ShopOrderLine {
  @PrimaryKey({ type: 'uuid' })
  orderId!: string;

  @PrimaryKey({ type: 'integer' })
  lineIndex!: number;

  @Property({ type: 'text' })
  sku!: string;

  @Property({ type: 'text', nullable: true })
  category: string | null = null;

  @Property({ type: new BigIntType('number') })
  unitPriceMinor!: number;

  @Property({ type: 'integer' })
  quantity!: number;

  @Property({ type: 'boolean' })
  onSale!: boolean;

  @Property({ type: 'boolean' })
  giftCard!: boolean;

  @Property({ type: new BigIntType('number') })
  discountMinor!: number;

  /** Price × quantity less the shop's discounts and the tier discount: the line's money before points. */
  @Property({ type: new BigIntType('number') })
  netMinor!: number;

  @Property({ type: new BigIntType('number') })
  pointsDiscountMinor!: number;

  /** The line's share of the member's tier discount (an order takes it or points, never both). */
  @Property({ type: new BigIntType('number') })
  tierDiscountMinor: number = 0;

  @Property({ type: new BigIntType('number') })
  earnBaseMinor!: number;

  @Property({ type: 'integer' })
  refundedQuantity: number = 0;
}

/** Points the rules awarded for an order (to the member or a referrer) and how much was taken back. */
@Entity({ tableName: 'shop_order_award' })
export class ShopOrderAward {
  @PrimaryKey({ type: 'uuid' })
  orderId!: string;

  @PrimaryKey({ type: new BigIntType('number') })
  entryId!: number;

  @Property({ type: 'uuid' })
  accountId!: string;

  @Property({ type: 'uuid' })
  memberId!: string;

  @Property({ type: new BigIntType('number') })
  points!: number;

  @Property({ type: new BigIntType('number') })
  takenBack: number = 0;

  /** Null for the member's own award; N for the referrer N levels up. */
  @Property({ type: 'integer', nullable: true })
  referrerLevel: number | null = null;
}

/** One return of order lines: what came back and what the points did. */
@Entity({ tableName: 'shop_order_refund' })
export class ShopOrderRefund {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  orderId!: string;

  @Property({ type: 'jsonb' })
  lines!: Array<{ lineIndex: number; sku: string; quantity: number }>;

  @Property({ type: new BigIntType('number') })
  pointsReturned!: number;

  @Property({ type: new BigIntType('number') })
  pointsTakenBack!: number;

  @Property({ type: 'text', nullable: true })
  reason: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}
