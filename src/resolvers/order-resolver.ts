import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../graphql/context';
import { Role } from '../graphql/context';
import { toMemberRef } from '../graphql/types/common';
import {
  CancelOrderInput, CheckoutQuote, Order, OrderInput, OrderResult, PayOrderInput, PlaceOrderInput, RefundOrderLinesInput,
  RefundOrderLinesResult,
} from '../graphql/types/orders';
import type { AttributionResult } from '../graphql/types/referrals';
import type { OrderRecord, OrderResult as OrderResultRecord } from '../services/orders';
import { toAccount, toAwardPart } from './mappers';
import { requestContext, writerContext } from './scope';

const KEYS = [Role.ADMIN, Role.SERVER];

const toOrder = (o: OrderRecord): Order => ({
  ...o,
  awards: o.awards.map((a) => ({
    ...a,
    entryId: String(a.entryId),
    breakdown: a.breakdown.map(toAwardPart),
  })),
});

const toResult = (r: OrderResultRecord, programId: string) => ({
  order: toOrder(r.order),
  account: toAccount(r.account, programId),
  referral: (r.referral ?? null) as AttributionResult | null,
});

@Resolver()
export class OrderResolver {
  @Authorized(...KEYS)
  @Query(() => CheckoutQuote, {
    description: 'Points the member may spend on this order (share cap, exclusions, balance), their per-line split, and the points it would earn; beside them the member\'s tier discount instead of points (tierDiscount), split the same way. Writes nothing.',
  })
  async checkoutQuote(
    @Arg('order') order: OrderInput,
    @Arg('points', () => Int, { nullable: true, description: 'Points to split; default the most allowed.' }) points: number | undefined,
    @Ctx() ctx: Context,
  ): Promise<CheckoutQuote> {
    const quote = await ctx.services.orders.checkoutQuote(requestContext(ctx), { order: { ...order, member: toMemberRef(order.member) }, points });
    return quote as CheckoutQuote;
  }

  @Authorized(...KEYS)
  @Query(() => Order, { nullable: true, description: 'An order by the shop\'s order id.' })
  async order(@Arg('orderId') orderId: string, @Ctx() ctx: Context): Promise<Order | null> {
    const order = await ctx.services.orders.getOrder(requestContext(ctx), orderId);
    return order && toOrder(order);
  }

  @Authorized(...KEYS)
  @Mutation(() => OrderResult, {
    description: 'Records the order and reserves the points paying for it until payOrder or cancelOrder (7 days at most); or, with benefit TIER_DISCOUNT, records it with the member\'s tier discount and no points.',
  })
  async placeOrder(@Arg('input') input: PlaceOrderInput, @Ctx() ctx: Context) {
    const rc = writerContext(ctx);
    return toResult(await ctx.services.orders.placeOrder(rc, { ...input, member: toMemberRef(input.member) }), rc.programId);
  }

  @Authorized(...KEYS)
  @Mutation(() => OrderResult, { description: 'Spends the reserved points and awards what the rules give for the paid order (nothing for an order with the tier discount).' })
  async payOrder(@Arg('input') input: PayOrderInput, @Ctx() ctx: Context) {
    const rc = writerContext(ctx);
    return toResult(await ctx.services.orders.payOrder(rc, input), rc.programId);
  }

  @Authorized(...KEYS)
  @Mutation(() => OrderResult, { description: 'Gives the order\'s points back and takes back what it earned (the program\'s negativeBalancePolicy decides about points already spent).' })
  async cancelOrder(@Arg('input') input: CancelOrderInput, @Ctx() ctx: Context) {
    const rc = writerContext(ctx);
    return toResult(await ctx.services.orders.cancelOrder(rc, input), rc.programId);
  }

  @Authorized(...KEYS)
  @Mutation(() => RefundOrderLinesResult, { description: 'Returns units of a paid order: their points discount comes back, a proportional share of what the order earned is taken back.' })
  async refundOrderLines(@Arg('input') input: RefundOrderLinesInput, @Ctx() ctx: Context) {
    const rc = writerContext(ctx);
    const r = await ctx.services.orders.refundOrderLines(rc, input);
    return { ...toResult(r, rc.programId), refund: r.refund };
  }
}
