/**
 * How a shop's backend uses the typed client (compiled by test/unit/typed-client.test.ts).
 * Every result is typed from schema.graphql: points and money are numbers, instants strings.
 */
import {
  AccruePointsDocument,
  CabinetDocument,
  MyBalanceChangesDocument,
  PayOrderDocument,
  PlaceOrderDocument,
  QuoteCheckoutDocument,
  RegisterMemberDocument,
  SignInMemberDocument,
  patronRequest,
  patronSubscriptions,
  type MyBalanceChangesSubscription,
} from '../index';
import { print } from 'graphql';

const url = 'https://loyalty.shop.example/graphql';
const serverKey = 'ptn_srv_…';

export async function checkout(customerId: string): Promise<{ token: string; payable: number }> {
  await patronRequest(url, RegisterMemberDocument, { input: { externalId: customerId, email: `${customerId}@shop.example` } }, serverKey);
  await patronRequest(
    url,
    AccruePointsDocument,
    { input: { member: { externalId: customerId }, points: 500, lifetimeDays: 30, idempotencyKey: `welcome-${customerId}` } },
    serverKey,
  );

  const lines = [{ sku: 'SKI-POLES', unitPriceMinor: 349_900, quantity: 1 }];
  const { checkoutQuote } = await patronRequest(url, QuoteCheckoutDocument, { order: { member: { externalId: customerId }, lines } }, serverKey);
  const maxPoints: number = checkoutQuote.maxPoints;

  const placed = await patronRequest(
    url,
    PlaceOrderDocument,
    { input: { orderId: 'order-1001', member: { externalId: customerId }, lines, points: maxPoints, idempotencyKey: 'place-1001' } },
    serverKey,
  );
  const paid = await patronRequest(url, PayOrderDocument, { input: { orderId: 'order-1001', idempotencyKey: 'pay-1001' } }, serverKey);
  const available: number = paid.payOrder.account.available;
  void available;

  // A token for the customer's browser: it reads and watches this member only.
  const { issueCustomerToken } = await patronRequest(url, SignInMemberDocument, { member: { externalId: customerId }, ttlSeconds: 3600 }, serverKey);
  const expiresAt: string = issueCustomerToken.expiresAt;
  void expiresAt;
  return { token: issueCustomerToken.token, payable: placed.placeOrder.order.payableMinor };
}

export async function cabinet(token: string): Promise<void> {
  const data = await patronRequest(url, CabinetDocument, { historyFirst: 10 }, token);
  const worth: number = data.me.account.availableMoney.amountMinor;
  // @ts-expect-error balances are numbers, not strings (SafeInt → number)
  const wrong: string = data.me.account.available;
  const when: string | undefined = data.ledgerEntries.edges[0]?.node.createdAt;
  void [worth, wrong, when];

  const subscriptions = patronSubscriptions(url.replace(/^http/, 'ws'), token);
  subscriptions.subscribe<MyBalanceChangesSubscription>(
    { query: print(MyBalanceChangesDocument) },
    {
      next: ({ data }) => {
        const points: number | undefined = data?.myBalance.account.available;
        console.log(points, data?.myBalance.entry.reason);
      },
      error: console.error,
      complete: () => undefined,
    },
  );
}
