import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  CabinetDocument,
  PayOrderDocument,
  PlaceOrderDocument,
  RedeemPointsDocument,
  SignInMemberDocument,
  patronRequest,
  type CabinetQuery,
} from '../../client/index';
import { buildCabinet } from '../../examples/cabinet/build';
import { serveCabinet, type CabinetServer } from '../../examples/cabinet/serve';
import { accrue, createMember, createProgram, ok, uniqueKey, type ProgramFixture } from '../e2e/helpers';
import { AccrueDocument } from '../e2e/generated/graphql';
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
  context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC', viewport: { width: 1100, height: 900 } });
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

test('the cabinet shows what the API says: balance and its money, lots with dates, history with reasons, placeholders', async () => {
  const { token } = await memberWithHistory();
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

  // Tier and referral sections wait for their APIs and say so.
  expect(await page.getByTestId('tier').getAttribute('data-pending')).toBe('tier-api');
  expect(await page.getByTestId('referrals').getAttribute('data-pending')).toBe('referral-api');
  await screenshot(page, 'cabinet');
  expect(foreign).toEqual([]);
  await page.close();
});

test('a purchase and a redemption made elsewhere change the page without a reload', async () => {
  const { member, token } = await memberWithHistory();
  const page = await context.newPage();
  await page.goto(`${cabinet.origin}/#token=${token}`);
  await page.getByTestId('available').waitFor();
  await page.waitForSelector('[data-testid="live-status"][data-status="live"]');
  await page.evaluate(() => ((globalThis as unknown as { marker: string }).marker = 'same page'));

  // graphql-ws does not acknowledge a subscription: accrue a point until the page shows it.
  let available = 650;
  for (let i = 0; ; i++) {
    available = (await accrue(s, p.serverKey, member.id, 1)).account.available;
    try {
      await untilAvailable(page, available, 1000);
      break;
    } catch (error) {
      if (i >= 9) throw error;
    }
  }

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
  await page.waitForFunction((id) => document.querySelector('[data-testid="entry"]')?.getAttribute('data-entry-id') === id, redeemed.redeem.entry.id);
  await expectText(page.getByTestId('history'), 'Coffee at the shop');
  expect(await page.getByTestId('available').textContent()).toBe(new Intl.NumberFormat('en-US').format(redeemed.redeem.account.available));

  expect(await page.evaluate(() => (globalThis as unknown as { marker?: string }).marker)).toBe('same page');
  await screenshot(page, 'cabinet-after-purchase');
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
