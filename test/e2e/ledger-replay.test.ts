import { ShiftedClock } from '../support/clock';
import { startTestServer, type TestServer } from '../support/server';
import { createMember, createProgram, uniqueKey, type ProgramFixture } from './helpers';

/**
 * Idempotent replays over HTTP, byte for byte: the first call and its retry answer the same body,
 * whether the first call was written in one statement (the usual case) or by the general path
 * (here: a pending lot had come due, so the write activated it first), and whichever path the
 * retry takes.
 */
const clock = new ShiftedClock();
let s: TestServer;
let P: ProgramFixture;

beforeAll(async () => {
  s = await startTestServer({ clock });
  P = await createProgram(s);
});
afterAll(() => s.close());

const ENTRY = `entry { id kind amount balanceAfter pendingAfter reservedAfter debtChange causeType causeId reason idempotencyKey
  lotId memberId authorizationId reversesEntryId partlyReversesEntryId ruleVersionId createdAt }
  account { id memberId available pending reserved debt lifetimeEarned lifetimeRedeemed lifetimeExpired }`;
const ACCRUE = `mutation ($input: AccrueInput!) { accrue(input: $input) { ${ENTRY} } }`;
const REDEEM = `mutation ($input: RedeemInput!) { redeem(input: $input) { ${ENTRY} } }`;
const ADJUST = `mutation ($input: AdjustInput!) { adjust(input: $input) { ${ENTRY} } }`;

async function raw(query: string, variables: unknown, key: string): Promise<string> {
  const res = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  expect(res.status).toBe(200);
  return res.text();
}

/** Sends the call twice; both answers must be one successful body. */
async function firstAndReplay(query: string, input: Record<string, unknown>, apiKey = P.serverKey): Promise<any> {
  const variables = { input: { ...input, idempotencyKey: uniqueKey('replay') } };
  const first = await raw(query, variables, apiKey);
  expect(JSON.parse(first).errors).toBeUndefined();
  expect(await raw(query, variables, apiKey)).toBe(first);
  return JSON.parse(first).data;
}

test('accrue, redeem and adjust replay their first answer byte for byte', async () => {
  const member = await createMember(s, P.serverKey, { email: `replay-${Date.now()}@example.com` });
  const accrued = await firstAndReplay(ACCRUE, { member: { id: member.id }, points: 120, delayDays: 0, reason: 'welcome "back" ✓\n' });
  expect(accrued.accrue.account.available).toBe(120);
  expect(accrued.accrue.entry.reason).toBe('welcome "back" ✓\n');
  const redeemed = await firstAndReplay(REDEEM, { member: { externalId: member.externalId }, points: 45 });
  expect(redeemed.redeem.account.available).toBe(75);
  const credited = await firstAndReplay(ADJUST, { member: { id: member.id }, points: 10, reason: 'goodwill', lifetimeDays: 30 }, P.adminKey);
  expect(credited.adjust.entry.kind).toBe('ADJUSTMENT');
  const debited = await firstAndReplay(ADJUST, { member: { id: member.id }, points: -5, reason: 'correction' }, P.adminKey);
  expect(debited.adjust.account.available).toBe(80);
});

test('an answer written by the general path replays byte for byte too', async () => {
  const member = await createMember(s, P.serverKey);
  const variables = { input: { member: { id: member.id }, points: 30, delayDays: 1, idempotencyKey: uniqueKey('pending') } };
  await raw(ACCRUE, variables, P.serverKey);
  clock.offsetMs += 2 * 86_400_000;
  try {
    // The pending lot is due now: this write activates it first, so it goes the general way.
    const redeem = { input: { member: { id: member.id }, points: 12, idempotencyKey: uniqueKey('after-due') } };
    const first = await raw(REDEEM, redeem, P.serverKey);
    expect(JSON.parse(first).data.redeem.account.available).toBe(18);
    expect(await raw(REDEEM, redeem, P.serverKey)).toBe(first);
    // The earlier accrual, written in one statement while the lot was pending, replays unchanged.
    const replayed = JSON.parse(await raw(ACCRUE, variables, P.serverKey)).data.accrue;
    expect(replayed.account).toMatchObject({ available: 0, pending: 30 });
  } finally {
    clock.offsetMs -= 2 * 86_400_000;
  }
});
