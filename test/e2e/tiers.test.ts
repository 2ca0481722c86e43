import { createTestDatabase, type TestDatabase } from '../support/database';
import { startTestServer, type TestServer } from '../support/server';
import {
  AssignTierDocument, CancelOrderDocument, IssueCustomerTokenDocument, MemberTierDocument, MyTierDocument, MyTierStatusDocument,
  PayOrderDocument, PlaceOrderDocument, PreviewTierStructureDocument, PurchaseTierMembershipDocument, SaveTierStructureDocument,
  TierChangedDocument, TierStructureDocument, type TierStructureInput,
} from './generated/graphql';
import { codesOf, createMember, createProgram, ok, record, uniqueKey, waitFor, type ProgramFixture } from './helpers';

let db: TestDatabase;
let s: TestServer;
let P: ProgramFixture;

const STRUCTURE: TierStructureInput = {
  metric: 'SPEND',
  window: 'ROLLING_MONTHS',
  windowMonths: 12,
  downgradePolicy: 'TO_EARNED',
  graceDays: 30,
  levels: [
    { code: 'standard', name: 'Standard', threshold: 0 },
    { code: 'silver', name: 'Silver', threshold: 100_000, earnMultiplier: 1.5, discountPercent: 3, perks: ['free wrapping'] },
    { code: 'gold', name: 'Gold', threshold: 500_000, earnMultiplier: 2, maxRedeemPercent: 50, discountPercent: 7, perks: ['free wrapping', 'priority service'] },
  ],
};

beforeAll(async () => {
  db = await createTestDatabase();
  s = await startTestServer({ db });
  P = await createProgram(s, { timeZone: 'UTC' });
});

afterAll(async () => {
  await s?.close();
  await db?.drop();
});

async function paidOrder(memberId: string, priceMinor: number): Promise<string> {
  const orderId = uniqueKey('order');
  ok(await s.request(PlaceOrderDocument, {
    input: { orderId, member: { id: memberId }, lines: [{ sku: 'goods', unitPriceMinor: priceMinor, quantity: 1 }], idempotencyKey: uniqueKey() },
  }, P.serverKey));
  ok(await s.request(PayOrderDocument, { input: { orderId, idempotencyKey: uniqueKey() } }, P.serverKey));
  return orderId;
}

test('staff preview a structure, save it, and only admins may', async () => {
  expect(ok(await s.request(TierStructureDocument, {}, P.serverKey)).tierStructure).toBeNull();
  const member = await createMember(s, P.serverKey);
  await paidOrder(member.id, 120_000);
  const preview = ok(await s.request(PreviewTierStructureDocument, { input: STRUCTURE }, P.adminKey)).previewTierStructure;
  expect(preview).toMatchObject({ members: 1, movingUp: 1, movingDown: 0, unchanged: 0 });
  expect(preview.tiers.find((t) => t.code === 'silver')).toEqual({ code: 'silver', name: 'Silver', before: 0, after: 1, movingUp: 1, movingDown: 0 });

  expect(codesOf(await s.request(SaveTierStructureDocument, { input: STRUCTURE }, P.serverKey))).toEqual(['FORBIDDEN']);
  const bad = await s.request(SaveTierStructureDocument, { input: { ...STRUCTURE, windowMonths: null } }, P.adminKey);
  expect(codesOf(bad)).toEqual(['BAD_USER_INPUT']);
  expect(bad.errors![0].extensions).toMatchObject({ field: 'windowMonths' });
  const months = await s.request(SaveTierStructureDocument, { input: { ...STRUCTURE, window: 'LIFETIME' } }, P.adminKey);
  expect(months.errors![0]).toMatchObject({ message: 'windowMonths is only for a ROLLING_MONTHS window', extensions: { code: 'BAD_USER_INPUT', field: 'windowMonths' } });
  expect(ok(await s.request(TierStructureDocument, {}, P.serverKey)).tierStructure).toBeNull();

  const saved = ok(await s.request(SaveTierStructureDocument, { input: STRUCTURE }, P.adminKey)).saveTierStructure;
  expect(saved).toEqual({ structure: { version: 1, levels: [{ code: 'standard' }, { code: 'silver' }, { code: 'gold' }] }, changed: 1 });
  const read = ok(await s.request(MemberTierDocument, { id: member.id }, P.serverKey)).member!;
  expect(read.tierStatus).toMatchObject({ tier: { code: 'silver', perks: ['free wrapping'] }, qualifyingAmount: 120_000, nextTier: { code: 'gold' }, progress: 0.24 });
  expect(read.tierHistory.map((c) => [c.fromCode, c.toCode, c.reason])).toEqual([[null, 'silver', 'STRUCTURE_CHANGED']]);
});

test('tierChanged tells the shop and myTier the customer when paying lifts a member and cancelling takes it back', async () => {
  const member = await createMember(s, P.serverKey);
  // The shop names the member by its id in upper case: the same member, as everywhere else.
  const shop = record(s.ws(P.serverKey), TierChangedDocument, { memberId: member.id.toUpperCase() });
  const token = ok(await s.request(IssueCustomerTokenDocument, { input: { member: { id: member.id } } }, P.serverKey)).issueCustomerToken.token;
  const app = record(s.ws(token), MyTierDocument);
  // graphql-ws does not acknowledge a subscription: assign Silver and back (each is an event) until both saw one.
  const until = new Date(Date.now() + 86_400_000).toISOString();
  for (let i = 0; i < 20 && (shop.events.length === 0 || app.events.length === 0); i++) {
    for (const tierCode of ['silver', 'standard']) ok(await s.request(AssignTierDocument, { input: { member: { id: member.id }, tierCode, until } }, P.adminKey));
    await waitFor(() => shop.events.length > 0 && app.events.length > 0, 500);
  }
  expect(shop.errors).toEqual([]);

  const orderId = await paidOrder(member.id, 600_000);
  const up = await shop.find((d) => d.tierChanged.reason === 'QUALIFIED');
  expect(up.tierChanged).toMatchObject({ memberId: member.id, fromCode: 'standard', toCode: 'gold' });
  expect((await app.find((d) => d.myTier.reason === 'QUALIFIED')).myTier.toCode).toBe('gold');

  const mine = ok(await s.request(MyTierStatusDocument, {}, token)).me;
  expect(mine.tierStatus).toMatchObject({ tier: { code: 'gold', maxRedeemPercent: 50 }, source: 'EARNED', nextTier: null, progress: 1 });
  expect(mine.tierStatus!.downgradeRisk).toEqual({ toCode: 'standard', at: expect.any(String) });

  ok(await s.request(CancelOrderDocument, { input: { orderId, idempotencyKey: uniqueKey() } }, P.serverKey));
  const down = await shop.find((d) => d.tierChanged.reason === 'RETURNED');
  expect(down.tierChanged).toMatchObject({ fromCode: 'gold', toCode: 'standard' });
  shop.dispose();
  app.dispose();
});

test('VIP assignment and paid membership through the API', async () => {
  const member = await createMember(s, P.serverKey);
  const until = new Date(Date.now() + 86_400_000).toISOString();
  const assigned = ok(await s.request(AssignTierDocument, { input: { member: { id: member.id }, tierCode: 'gold', until, reason: 'Influencer' } }, P.adminKey)).assignTier;
  expect(assigned).toMatchObject({ tier: { code: 'gold' }, source: 'MANUAL', validUntil: until, earnedTier: { code: 'standard' }, downgradeRisk: { toCode: 'standard', at: until } });
  const past = await s.request(AssignTierDocument, { input: { member: { id: member.id }, tierCode: 'gold', until: '2020-01-01T00:00:00Z' } }, P.adminKey);
  expect(past.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'until' });

  const other = await createMember(s, P.serverKey);
  const input = { member: { id: other.id }, tierCode: 'silver', months: 3, idempotencyKey: uniqueKey('vip') };
  const bought = ok(await s.request(PurchaseTierMembershipDocument, { input }, P.serverKey)).purchaseTierMembership;
  expect(ok(await s.request(PurchaseTierMembershipDocument, { input }, P.serverKey)).purchaseTierMembership).toEqual(bought);
  expect(codesOf(await s.request(PurchaseTierMembershipDocument, { input: { ...input, months: 4 } }, P.serverKey))).toEqual(['IDEMPOTENCY_CONFLICT']);
  expect(codesOf(await s.request(PurchaseTierMembershipDocument, { input: { ...input, months: 0, idempotencyKey: uniqueKey() } }, P.serverKey))).toEqual(['BAD_USER_INPUT']);
  const token = ok(await s.request(IssueCustomerTokenDocument, { input: { member: { id: other.id } } }, P.serverKey)).issueCustomerToken.token;
  expect(codesOf(await s.request(PurchaseTierMembershipDocument, { input: { ...input, idempotencyKey: uniqueKey() } }, token))).toEqual(['FORBIDDEN']);
  expect(ok(await s.request(MyTierStatusDocument, {}, token)).me.tierStatus).toMatchObject({ tier: { code: 'silver' }, source: 'PAID', validUntil: bought.validUntil });
});
