import { startTestServer, type TestServer } from '../support/server';
import { accrue, createMember, createProgram, ok, record, uniqueKey, untilSubscribed, type ProgramFixture } from './helpers';

/** A customer sees their history, not the shop's plumbing: no API key ids, no idempotency keys. */
let s: TestServer;
let program: ProgramFixture;
beforeAll(async () => {
  s = await startTestServer();
  program = await createProgram(s);
});
afterAll(() => s.close());

const ENTRIES = '{ ledgerEntries(first: 10) { nodes { id kind amount causeType causeId idempotencyKey } } }';
const CHANGES = '{ balanceChanges(afterSequence: 0) { entry { causeType causeId idempotencyKey } } }';

async function customerToken(memberId: string) {
  const res = ok(await s.request<any, unknown>('mutation($m: MemberRefInput!) { issueCustomerToken(input: { member: $m }) { token } }', { m: { id: memberId } }, program.serverKey));
  return res.issueCustomerToken.token as string;
}

it('hides the key id and the idempotency keys of API causes from the customer, not from the shop', async () => {
  const member = await createMember(s, program.serverKey);
  const key = uniqueKey('secret-key');
  await accrue(s, program.serverKey, member.id, 50, key);
  const token = await customerToken(member.id);

  const mine = ok(await s.request<any, unknown>(ENTRIES, undefined, token)).ledgerEntries.nodes;
  const accrual = mine.find((e: any) => e.amount === 50);
  expect(accrual).toMatchObject({ causeType: 'API', causeId: null, idempotencyKey: null });
  expect(JSON.stringify(mine)).not.toContain(program.serverKeyId);
  expect(JSON.stringify(mine)).not.toContain(key);

  const changes = ok(await s.request<any, unknown>(CHANGES, undefined, token)).balanceChanges;
  expect(JSON.stringify(changes)).not.toContain(program.serverKeyId);
  expect(JSON.stringify(changes)).not.toContain(key);

  const shop = ok(await s.request<any, unknown>(`{ ledgerEntries(member: { id: "${member.id}" }, first: 10) { nodes { amount causeId idempotencyKey } } }`, undefined, program.serverKey)).ledgerEntries.nodes;
  expect(shop.find((e: any) => e.amount === 50)).toEqual({ amount: 50, causeId: program.serverKeyId, idempotencyKey: key });
});

it('hides them in the customer\'s live balance changes too', async () => {
  const member = await createMember(s, program.serverKey);
  const token = await customerToken(member.id);
  const rec = record<any, unknown>(s.ws(token), 'subscription { myBalance { entry { id causeId idempotencyKey } } }');
  const probes = await untilSubscribed(rec, async () => (await accrue(s, program.serverKey, member.id, 1)).entry.id, (d) => d.myBalance.entry.id);
  expect(probes.size).toBeGreaterThan(0);
  for (const event of rec.events) expect(event.data.myBalance.entry).toMatchObject({ causeId: null, idempotencyKey: null });
  rec.dispose();
});
