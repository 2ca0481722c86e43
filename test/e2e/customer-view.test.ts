import { startTestServer, type TestServer } from '../support/server';
import { accrue, codesOf, createMember, createProgram, ok, record, uniqueKey, untilSubscribed, type ProgramFixture } from './helpers';

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

/** An accrual; returns the entry's id as its member sees it. */
async function accrueForPublicId(memberId: string, points: number): Promise<string> {
  const res = ok(await s.request<any, unknown>(
    'mutation($input: AccrueInput!) { accrue(input: $input) { entry { publicId } } }',
    { input: { member: { id: memberId }, points, idempotencyKey: uniqueKey('accrue'), delayDays: 0 } }, program.serverKey));
  return res.accrue.entry.publicId;
}

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
  const probes = await untilSubscribed(rec, async () => (await accrueForPublicId(member.id, 1)), (d) => d.myBalance.entry.id);
  expect(probes.size).toBeGreaterThan(0);
  for (const event of rec.events) expect(event.data.myBalance.entry).toMatchObject({ causeId: null, idempotencyKey: null });
  rec.dispose();
});

const ENTRY_IDS = `query($member: MemberRefInput, $first: Int, $after: String) {
  ledgerEntries(member: $member, first: $first, after: $after) {
    nodes { id publicId kind amount reversesEntryId lotId }
    edges { cursor }
    pageInfo { hasNextPage endCursor }
  } }`;
const REVERSE = 'mutation($input: ReverseEntryInput!) { reverseEntry(input: $input) { entry { id } } }';

it('shows the customer ids that say nothing of the shop\'s volume; the shop keeps its ids and reads the same publicId', async () => {
  const member = await createMember(s, program.serverKey);
  const other = await createMember(s, program.serverKey);
  const first = await accrue(s, program.serverKey, member.id, 10);
  await accrue(s, program.serverKey, other.id, 5);
  await accrue(s, program.serverKey, member.id, 20);
  ok(await s.request<any, unknown>(REVERSE, { input: { entryId: first.entry.id, idempotencyKey: uniqueKey('reverse'), reason: 'test' } }, program.serverKey));
  const token = await customerToken(member.id);

  const shop = ok(await s.request<any, unknown>(ENTRY_IDS, { member: { id: member.id }, first: 10 }, program.serverKey)).ledgerEntries.nodes;
  const mine = ok(await s.request<any, unknown>(ENTRY_IDS, { first: 10 }, token)).ledgerEntries.nodes;
  expect(shop.map((e: any) => e.id)).toEqual(expect.arrayContaining([first.entry.id]));
  expect(shop.every((e: any) => /^\d+$/.test(e.id))).toBe(true);
  // The customer's ids are the shop's publicIds, in the same order, and none is a number.
  expect(mine.map((e: any) => e.id)).toEqual(shop.map((e: any) => e.publicId));
  expect(mine.map((e: any) => e.publicId)).toEqual(mine.map((e: any) => e.id));
  for (const e of mine) {
    expect(e.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    if (e.lotId) expect(e.lotId).not.toMatch(/^\d+$/);
  }
  const reversal = mine.find((e: any) => e.reversesEntryId);
  expect(reversal.reversesEntryId).toBe(shop.find((e: any) => e.id === first.entry.id).publicId);
  const serials = shop.map((e: any) => e.id);
  expect(JSON.stringify(mine)).not.toMatch(new RegExp(`"(${serials.join('|')})"`));
});

it('pages the customer\'s history with cursors that hold no entry number, and refuses cursors not made for them', async () => {
  const member = await createMember(s, program.serverKey);
  for (const points of [1, 2, 3, 4, 5]) await accrue(s, program.serverKey, member.id, points);
  const token = await customerToken(member.id);
  const seen: number[] = [];
  let after: string | null = null;
  for (let page = 0; page < 5; page++) {
    const res: any = ok(await s.request<any, unknown>(ENTRY_IDS, { first: 2, after }, token)).ledgerEntries;
    seen.push(...res.nodes.map((e: any) => e.amount));
    for (const { cursor } of res.edges) expect(Buffer.from(cursor, 'base64url').toString()).not.toMatch(/^c:\d+$/);
    if (!res.pageInfo.hasNextPage) break;
    expect(res.pageInfo.endCursor).toBe(res.edges[res.edges.length - 1].cursor);
    after = res.pageInfo.endCursor;
  }
  expect(seen).toEqual([5, 4, 3, 2, 1]);

  // The shop's cursor, and another member's, are not cursors of this customer's list.
  const shopCursor = ok(await s.request<any, unknown>(ENTRY_IDS, { member: { id: member.id }, first: 1 }, program.serverKey)).ledgerEntries.pageInfo.endCursor;
  expect(codesOf(await s.request<any, unknown>(ENTRY_IDS, { first: 2, after: shopCursor }, token))).toEqual(['BAD_USER_INPUT']);
  const other = await createMember(s, program.serverKey);
  await accrue(s, program.serverKey, other.id, 1);
  const theirs = ok(await s.request<any, unknown>(ENTRY_IDS, { first: 1 }, await customerToken(other.id))).ledgerEntries.pageInfo.endCursor;
  expect(codesOf(await s.request<any, unknown>(ENTRY_IDS, { first: 2, after: theirs }, token))).toEqual(['BAD_USER_INPUT']);
});

it('shows the customer\'s lots by customer ids too, and pages them', async () => {
  const member = await createMember(s, program.serverKey);
  for (const points of [7, 8, 9]) await accrue(s, program.serverKey, member.id, points);
  const token = await customerToken(member.id);
  const LOTS = 'query($after: String) { lots(first: 2, after: $after) { nodes { id amount } pageInfo { hasNextPage endCursor } } }';
  const first = ok(await s.request<any, unknown>(LOTS, {}, token)).lots;
  const second = ok(await s.request<any, unknown>(LOTS, { after: first.pageInfo.endCursor }, token)).lots;
  expect([...first.nodes, ...second.nodes].map((l: any) => l.amount)).toEqual([9, 8, 7]);
  for (const lot of [...first.nodes, ...second.nodes]) expect(lot.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  const entries = ok(await s.request<any, unknown>(ENTRY_IDS, { first: 10 }, token)).ledgerEntries.nodes;
  expect(entries.map((e: any) => e.lotId).sort()).toEqual([...first.nodes, ...second.nodes].map((l: any) => l.id).sort());
});
