import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  CabinetDocument,
  PayOrderDocument,
  PlaceOrderDocument,
  RedeemPointsDocument,
  RegisterMemberDocument,
  SignInMemberDocument,
  patronRequest,
  type CabinetQuery,
} from '../../client/index';
import { buildCabinet } from '../../examples/cabinet/build';
import { serveCabinet, type CabinetServer } from '../../examples/cabinet/serve';
import { accrue, createMember, createProgram, ok, uniqueKey, type ProgramFixture } from '../e2e/helpers';
import { AccrueDocument, SaveTierStructureDocument, type TierStructureInput } from '../e2e/generated/graphql';
import { startTestServer, type TestServer } from '../support/server';
import { foreignRequests, launchChromium, screenshot } from './browser';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync } from 'node:fs';

/**
 * The customer cabinet (examples/cabinet) in headless Chromium against the real server: it is
 * served from an origin of its own (the shop's), so CORS and WebSocket origins are real too.
 */
/** The part of the DOM the functions below use; they run in the page, not in Node. */
declare const document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };
declare const navigator: { clipboard: { readText(): Promise<string> } };

/** Spend over 12 rolling months: Silver from 1 000 ₽, Gold from 5 000 ₽ (thresholds in kopecks). */
const TIERS: TierStructureInput = {
  metric: 'SPEND',
  window: 'ROLLING_MONTHS',
  windowMonths: 12,
  downgradePolicy: 'TO_EARNED',
  graceDays: 30,
  levels: [
    { code: 'standard', name: 'Standard', threshold: 0 },
    { code: 'silver', name: 'Silver', threshold: 100_000, earnMultiplier: 1.5, discountPercent: 3, perks: ['free wrapping'] },
    { code: 'gold', name: 'Gold', threshold: 500_000, earnMultiplier: 2, discountPercent: 7, perks: ['free wrapping', 'priority service'] },
  ],
};

let s: TestServer;
let cabinet: CabinetServer;
let browser: Browser;
let context: BrowserContext;
let p: ProgramFixture;
let patronOrigin: string;

beforeAll(async () => {
  browser = await launchChromium();
  const dir = await buildCabinet(mkdtempSync(path.join(os.tmpdir(), 'patron-cabinet-')));
  cabinet = await serveCabinet({ dir, patronUrl: () => s.url });
  s = await startTestServer({ env: { PATRON_CORS_ORIGINS: cabinet.origin } });
  patronOrigin = new URL(s.url).origin;
  p = await createProgram(s);
  ok(await s.request(SaveTierStructureDocument, { input: TIERS }, p.adminKey));
  context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC', viewport: { width: 1100, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cabinet.origin });
}, 120_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await cabinet?.close();
  await s?.close();
});

const numberAt = async (page: Page, testId: string) => Number(await page.getByTestId(testId).first().getAttribute('data-value'));

/** Waits until the page shows `available` points, without reloading. */
async function untilAvailable(page: Page, available: number, timeout = 10_000) {
  await page.waitForFunction((v) => document.querySelector('[data-testid="available"]')?.getAttribute('data-value') === String(v), available, { timeout });
}

/** An order placed and paid through the shop's API, with no points: it counts as spend for the tier. */
async function buy(memberId: string, amountMinor: number) {
  const orderId = uniqueKey('order');
  const lines = [{ sku: 'RUNNING-SHOES', unitPriceMinor: amountMinor, quantity: 1 }];
  ok(await s.request(PlaceOrderDocument, { input: { orderId, member: { id: memberId }, lines, idempotencyKey: uniqueKey('place') } }, p.serverKey));
  return ok(await s.request(PayOrderDocument, { input: { orderId, idempotencyKey: uniqueKey('pay') } }, p.serverKey)).payOrder;
}

/** A member registered at the shop with `referrer` (an externalId) as the one who invited them. */
async function referred(referrer: string, name: string) {
  const input = { externalId: uniqueKey('friend'), name, referrerExternalId: referrer };
  return ok(await s.request(RegisterMemberDocument, { input }, p.serverKey)).upsertMember.member;
}

/**
 * graphql-ws does not acknowledge a subscription: accrue a point until the page shows it. The
 * page opens its subscriptions together, so after this `myTier` is listening too.
 */
async function untilLive(page: Page, memberId: string) {
  await page.waitForSelector('[data-testid="live-status"][data-status="live"]');
  for (let i = 0; ; i++) {
    const available = (await accrue(s, p.serverKey, memberId, 1)).account.available;
    try {
      await untilAvailable(page, available, 1000);
      return available;
    } catch (error) {
      if (i >= 9) throw error;
    }
  }
}

const attr = (page: Page, testId: string, name: string) => page.getByTestId(testId).first().getAttribute(name);

async function memberWithHistory() {
  const member = await createMember(s, p.serverKey, { name: 'Anna' });
  const welcome = uniqueKey('welcome');
  ok(await s.request(AccrueDocument, { input: { member: { id: member.id }, points: 200, lifetimeDays: 365, reason: 'Welcome bonus', idempotencyKey: welcome, delayDays: 0 } }, p.serverKey));
  ok(await s.request(AccrueDocument, { input: { member: { id: member.id }, points: 500, lifetimeDays: 10, reason: 'Birthday gift', idempotencyKey: uniqueKey('bday'), delayDays: 0 } }, p.serverKey));
  ok(await s.request(AccrueDocument, { input: { member: { id: member.id }, points: 300, lifetimeDays: 30, reason: 'Cashback for order 1001', idempotencyKey: uniqueKey('cashback'), delayDays: 14 } }, p.serverKey));
  ok(await s.request(RedeemPointsDocument, { input: { member: { id: member.id }, points: 50, reason: 'Paid part of order 1002', idempotencyKey: uniqueKey('redeem') } }, p.serverKey));
  const { issueCustomerToken } = ok(await s.request(SignInMemberDocument, { member: { id: member.id }, ttlSeconds: 3600 }, p.serverKey));
  return { member, token: issueCustomerToken.token };
}

test('the cabinet shows what the API says: balance and its money, lots with dates, history with reasons, tier, referral network', async () => {
  const { member, token } = await memberWithHistory();
  // 1 200 ₽ of spend makes Anna Silver; Boris joined through her link and bought, Vera through his.
  await buy(member.id, 120_000);
  const boris = await referred(member.externalId, 'Boris');
  await referred(boris.externalId, 'Vera');
  await buy(boris.id, 30_000);
  const page = await context.newPage();
  const foreign = foreignRequests(page, [cabinet.origin, patronOrigin]);
  await page.goto(`${cabinet.origin}/#token=${token}`);
  await page.getByTestId('available').waitFor();

  const api: CabinetQuery = await patronRequest(s.url, CabinetDocument, { historyFirst: 20 }, token);
  const account = api.me.account;
  expect(await numberAt(page, 'available')).toBe(account.available);
  expect(account.available).toBe(650);
  expect(await page.getByTestId('available').textContent()).toBe('650');
  expect(await numberAt(page, 'available-money')).toBe(account.availableMoney.amountMinor);
  const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: account.availableMoney.currency }).format(account.availableMoney.amountMinor / 100);
  expect(account.availableMoney).toEqual({ amountMinor: 65_000, currency: 'RUB' });
  expect(spaces(await page.getByTestId('available-money').textContent())).toBe(spaces(money));
  expect(await numberAt(page, 'pending')).toBe(account.pending);
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Hello, Anna');

  // Lots: what the API lists, with pending and expiry dates.
  const lots = page.getByTestId('lot');
  expect(await lots.evaluateAll((rows) => rows.map((r) => [Number(r.getAttribute('data-remaining')), r.getAttribute('data-status')]))).toEqual(
    api.lots.nodes.map((l) => [l.remaining, l.status]),
  );
  const pendingLot = api.lots.nodes.find((l) => l.status === 'PENDING')!;
  const date = (iso: string) => new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(iso));
  await expectText(page.getByTestId('lots'), `available from ${date(pendingLot.availableAt)}`);
  const birthday = api.lots.nodes.find((l) => l.amount === 500)!;
  await expectText(page.getByTestId('lots'), `expires ${date(birthday.expiresAt!)}`);
  // Spending took the nearest expiry first: 450 of the birthday's 500 expire within 30 days.
  expect(await numberAt(page, 'expiring-soon')).toBe(450);

  // History: the API's entries, newest first, with their reasons.
  const ids = await page.getByTestId('entry').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-entry-id')));
  expect(ids).toEqual(api.ledgerEntries.edges.map((e) => e.node.id));
  for (const reason of ['Welcome bonus', 'Birthday gift', 'Cashback for order 1001', 'Paid part of order 1002']) {
    await expectText(page.getByTestId('history'), reason);
  }

  // The tier: Silver with its perks, the way to Gold in roubles, until when it holds, its history.
  const tier = api.me.tierStatus!;
  expect(tier).toMatchObject({ metric: 'SPEND', tier: { code: 'silver', name: 'Silver' }, nextTier: { code: 'gold' }, amountToNext: 380_000 });
  expect(await attr(page, 'tier', 'data-tier')).toBe('silver');
  expect(await page.getByTestId('tier-name').textContent()).toBe('Silver');
  expect(Number(await attr(page, 'tier', 'data-progress'))).toBe(tier.progress);
  expect(Number(await page.getByRole('progressbar').getAttribute('aria-valuenow'))).toBe(tier.progress);
  await expectText(page.getByTestId('tier-perks'), 'free wrapping');
  expect(await numberAt(page, 'tier-next')).toBe(tier.amountToNext);
  const rub = (minor: number) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'RUB' }).format(minor / 100);
  expect(spaces(await page.getByTestId('tier-next').textContent())).toBe(spaces(`Spend ${rub(380_000)} more for Gold`));
  expect(await attr(page, 'tier-risk', 'data-at')).toBe(tier.downgradeRisk!.at);
  expect(await attr(page, 'tier-risk', 'data-to')).toBe('standard');
  expect(spaces(await page.getByTestId('tier-risk').textContent())).toBe(spaces(`Silver is yours until ${date(tier.downgradeRisk!.at)}. To keep it, spend ${rub(100_000)} by then, or it goes to Standard.`));
  expect(await page.getByTestId('tier-change').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-to')))).toEqual(api.me.tierHistory.map((c) => c.toCode));
  expect(api.me.tierHistory.map((c) => c.toCode)).toEqual(['silver']);

  // The referral network: her link, one friend, two in the network, figures per level, the tree.
  const stats = api.me.referralStats;
  expect(await page.getByTestId('referral-link').inputValue()).toBe(api.me.referralLink);
  expect(api.me.referralLink).toContain(api.me.referralCode);
  await page.getByTestId('copy-link').click();
  await expectText(page.getByTestId('referrals'), 'Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(api.me.referralLink);
  expect([await numberAt(page, 'direct-referrals'), await numberAt(page, 'network-size')]).toEqual([stats.directReferrals, stats.networkSize]);
  expect([stats.directReferrals, stats.networkSize]).toEqual([1, 2]);
  const levels = await page.getByTestId('referral-level').evaluateAll((rows) =>
    rows.map((r) => ['data-level', 'data-members', 'data-orders', 'data-points'].map((a) => Number(r.getAttribute(a)))),
  );
  expect(levels).toEqual(stats.levels.map((l) => [l.level, l.members, l.paidOrders, l.pointsEarned]));
  expect(levels).toEqual([[1, 1, 1, 0], [2, 1, 0, 0]]);
  expect(await page.getByTestId('referral-node').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-level')))).toEqual(['1', '2']);
  await expectText(page.getByTestId('referrals'), 'Vera');
  await expectText(page.getByTestId('referrals'), '1 friend joined through you');
  await screenshot(page, 'cabinet');
  expect(foreign).toEqual([]);
  await page.close();
});

test('a purchase and a redemption made elsewhere change the page without a reload', async () => {
  const { member, token } = await memberWithHistory();
  const page = await context.newPage();
  await page.goto(`${cabinet.origin}/#token=${token}`);
  await page.getByTestId('available').waitFor();
  await page.evaluate(() => ((globalThis as unknown as { marker: string }).marker = 'same page'));
  await untilLive(page, member.id);

  // The shop places an order paid partly with points: they are held at checkout…
  const orderId = uniqueKey('order');
  const lines = [{ sku: 'SKI-GLOVES', unitPriceMinor: 150_100, quantity: 1 }];
  const placed = ok(await s.request(PlaceOrderDocument, { input: { orderId, member: { id: member.id }, lines, points: 100, idempotencyKey: uniqueKey('place') } }, p.serverKey));
  await untilAvailable(page, placed.placeOrder.account.available);
  await page.waitForFunction(() => document.querySelector('[data-testid="reserved"]')?.getAttribute('data-value') === '100');

  // …and spent when it is paid.
  const paid = ok(await s.request(PayOrderDocument, { input: { orderId, idempotencyKey: uniqueKey('pay') } }, p.serverKey));
  expect(paid.payOrder.account.reserved).toBe(0);
  await page.getByTestId('reserved').waitFor({ state: 'detached' });

  // A redemption at the till.
  const redeemed = ok(await s.request(RedeemPointsDocument, { input: { member: { id: member.id }, points: 120, reason: 'Coffee at the shop', idempotencyKey: uniqueKey('till') } }, p.serverKey));
  await untilAvailable(page, redeemed.redeem.account.available);
  await page.waitForFunction((id) => document.querySelector('[data-testid="entry"]')?.getAttribute('data-entry-id') === id, redeemed.redeem.entry.publicId);
  await expectText(page.getByTestId('history'), 'Coffee at the shop');
  expect(await page.getByTestId('available').textContent()).toBe(new Intl.NumberFormat('en-US').format(redeemed.redeem.account.available));

  expect(await page.evaluate(() => (globalThis as unknown as { marker?: string }).marker)).toBe('same page');
  await screenshot(page, 'cabinet-after-purchase');
  await page.close();
});

test('a change that lands while the page is still reading the last one is read again: the page ends on the newest balance and history', async () => {
  const { member, token } = await memberWithHistory();
  const page = await context.newPage();
  await page.goto(`${cabinet.origin}/#token=${token}`);
  await page.getByTestId('available').waitFor();
  await untilLive(page, member.id);

  // The next read of the cabinet is answered as of its arrival but handed to the page only when
  // the test says: a slow network, with another change arriving in between.
  let held!: () => void;
  const arrived = new Promise<void>((resolve) => (held = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let holding = true;
  await page.route(s.url, async (route) => {
    const body = route.request().postData() ?? '';
    if (!holding || route.request().method() !== 'POST' || !body.includes('query Cabinet')) return route.continue();
    holding = false;
    const response = await route.fetch();
    held();
    await released;
    await route.fulfill({ response });
  });

  const first = (await accrue(s, p.serverKey, member.id, 10)).account.available;
  await arrived; // the first event's read of the cabinet, answered with `first`, is held
  const second = ok(await s.request(AccrueDocument, { input: { member: { id: member.id }, points: 20, reason: 'Second change', delayDays: 0, idempotencyKey: uniqueKey('second') } }, p.serverKey)).accrue;
  expect(second.account.available).toBe(first + 20);
  await untilAvailable(page, second.account.available); // the event itself carries the account
  release();

  // The held answer is older than the second change: the page reads again and shows the newest.
  await page.waitForFunction((id) => document.querySelector('[data-testid="entry"]')?.getAttribute('data-entry-id') === id, second.entry.publicId, { timeout: 10_000 });
  await untilAvailable(page, second.account.available);
  await expectText(page.getByTestId('history'), 'Second change');
  await page.close();
});

test('a purchase that lifts the member to Gold changes the tier card through myTier, without a reload', async () => {
  const { member, token } = await memberWithHistory();
  await buy(member.id, 120_000);
  const page = await context.newPage();
  await page.goto(`${cabinet.origin}/#token=${token}`);
  await page.waitForSelector('[data-testid="tier"][data-tier="silver"]');
  await page.evaluate(() => ((globalThis as unknown as { marker: string }).marker = 'same page'));
  const available = await untilLive(page, member.id);

  // 4 000 ₽ more: 5 200 ₽ in the window lifts her to Gold. The program has no earning rules, so
  // the balance does not move and no myBalance event comes: only myTier can change the page.
  const paid = await buy(member.id, 400_000);
  expect(paid.account.available).toBe(available);
  const api: CabinetQuery = await patronRequest(s.url, CabinetDocument, { historyFirst: 20 }, token);
  expect(api.me.tierStatus).toMatchObject({ tier: { code: 'gold' }, nextTier: null, progress: 1 });
  await page.waitForSelector('[data-testid="tier"][data-tier="gold"]', { timeout: 10_000 });
  expect(await page.getByTestId('tier-name').textContent()).toBe('Gold');
  expect(Number(await attr(page, 'tier', 'data-progress'))).toBe(1);
  await expectText(page.getByTestId('tier-next'), 'You are at the top tier');
  await expectText(page.getByTestId('tier-perks'), 'priority service');
  expect(await page.getByTestId('tier-change').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-to')))).toEqual(['gold', 'silver']);
  expect(await attr(page, 'tier-risk', 'data-at')).toBe(api.me.tierStatus!.downgradeRisk!.at);

  expect(await page.evaluate(() => (globalThis as unknown as { marker?: string }).marker)).toBe('same page');
  await screenshot(page, 'cabinet-gold');
  await page.close();
});

test('without a valid token the page says to sign in at the shop', async () => {
  const page = await context.newPage();
  await page.goto(`${cabinet.origin}/`);
  await expectText(page.getByTestId('notice'), 'Sign in at the shop');
  await page.goto(`${cabinet.origin}/#token=not.a.token`);
  await page.reload();
  await expectText(page.getByTestId('notice'), 'Your session has ended');
  await page.close();
});

test('GraphiQL opens offline with the starter query and the header template', async () => {
  const page = await context.newPage();
  const foreign = foreignRequests(page, [patronOrigin]);
  await page.goto(s.url);
  await page.getByText('query Start').first().waitFor({ timeout: 30_000 });
  await page.getByText('"Authorization"').first().waitFor();
  await screenshot(page, 'graphiql');
  expect(foreign).toEqual([]);
  await page.close();
});

/** Intl puts no-break spaces in money; Node's ICU and Chromium's may differ in which. */
const spaces = (text: string | null) => (text ?? '').replace(/\s/g, ' ');

async function expectText(locator: ReturnType<Page['getByTestId']>, text: string) {
  await locator.getByText(text, { exact: false }).first().waitFor({ timeout: 10_000 });
}
