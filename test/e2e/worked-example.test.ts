import { ManualClock, DAY_MS } from '../../src/services/shared';
import { startTestServer, OPERATOR_KEY, type TestServer } from '../support/server';
import {
  CheckoutQuoteDocument,
  CreateApiKeyDocument,
  CreateRuleDocument,
  PayOrderDocument,
  PlaceOrderDocument,
  RegisterShopMemberDocument,
  RulesDocument,
  RunJobDocument,
  ShopHistoryDocument,
  ShopLotsDocument,
  ShopMemberDocument,
  UpdateProgramSettingsDocument,
  VerifyLedgerDocument,
  type CreateRuleInput,
  type OrderItemInput,
  type UpsertMemberInput,
} from './generated/graphql';
import { ok } from './helpers';

/**
 * The worked example of seed 000, as written, over the public API only: a sports-goods shop
 * configured by its staff (the operator's admin key) and driven by its storefront (a server key).
 *
 * - registration: +500 points;
 * - birthday: +1 000 points that burn after 3 days;
 * - a referred customer pays an order of 1 000 → the referrer gets 50;
 * - every paid order earns 5 % in points, valid for one month (order of 10 000 → 500 points);
 * - at most 20 % of an order can be paid with points (order of 10 000 → pay 8 000, 2 000 in points).
 *
 * The steps are one story told in order: each test starts where the previous one ended, on a
 * clock the test moves (1 point = 1 ruble = 100 kopecks).
 */

const START = new Date('2027-03-01T09:00:00Z'); // noon in Moscow, the shop's time zone
const clock = new ManualClock(START);
let s: TestServer;
let storefront: string;
const admin = OPERATOR_KEY;

/** The shop's rules, as its staff would type them into GraphiQL. */
const SHOP_RULES: CreateRuleInput[] = [
  {
    name: 'Welcome bonus',
    status: 'ACTIVE',
    definition: { trigger: 'registration', oncePerMember: true, actions: [{ code: 'fixedPoints', args: { points: 500 } }] },
  },
  {
    name: 'Birthday gift',
    status: 'ACTIVE',
    definition: { trigger: 'birthday', lifetimeDays: 3, actions: [{ code: 'fixedPoints', args: { points: 1000 } }] },
  },
  {
    name: 'Referrer reward',
    status: 'ACTIVE',
    definition: {
      trigger: 'order_paid',
      condition: { condition: 'orderTotal', args: { min: 100_000 } },
      actions: [{ code: 'rewardReferrer', args: { level: 1, points: 50 } }],
    },
  },
  {
    name: '5 % back',
    status: 'ACTIVE',
    definition: { trigger: 'order_paid', lifetimeDays: 30, actions: [{ code: 'percentOfAmount', args: { percent: 5 } }] },
  },
];

beforeAll(async () => {
  s = await startTestServer({ clock });
});
afterAll(() => s.close());

const register = async (input: UpsertMemberInput) => ok(await s.request(RegisterShopMemberDocument, { input }, storefront)).upsertMember;
const memberByExternalId = async (externalId: string) => ok(await s.request(ShopMemberDocument, { externalId }, storefront)).member!;
const runJob = async (name: string) => ok(await s.request(RunJobDocument, { name }, admin)).runJob;
const lotsOf = async (externalId: string) => ok(await s.request(ShopLotsDocument, { member: { externalId } }, storefront)).lots.nodes;
const historyOf = async (externalId: string) => ok(await s.request(ShopHistoryDocument, { member: { externalId }, first: 50 }, storefront)).ledgerEntries.nodes;

/** Places an order without points and pays it; returns the paid order and the buyer's account. */
async function buyWithMoney(externalId: string, orderId: string, lines: OrderItemInput[]) {
  ok(await s.request(PlaceOrderDocument, { input: { orderId, member: { externalId }, lines, idempotencyKey: `place-${orderId}` } }, storefront));
  return ok(await s.request(PayOrderDocument, { input: { orderId, idempotencyKey: `pay-${orderId}` } }, storefront)).payOrder;
}

test('the staff configure the shop through the API', async () => {
  const program = ok(await s.request(UpdateProgramSettingsDocument, {
    input: {
      name: 'Sports shop',
      currency: 'RUB',
      pointValueMinor: 100,
      maxRedeemPercent: 20,
      timeZone: 'Europe/Moscow',
      pendingDays: 0,
      birthdayDaysBefore: 0,
      earnOnPointsPaidPart: false,
    },
  }, admin)).updateProgramSettings;
  expect(program).toMatchObject({ name: 'Sports shop', currency: 'RUB', pointValueMinor: 100, maxRedeemPercent: 20, timeZone: 'Europe/Moscow', defaultLifetimeDays: null });

  for (const rule of SHOP_RULES) {
    ok(await s.request(CreateRuleDocument, { input: rule }, admin));
    clock.advance(1000); // `rules` lists oldest first; a clock standing still would tie them
  }
  const rules = ok(await s.request(RulesDocument, { filter: { status: 'ACTIVE' } }, admin)).rules;
  expect(rules.map((r) => [r.name, r.definition.trigger, r.definition.lifetimeDays])).toEqual([
    ['Welcome bonus', 'registration', null],
    ['Birthday gift', 'birthday', 3],
    ['Referrer reward', 'order_paid', null],
    ['5 % back', 'order_paid', 30],
  ]);

  storefront = ok(await s.request(CreateApiKeyDocument, { input: { name: 'storefront', role: 'SERVER' } }, admin)).createApiKey.secret;
});

test('registration: +500', async () => {
  const anna = await register({ externalId: 'anna', name: 'Anna', email: 'anna@example.com', phone: '+7 912 000-00-01' });
  expect(anna.created).toBe(true);
  expect(anna.member.account).toMatchObject({ available: 500, pending: 0, lifetimeEarned: 500, availableMoney: { amountMinor: 50_000, currency: 'RUB' } });
  const [welcome] = await historyOf('anna');
  expect(welcome).toMatchObject({ kind: 'ACCRUAL', amount: 500, causeType: 'RULE', rule: { name: 'Welcome bonus', version: 1 } });

  // Registering again (the storefront retries) updates the member and awards nothing more.
  const again = await register({ externalId: 'anna', name: 'Anna' });
  expect(again.created).toBe(false);
  expect(again.member.account.available).toBe(500);
});

test('birthday: +1 000 on the day, burnt 3 days later', async () => {
  ok(await s.request(RegisterShopMemberDocument, { input: { externalId: 'anna', birthday: '1994-03-04' } }, storefront));
  // Nothing on the eve of the birthday.
  clock.set(new Date('2027-03-03T09:00:00Z'));
  expect((await runJob('birthdays')).result).toMatchObject({ raised: 0 });

  const birthdayMorning = new Date('2027-03-04T06:00:00Z'); // 09:00 in Moscow
  clock.set(birthdayMorning);
  expect(await runJob('birthdays')).toMatchObject({ job: 'birthdays', skipped: false, result: { raised: 1, points: 1000 } });
  expect((await memberByExternalId('anna')).account).toMatchObject({ available: 1500, lifetimeEarned: 1500 });
  // The job is idempotent: a second run the same day raises nothing.
  expect((await runJob('birthdays')).result).toMatchObject({ raised: 0 });

  const [gift] = await historyOf('anna');
  expect(gift).toMatchObject({ kind: 'ACCRUAL', amount: 1000, rule: { name: 'Birthday gift' } });
  const giftLot = (await lotsOf('anna')).find((lot) => lot.id === gift.lotId)!;
  expect(new Date(giftLot.expiresAt!).getTime()).toBe(birthdayMorning.getTime() + 3 * DAY_MS);

  // Two days later the gift is still there.
  clock.advance(2 * DAY_MS);
  await runJob('expire-lots');
  expect((await memberByExternalId('anna')).account.available).toBe(1500);

  // Past the third day it burns; the welcome points stay.
  clock.set(new Date(birthdayMorning.getTime() + 3 * DAY_MS + 60_000));
  expect((await runJob('expire-lots')).skipped).toBe(false);
  expect((await memberByExternalId('anna')).account).toMatchObject({ available: 500, lifetimeExpired: 1000 });
  const [expiry] = await historyOf('anna');
  expect(expiry).toMatchObject({ kind: 'EXPIRY', amount: -1000, balanceAfter: 500, causeType: 'JOB' });
});

test('a referred customer pays an order of 1 000 → the referrer gets 50', async () => {
  const boris = await register({ externalId: 'boris', name: 'Boris', email: 'boris@example.com', referrerExternalId: 'anna' });
  const anna = await memberByExternalId('anna');
  expect(boris.member).toMatchObject({ referrerId: anna.id, account: { available: 500 } });

  const { order, account } = await buyWithMoney('boris', 'order-boris-1', [{ sku: 'BALL-5', category: 'balls', unitPriceMinor: 100_000, quantity: 1 }]);
  expect(order).toMatchObject({ status: 'PAID', totalMinor: 100_000, payableMinor: 100_000, pointsRedeemed: 0 });
  // Boris earns his own 5 %; Anna, who brought him, gets exactly 50.
  expect(order.pointsEarned).toBe(50);
  expect(account.available).toBe(550);
  expect(order.awards.map((a) => [a.memberId, a.points]).sort()).toEqual([[anna.id, 50], [boris.member.id, 50]].sort());
  expect((await memberByExternalId('anna')).account.available).toBe(550);
  const [reward] = await historyOf('anna');
  expect(reward).toMatchObject({ kind: 'ACCRUAL', amount: 50, rule: { name: 'Referrer reward' } });
});

test('an order of 10 000 earns 500 points, valid for a month', async () => {
  const paidAt = clock.now();
  const { order, account } = await buyWithMoney('anna', 'order-anna-1', [
    { sku: 'TREADMILL-BELT', category: 'fitness', unitPriceMinor: 600_000, quantity: 1 },
    { sku: 'DUMBBELL-5KG', category: 'fitness', unitPriceMinor: 200_000, quantity: 2 },
  ]);
  expect(order).toMatchObject({ status: 'PAID', totalMinor: 1_000_000, pointsEarned: 500 });
  expect(account.available).toBe(1050);

  const [cashback] = await historyOf('anna');
  expect(cashback).toMatchObject({ kind: 'ACCRUAL', amount: 500, causeType: 'RULE', rule: { name: '5 % back' } });
  const lot = (await lotsOf('anna')).find((l) => l.id === cashback.lotId)!;
  expect(lot).toMatchObject({ amount: 500, remaining: 500, status: 'AVAILABLE' });
  expect(new Date(lot.expiresAt!).getTime()).toBe(paidAt.getTime() + 30 * DAY_MS);

  // A month later, unspent, they burn; the welcome and referral points never expire.
  clock.set(new Date(paidAt.getTime() + 30 * DAY_MS + 60_000));
  await runJob('expire-lots');
  expect((await memberByExternalId('anna')).account).toMatchObject({ available: 550, lifetimeExpired: 1500 });
  expect((await lotsOf('anna')).find((l) => l.id === cashback.lotId)).toMatchObject({ remaining: 0, status: 'EXPIRED' });
});

test('at most 20 % of an order of 10 000 is paid with points: 8 000 in money, 2 000 in points', async () => {
  // Vera registers and buys a bike for 50 000: 500 + 2 500 = 3 000 points, more than the cap.
  await register({ externalId: 'vera', name: 'Vera', phone: '+7 912 000-00-03' });
  const bike = await buyWithMoney('vera', 'order-vera-1', [{ sku: 'BIKE-MTB', category: 'bikes', unitPriceMinor: 5_000_000, quantity: 1 }]);
  expect(bike.account.available).toBe(3000);

  const lines: OrderItemInput[] = [
    { sku: 'TENT-3P', category: 'camping', unitPriceMinor: 549_997, quantity: 1 },
    { sku: 'SLEEPING-BAG', category: 'camping', unitPriceMinor: 299_999, quantity: 1 },
    { sku: 'HEADLAMP', category: 'camping', unitPriceMinor: 75_002, quantity: 2 },
  ];
  const order = { orderId: 'order-vera-2', member: { externalId: 'vera' }, lines };
  const quote = ok(await s.request(CheckoutQuoteDocument, { order }, storefront)).checkoutQuote;
  expect(quote).toMatchObject({
    maxRedeemPercent: 20,
    availablePoints: 3000,
    orderTotalMinor: 1_000_000,
    maxPoints: 2000,
    limitedBy: 'SHARE',
    points: 2000,
    totalDiscountMinor: 200_000,
    totalPayableMinor: 800_000,
    pointsToEarn: 400,
  });
  // The 2 000 rubles land on the receipt's lines in proportion, adding up to the kopeck.
  const discounts = quote.lines.map((l) => l.discountMinor);
  expect(discounts.reduce((a, b) => a + b, 0)).toBe(200_000);
  for (const line of quote.lines) {
    const share = (line.netMinor * 200_000) / 1_000_000;
    expect(line.discountMinor).toBeGreaterThanOrEqual(Math.floor(share));
    expect(line.discountMinor).toBeLessThanOrEqual(Math.ceil(share));
    expect(line.payableMinor).toBe(line.netMinor - line.discountMinor);
  }
  expect(discounts).toEqual([109_999, 60_000, 30_001]);

  const placed = ok(await s.request(PlaceOrderDocument, { input: { ...order, points: 2000, idempotencyKey: 'place-order-vera-2' } }, storefront)).placeOrder;
  expect(placed.order).toMatchObject({ status: 'PLACED', pointsRedeemed: 2000, pointsDiscountMinor: 200_000, payableMinor: 800_000 });
  expect(placed.order.lines.map((l) => l.pointsDiscountMinor)).toEqual(discounts);
  expect(placed.account).toMatchObject({ available: 1000, reserved: 2000 });

  const paid = ok(await s.request(PayOrderDocument, { input: { orderId: 'order-vera-2', idempotencyKey: 'pay-order-vera-2' } }, storefront)).payOrder;
  // 5 % of the 8 000 paid with money, not of the 10 000.
  expect(paid.order).toMatchObject({ status: 'PAID', pointsRedeemed: 2000, pointsEarned: 400 });
  expect(paid.account).toMatchObject({ available: 1400, reserved: 0, lifetimeRedeemed: 2000, lifetimeEarned: 3400 });
});

test('the books balance', async () => {
  const verification = ok(await s.request(VerifyLedgerDocument, {}, admin)).verifyLedger;
  expect(verification).toMatchObject({ ok: true, discrepancies: [], accountsChecked: 3 });
});
