import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ArrayMaxSize, ArrayMinSize, IsEnum, IsInt, IsOptional, Length, Matches, Max, Min, ValidateNested } from 'class-validator';
import { SafeIntResolver } from 'graphql-scalars';
import { OrderBenefit, OrderStatus } from '../../entities/order';
import { MAX_POINTS } from '../../services/ledger';
import { MemberRefInput } from './common';
import { Account } from './ledger';
import { AttributionResult } from './referrals';
import { AwardPart } from './rules';

registerEnumType(OrderStatus, {
  name: 'OrderStatus',
  description: 'PLACED → PAID | CANCELLED; PAID → CANCELLED | PARTIALLY_REFUNDED | REFUNDED; PARTIALLY_REFUNDED → REFUNDED.',
});

registerEnumType(OrderBenefit, {
  name: 'OrderBenefit',
  description: 'What the member gets for an order: points, or their tier\'s discount instead (never both).',
  valuesConfig: {
    POINTS: { description: 'Pay with points if any, and earn what the rules give.' },
    TIER_DISCOUNT: { description: 'The discount of the member\'s tier (CheckoutQuote.tierDiscount): no points redeemed, none earned.' },
  },
});

export enum RedemptionLimit {
  BALANCE = 'balance',
  SHARE = 'share',
  AMOUNT = 'amount',
}
registerEnumType(RedemptionLimit, {
  name: 'RedemptionLimit',
  description: 'What limits the points an order accepts.',
  valuesConfig: {
    BALANCE: { description: 'The member\'s available points.' },
    SHARE: { description: 'The program\'s maxRedeemPercent of the eligible amount.' },
    AMOUNT: { description: 'The eligible amount itself.' },
  },
});

export enum IneligibleReason {
  ON_SALE = 'on_sale',
  GIFT_CARD = 'gift_card',
}
registerEnumType(IneligibleReason, { name: 'IneligibleReason', description: 'Why points cannot pay for a line.' });

const MONEY_MAX = 1e13;

@InputType({ description: 'One line of an order. Money in minor units of the program\'s currency.' })
export class OrderItemInput {
  @Field() @Length(1, 200) sku!: string;
  @Field({ nullable: true }) @IsOptional() @Length(1, 200) category?: string;
  @Field(() => SafeIntResolver, { description: 'Price of one unit.' }) @IsInt() @Min(0) @Max(MONEY_MAX) unitPriceMinor!: number;
  @Field(() => Int) @IsInt() @Min(1) @Max(1_000_000) quantity!: number;
  @Field({ nullable: true, description: 'Sold at a sale price; the program may exclude it from paying with points.' })
  @IsOptional()
  onSale?: boolean;
  @Field(() => SafeIntResolver, { nullable: true, description: 'The shop\'s own discounts on the whole line (coupons, tier discount).' })
  @IsOptional() @IsInt() @Min(0) @Max(MONEY_MAX)
  discountMinor?: number;
  @Field({ nullable: true, description: 'A gift card; the program may exclude it from paying with points.' })
  @IsOptional()
  giftCard?: boolean;
}

@InputType({ description: 'An order as the storefront describes it.' })
export class OrderInput {
  @Field({ nullable: true, description: 'The shop\'s order id (unique in the program); required to place the order.' })
  @IsOptional() @Length(1, 200)
  orderId?: string;
  @Field(() => MemberRefInput) @ValidateNested() member!: MemberRefInput;
  @Field(() => [OrderItemInput]) @ArrayMinSize(1) @ArrayMaxSize(500) @ValidateNested() lines!: OrderItemInput[];
  @Field(() => SafeIntResolver, { nullable: true, description: 'Delivery price.' }) @IsOptional() @IsInt() @Min(0) @Max(MONEY_MAX)
  deliveryMinor?: number;
  @Field({ nullable: true, description: 'e.g. card_online, cash; rules may reward a method.' }) @IsOptional() @Length(1, 50)
  paymentMethod?: string;
  @Field({ nullable: true, description: 'e.g. web, app, pos.' }) @IsOptional() @Length(1, 50) channel?: string;
  @Field({ nullable: true, description: 'The shop or point of sale.' }) @IsOptional() @Length(1, 100) shopCode?: string;
  @Field({ nullable: true, description: 'If given, must be the program\'s currency.' }) @IsOptional() @Matches(/^[A-Z]{3}$/)
  currency?: string;
  @Field({ nullable: true, description: 'A referral code: placeOrder binds the buyer to its owner (unless refused); a quote only checks it.' })
  @IsOptional() @Length(1, 32)
  referralCode?: string;
}

@InputType()
export class PlaceOrderInput extends OrderInput {
  @Field({ description: 'The shop\'s order id: one order per id.' }) @Length(1, 200) declare orderId: string;
  @Field(() => Int, { nullable: true, description: 'Points to pay with, at most the quote\'s maxPoints. Default 0; none with TIER_DISCOUNT.' })
  @IsOptional() @IsInt() @Min(0) @Max(MAX_POINTS)
  points?: number;
  @Field(() => OrderBenefit, {
    nullable: true,
    description: 'POINTS (default), or TIER_DISCOUNT: the member\'s tier discount as CheckoutQuote.tierDiscount splits it, no points redeemed or earned. A member whose tier gives no discount is BAD_USER_INPUT.',
  })
  @IsOptional() @IsEnum(OrderBenefit)
  benefit?: OrderBenefit;
  @Field({ description: 'Retries with the same key and input return the first result; other input is IDEMPOTENCY_CONFLICT.' })
  @Length(1, 200)
  idempotencyKey!: string;
}

@InputType()
class OrderActionInput {
  @Field({ description: 'The shop\'s order id.' }) @Length(1, 200) orderId!: string;
  @Field({ nullable: true, description: 'Shown in the member\'s history.' }) @IsOptional() @Length(1, 500) reason?: string;
  @Field() @Length(1, 200) idempotencyKey!: string;
}

@InputType()
export class PayOrderInput extends OrderActionInput {}

@InputType()
export class CancelOrderInput extends OrderActionInput {}

@InputType({ description: 'Units to return from one line: name it by lineIndex, or by sku when only one line has it.' })
export class ReturnedLineInput {
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(0) @Max(499) lineIndex?: number;
  @Field({ nullable: true }) @IsOptional() @Length(1, 200) sku?: string;
  @Field(() => Int) @IsInt() @Min(1) @Max(1_000_000) quantity!: number;
}

@InputType()
export class RefundOrderLinesInput extends OrderActionInput {
  @Field(() => [ReturnedLineInput]) @ArrayMinSize(1) @ArrayMaxSize(500) @ValidateNested() lines!: ReturnedLineInput[];
}

@ObjectType({ description: 'A line of a checkout quote: its share of the points discount for the fiscal receipt.' })
export class QuoteLine {
  @Field(() => Int) index!: number;
  @Field() sku!: string;
  @Field(() => SafeIntResolver, { description: 'Price × quantity less the shop\'s discounts.' }) netMinor!: number;
  @Field({ description: 'Points may pay for this line.' }) redeemable!: boolean;
  @Field(() => IneligibleReason, { nullable: true }) ineligibleReason!: IneligibleReason | null;
  @Field(() => SafeIntResolver, { description: 'Points discount on this line; the lines\' discounts add up exactly.' })
  discountMinor!: number;
  @Field(() => SafeIntResolver, { description: 'Left to pay with money.' }) payableMinor!: number;
  @Field(() => SafeIntResolver, { description: 'Money the line brings to earning rules.' }) earnBaseMinor!: number;
}

@ObjectType()
export class DeliveryShare {
  @Field(() => SafeIntResolver) priceMinor!: number;
  @Field({ description: 'Points may pay for delivery (program setting deliveryEligible).' }) redeemable!: boolean;
  @Field(() => SafeIntResolver) discountMinor!: number;
  @Field(() => SafeIntResolver) payableMinor!: number;
}

@ObjectType({ description: 'A line\'s share of the tier discount, for the fiscal receipt.' })
export class TierDiscountLine {
  @Field(() => Int) index!: number;
  @Field() sku!: string;
  @Field(() => SafeIntResolver, { description: '0 on a line points may not pay for (sale items, gift cards).' }) discountMinor!: number;
  @Field(() => SafeIntResolver, { description: 'Left to pay with money.' }) payableMinor!: number;
}

@ObjectType()
export class TierDiscountDelivery {
  @Field(() => SafeIntResolver) priceMinor!: number;
  @Field(() => SafeIntResolver, { description: '0 unless the program lets delivery be paid with points (deliveryEligible).' }) discountMinor!: number;
  @Field(() => SafeIntResolver) payableMinor!: number;
}

@ObjectType({
  description: 'The other option at checkout (T4): the member\'s tier discount instead of points — percent of the amount points may pay for, rounded down, split over those lines like points. placeOrder(benefit: TIER_DISCOUNT) takes it.',
})
export class TierDiscountOption {
  @Field({ description: 'The member\'s tier.' }) tierCode!: string;
  @Field(() => Float, { description: 'The tier\'s discount percent.' }) percent!: number;
  @Field(() => SafeIntResolver, { description: 'The amount the percent applies to: eligible lines (and delivery when allowed).' })
  eligibleMinor!: number;
  @Field(() => SafeIntResolver, { description: 'The discount; the lines\' (and delivery\'s) shares add up to it exactly.' }) totalDiscountMinor!: number;
  @Field(() => SafeIntResolver, { description: 'Left to pay with money.' }) totalPayableMinor!: number;
  @Field(() => [TierDiscountLine]) lines!: TierDiscountLine[];
  @Field(() => TierDiscountDelivery, { nullable: true }) delivery!: TierDiscountDelivery | null;
  @Field(() => SafeIntResolver, { description: 'Always 0: an order with the tier discount earns no points.' }) pointsToEarn!: number;
}

@ObjectType({ description: 'What a member may spend on an order, how it lands on the receipt, and what the order would earn.' })
export class CheckoutQuote {
  @Field(() => ID) memberId!: string;
  @Field() currency!: string;
  @Field(() => Int) pointValueMinor!: number;
  @Field(() => Int) maxRedeemPercent!: number;
  @Field(() => SafeIntResolver, { description: 'Points the member can spend now (0 when frozen).' }) availablePoints!: number;
  @Field(() => SafeIntResolver, { description: 'The most points this order accepts from this member.' }) maxPoints!: number;
  @Field(() => RedemptionLimit) limitedBy!: RedemptionLimit;
  @Field(() => SafeIntResolver, { description: 'The amount points may pay for: eligible lines (and delivery when allowed).' })
  eligibleMinor!: number;
  @Field(() => SafeIntResolver, { description: 'maxRedeemPercent of eligibleMinor.' }) capMinor!: number;
  @Field(() => SafeIntResolver, { description: 'Points the split is for: the requested points, or maxPoints.' }) points!: number;
  @Field(() => SafeIntResolver, { description: 'points × pointValueMinor.' }) totalDiscountMinor!: number;
  @Field(() => SafeIntResolver, { description: 'Lines net of the shop\'s discounts, plus delivery.' }) orderTotalMinor!: number;
  @Field(() => SafeIntResolver, { description: 'Left to pay with money.' }) totalPayableMinor!: number;
  @Field(() => [QuoteLine]) lines!: QuoteLine[];
  @Field(() => DeliveryShare, { nullable: true }) delivery!: DeliveryShare | null;
  @Field(() => SafeIntResolver, { description: 'Points the member would earn when the order is paid with `points` (a dry run of the rules).' })
  pointsToEarn!: number;
  @Field(() => TierDiscountOption, { nullable: true, description: 'The member\'s tier discount instead of points; null when their tier gives none.' })
  tierDiscount!: TierDiscountOption | null;
}

@ObjectType()
export class OrderLine {
  @Field(() => Int) index!: number;
  @Field() sku!: string;
  @Field(() => String, { nullable: true }) category!: string | null;
  @Field(() => SafeIntResolver) unitPriceMinor!: number;
  @Field(() => Int) quantity!: number;
  @Field() onSale!: boolean;
  @Field() giftCard!: boolean;
  @Field(() => SafeIntResolver, { description: 'The shop\'s own discounts.' }) discountMinor!: number;
  @Field(() => SafeIntResolver, { description: 'Price × quantity less the shop\'s discounts and the tier discount, before points.' })
  netMinor!: number;
  @Field(() => SafeIntResolver, { description: 'The line\'s share of the points discount (fiscal receipt).' }) pointsDiscountMinor!: number;
  @Field(() => SafeIntResolver, { description: 'The line\'s share of the tier discount (fiscal receipt); 0 with points.' }) tierDiscountMinor!: number;
  @Field(() => SafeIntResolver) payableMinor!: number;
  @Field(() => SafeIntResolver, { description: 'Money paid for the line that earning rules saw.' }) earnBaseMinor!: number;
  @Field(() => Int) refundedQuantity!: number;
}

@ObjectType({ description: 'Points the rules awarded for the order, to the member or a referrer: one ledger entry per beneficiary.' })
export class OrderAward {
  @Field(() => ID) memberId!: string;
  @Field(() => ID) entryId!: string;
  @Field(() => SafeIntResolver) points!: number;
  @Field(() => SafeIntResolver, {
    description: 'What cancellation or returns undid of the award: its reversing entries, including points the member had already spent that '
      + 'negativeBalancePolicy forgave (TAKE_AVAILABLE; the entry\'s reason says how many, taken after all should they come back) or booked as debt.',
  })
  takenBack!: number;
  @Field(() => [AwardPart], { description: 'Which rules and rule versions gave the points (the entry names a rule version only when one rule gave them all).' })
  breakdown!: AwardPart[];
}

@ObjectType()
export class RefundedLine {
  @Field(() => Int) lineIndex!: number;
  @Field() sku!: string;
  @Field(() => Int) quantity!: number;
}

@ObjectType({ description: 'One return of order lines.' })
export class OrderRefund {
  @Field(() => ID) id!: string;
  @Field(() => [RefundedLine]) lines!: RefundedLine[];
  @Field(() => SafeIntResolver, { description: 'Redeemed points given back.' }) pointsReturned!: number;
  @Field(() => SafeIntResolver, { description: 'What this return undid of the member\'s award (see OrderAward.takenBack: forgiven or owed points included).' })
  pointsTakenBack!: number;
  @Field(() => String, { nullable: true }) reason!: string | null;
  @Field() createdAt!: Date;
}

@ObjectType({ description: 'A shop\'s order: the points it redeemed and earned, or the tier discount it took instead.' })
export class Order {
  @Field(() => ID) id!: string;
  @Field({ description: 'The shop\'s order id.' }) orderId!: string;
  @Field(() => ID) memberId!: string;
  @Field(() => OrderStatus) status!: OrderStatus;
  @Field(() => OrderBenefit, { description: 'Points, or the member\'s tier discount instead.' }) benefit!: OrderBenefit;
  @Field() currency!: string;
  @Field(() => SafeIntResolver, { description: 'Lines net of the shop\'s discounts and the tier discount, plus delivery (less its tier discount), before points.' })
  totalMinor!: number;
  @Field(() => SafeIntResolver, { description: 'The delivery price.' }) deliveryMinor!: number;
  @Field(() => SafeIntResolver) deliveryPointsDiscountMinor!: number;
  @Field(() => String, { nullable: true, description: 'With TIER_DISCOUNT: the member\'s tier when the order was placed.' }) tierCode!: string | null;
  @Field(() => Float, { nullable: true, description: 'With TIER_DISCOUNT: the tier\'s discount percent when the order was placed.' })
  tierDiscountPercent!: number | null;
  @Field(() => SafeIntResolver, { description: 'The whole tier discount (the lines\' and delivery\'s shares); 0 with points.' }) tierDiscountMinor!: number;
  @Field(() => SafeIntResolver, { description: 'Delivery\'s share of the tier discount.' }) deliveryTierDiscountMinor!: number;
  @Field(() => Int, { description: 'The point value when the order was placed.' }) pointValueMinor!: number;
  @Field(() => SafeIntResolver) pointsRedeemed!: number;
  @Field(() => SafeIntResolver) pointsDiscountMinor!: number;
  @Field(() => SafeIntResolver, { description: 'Left to pay with money.' }) payableMinor!: number;
  @Field(() => SafeIntResolver, { description: 'Redeemed points given back (cancellation, returns).' }) pointsReturned!: number;
  @Field(() => SafeIntResolver, { description: 'Points the member earned when the order was paid.' }) pointsEarned!: number;
  @Field(() => SafeIntResolver, { description: 'What cancellation or returns undid of the member\'s award (see OrderAward.takenBack: forgiven or owed points included).' })
  pointsTakenBack!: number;
  @Field(() => String, { nullable: true }) paymentMethod!: string | null;
  @Field(() => String, { nullable: true }) channel!: string | null;
  @Field(() => String, { nullable: true }) shopCode!: string | null;
  @Field(() => ID, { nullable: true, description: 'The authorization holding the points until payment.' }) authorizationId!: string | null;
  @Field() placedAt!: Date;
  @Field(() => Date, { nullable: true }) paidAt!: Date | null;
  @Field(() => Date, { nullable: true }) cancelledAt!: Date | null;
  @Field(() => Date, { nullable: true, description: 'The latest return.' }) refundedAt!: Date | null;
  @Field() updatedAt!: Date;
  @Field(() => [OrderLine]) lines!: OrderLine[];
  @Field(() => [OrderAward]) awards!: OrderAward[];
  @Field(() => [OrderRefund]) refunds!: OrderRefund[];
}

@ObjectType({ description: 'The order after a write and the member\'s account right after it.' })
export class OrderResult {
  @Field(() => Order) order!: Order;
  @Field(() => Account) account!: Account;
  @Field(() => AttributionResult, {
    nullable: true,
    description: 'placeOrder with a referralCode: whether it bound the buyer, or why not (the order is placed either way); null otherwise.',
  })
  referral?: AttributionResult | null;
}

@ObjectType()
export class RefundOrderLinesResult extends OrderResult {
  @Field(() => OrderRefund) refund!: OrderRefund;
}
