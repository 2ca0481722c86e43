import { createTestDatabase, type TestDatabase } from '../support/database';
import { startTestServer, type TestServer } from '../support/server';
import {
  AccountDocument,
  AuthorizeRedemptionDocument,
  BalanceChangedDocument,
  CaptureRedemptionDocument,
  LedgerEntriesDocument,
  RedeemDocument,
  type BalanceChangeFieldsFragment,
  type BalanceChangedSubscription,
} from './generated/graphql';
import { accrue, codesOf, createMember, createProgram, ok, record, uniqueKey, untilSubscribed, waitFor, type ProgramFixture, type Recorded } from './helpers';

// Two instances on one database: events cross between them over LISTEN/NOTIFY.
let db: TestDatabase;
let s1: TestServer;
let s2: TestServer;
let P: ProgramFixture;

beforeAll(async () => {
  db = await createTestDatabase();
  s1 = await startTestServer({ db });
  s2 = await startTestServer({ db });
  P = await createProgram(s1);
});

afterAll(async () => {
  await s2?.close();
  await s1?.close();
  await db?.drop();
});

type Sub = Recorded<BalanceChangedSubscription>;
const entryIdOf = (data: BalanceChangedSubscription) => data.balanceChanged.entry.id;
const changes = (sub: Sub): BalanceChangeFieldsFragment[] => sub.events.map((e) => e.data.balanceChanged);
const byEntry = (sub: Sub, entryId: string, timeoutMs?: number) => sub.find((d) => d.balanceChanged.entry.id === entryId, timeoutMs).then((d) => d.balanceChanged);

/** A balanceChanged subscription on `server` that has provably started: one of its 1-point probes reached it. */
async function subscribed(server: TestServer, memberId: string): Promise<{ sub: Sub; probes: Set<string> }> {
  const sub = record(server.ws(P.serverKey), BalanceChangedDocument, { memberId });
  const probes = await untilSubscribed(sub, async () => (await accrue(s1, P.serverKey, memberId, 1, uniqueKey('probe'))).entry.id, entryIdOf);
  return { sub, probes };
}

test('balanceChanged delivers the new balances and the causing entry, after commit', async () => {
  const member = await createMember(s1, P.serverKey);
  const { sub, probes } = await subscribed(s1, member.id);

  const accrued = await accrue(s1, P.serverKey, member.id, 1000, 'rt-accrue-' + member.id);
  const event = await byEntry(sub, accrued.entry.id);
  expect(event).toEqual({
    memberId: member.id,
    available: 1000 + probes.size,
    pending: 0,
    reserved: 0,
    entry: { id: accrued.entry.id, kind: 'ACCRUAL', amount: 1000, balanceAfter: 1000 + probes.size, idempotencyKey: 'rt-accrue-' + member.id },
  });
  expect(accrued.account.available).toBe(event.available);
  // When the event arrives the change is visible on every other connection: it was committed.
  const account = ok(await s2.request(AccountDocument, { member: { id: member.id } }, P.serverKey)).account;
  expect(account.available).toBe(event.available);
  const latest = ok(await s2.request(LedgerEntriesDocument, { member: { id: member.id }, first: 1 }, P.serverKey)).ledgerEntries.nodes;
  expect(latest.map((e) => e.id)).toEqual([event.entry.id]);

  // A checkout: hold 300, capture 120; one event per entry, in order, each with its balances.
  const auth = ok(
    await s1.request(AuthorizeRedemptionDocument, { input: { member: { id: member.id }, points: 300, idempotencyKey: uniqueKey() } }, P.serverKey),
  ).authorizeRedemption;
  const capture = ok(
    await s1.request(CaptureRedemptionDocument, { input: { authorizationId: auth.authorization.id, points: 120, idempotencyKey: uniqueKey() } }, P.serverKey),
  ).captureRedemption;
  const checkoutKinds = ['AUTHORIZATION', 'CAPTURE', 'RELEASE'];
  expect(await waitFor(() => changes(sub).filter((c) => checkoutKinds.includes(c.entry.kind)).length >= 3)).toBe(true);
  const checkout = changes(sub).filter((c) => checkoutKinds.includes(c.entry.kind));
  const start = 1000 + probes.size;
  expect(checkout.map((c) => ({ kind: c.entry.kind, amount: c.entry.amount, available: c.available, reserved: c.reserved }))).toEqual([
    { kind: 'AUTHORIZATION', amount: 0, available: start - 300, reserved: 300 },
    { kind: 'CAPTURE', amount: -120, available: start - 300, reserved: 180 },
    { kind: 'RELEASE', amount: 0, available: start - 120, reserved: 0 },
  ]);
  expect(checkout.slice(0, 2).map((c) => c.entry.id)).toEqual([auth.entry.id, capture.entry.id]);
  expect(capture.account.available).toBe(start - 120);
});

test('a redemption that fails (rolled back) publishes nothing', async () => {
  const member = await createMember(s1, P.serverKey);
  const setup = await accrue(s1, P.serverKey, member.id, 50);
  const { sub, probes } = await subscribed(s1, member.id);

  const refused = await s1.request(RedeemDocument, { input: { member: { id: member.id }, points: 10_000, idempotencyKey: uniqueKey() } }, P.serverKey);
  expect(codesOf(refused)).toEqual(['INSUFFICIENT_POINTS']);
  const refusedAuth = await s1.request(AuthorizeRedemptionDocument, { input: { member: { id: member.id }, points: 10_000, idempotencyKey: uniqueKey() } }, P.serverKey);
  expect(codesOf(refusedAuth)).toEqual(['INSUFFICIENT_POINTS']);
  // A later change of the same member is the marker: one member's events arrive in commit
  // order, so anything the failed writes had published would have arrived before it.
  const marker = await accrue(s1, P.serverKey, member.id, 7, 'marker-' + member.id);
  const event = await byEntry(sub, marker.entry.id);
  expect(event.available).toBe(50 + probes.size + 7);
  const known = new Set([setup.entry.id, ...probes, marker.entry.id]);
  expect(changes(sub).filter((c) => !known.has(c.entry.id))).toEqual([]);
  expect(changes(sub).map((c) => c.entry.kind).filter((k) => k !== 'ACCRUAL')).toEqual([]);
});

test('a subscriber on instance 1 sees a redemption made on instance 2 within a second', async () => {
  const member = await createMember(s2, P.serverKey);
  await accrue(s2, P.serverKey, member.id, 400);
  const { sub, probes } = await subscribed(s1, member.id);

  const sentAt = Date.now();
  const redeemed = ok(await s2.request(RedeemDocument, { input: { member: { id: member.id }, points: 150, idempotencyKey: 'cross-' + member.id } }, P.serverKey)).redeem;
  const event = await byEntry(sub, redeemed.entry.id, 1000);
  expect(sub.events.find((e) => e.data.balanceChanged.entry.id === redeemed.entry.id)!.at - sentAt).toBeLessThan(1000);
  expect(event).toEqual({
    memberId: member.id,
    available: 400 + probes.size - 150,
    pending: 0,
    reserved: 0,
    entry: { id: redeemed.entry.id, kind: 'REDEMPTION', amount: -150, balanceAfter: redeemed.account.available, idempotencyKey: 'cross-' + member.id },
  });
  // Delivered once, not once per instance.
  const marker = await accrue(s2, P.serverKey, member.id, 1, 'after-' + member.id);
  await byEntry(sub, marker.entry.id);
  expect(changes(sub).filter((c) => c.entry.id === redeemed.entry.id).length).toBe(1);
});

test('a subscriber for member X sees nothing of member Y', async () => {
  const x = await createMember(s1, P.serverKey);
  const y = await createMember(s1, P.serverKey);
  const [X, Y] = await Promise.all([subscribed(s1, x.id), subscribed(s2, y.id)]);

  const yEntries = [
    (await accrue(s1, P.serverKey, y.id, 300)).entry.id,
    ok(await s2.request(RedeemDocument, { input: { member: { id: y.id }, points: 100, idempotencyKey: uniqueKey() } }, P.serverKey)).redeem.entry.id,
    (await accrue(s2, P.serverKey, y.id, 5)).entry.id,
  ];
  // Y's subscriber got Y's three changes, so they were published…
  await byEntry(Y.sub, yEntries[2]!);
  const ofY = changes(Y.sub).filter((c) => !Y.probes.has(c.entry.id)).sort((a, b) => Number(a.entry.id) - Number(b.entry.id));
  expect(ofY.map((c) => [c.memberId, c.entry.id, c.entry.kind, c.entry.amount])).toEqual([
    [y.id, yEntries[0], 'ACCRUAL', 300],
    [y.id, yEntries[1], 'REDEMPTION', -100],
    [y.id, yEntries[2], 'ACCRUAL', 5],
  ]);
  // …and reached every listener before any later notification (PostgreSQL delivers in commit
  // order), so once X's marker is in, anything of Y's would have been too.
  const marker = await accrue(s1, P.serverKey, x.id, 9, 'x-marker-' + x.id);
  await byEntry(X.sub, marker.entry.id);
  expect(changes(X.sub).every((c) => c.memberId === x.id)).toBe(true);
  expect(changes(X.sub).filter((c) => !X.probes.has(c.entry.id)).map((c) => c.entry.id)).toEqual([marker.entry.id]);
});

test('a subscription naming the member by an upper-case id gets its events, as the other operations read that id', async () => {
  const member = await createMember(s1, P.serverKey);
  const { sub } = await subscribed(s2, member.id.toUpperCase());
  const accrued = await accrue(s1, P.serverKey, member.id, 25, uniqueKey('upper'));
  expect(await byEntry(sub, accrued.entry.id)).toMatchObject({ memberId: member.id, entry: { amount: 25 } });
  sub.dispose();
});
