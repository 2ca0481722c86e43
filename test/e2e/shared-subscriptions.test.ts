import { sharedExecutionStats } from '../../src/graphql/shared-subscriptions';
import { startTestServer, type TestServer } from '../support/server';
import {
  AccountDocument,
  BalanceChangedDocument,
  CreateApiKeyDocument,
  IssueCustomerTokenDocument,
  MyBalanceDocument,
  RevokeApiKeyDocument,
  type BalanceChangedSubscription,
  type MyBalanceSubscription,
} from './generated/graphql';
import { accrue, createMember, createProgram, ok, record, sleep, uniqueKey, waitFor, type ProgramFixture, type Recorded } from './helpers';

/**
 * Subscribers that asked the same thing share one execution per event; each still gets its own
 * message, and nobody gets what their own context would not have given them.
 */
let s: TestServer;
let P: ProgramFixture;

beforeAll(async () => {
  s = await startTestServer();
  P = await createProgram(s);
});
afterAll(() => s.close());

type Sub<T> = Recorded<T>;
const entryIds = (sub: Sub<BalanceChangedSubscription>) => sub.events.map((e) => e.data.balanceChanged.entry.id);
// A customer's entry ids are the member's own (a key reads them as publicId), not the shop's numbers.
const myEntryIds = (sub: Sub<MyBalanceSubscription>) => sub.events.map((e) => e.data.myBalance.entry.id);

/** Writes 1-point probes until every subscription saw one; then waits for stragglers, so counters start clean. */
async function allSubscribed(
  subs: Array<Sub<unknown>>,
  memberId: string,
  seen: (sub: Sub<unknown>) => string[],
  idOf: (entry: { id: string; publicId: string }) => string = (entry) => entry.id,
): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const probe = idOf((await accrue(s, P.serverKey, memberId, 1, uniqueKey('probe'))).entry);
    if (await waitFor(() => subs.every((sub) => seen(sub).includes(probe)), 1000)) {
      await sleep(200);
      return;
    }
  }
  throw new Error('subscriptions never received a probe');
}

test('many subscribers of the same operation get the same payloads from one execution per event', async () => {
  const member = await createMember(s, P.serverKey);
  // Different sockets and a second, separately created server key: same program, same role.
  const otherKey = ok(await s.request(CreateApiKeyDocument, { input: { name: 'second-shop', role: 'SERVER' } }, P.adminKey)).createApiKey.secret;
  const subs = Array.from({ length: 12 }, (_, i) => record(s.ws(i % 2 ? otherKey : P.serverKey), BalanceChangedDocument, { memberId: member.id }));
  await allSubscribed(subs, member.id, (sub) => entryIds(sub as Sub<BalanceChangedSubscription>));

  const before = { ...sharedExecutionStats };
  const written: string[] = [];
  for (const points of [10, 20, 30]) written.push((await accrue(s, P.serverKey, member.id, points)).entry.id);
  expect(await waitFor(() => subs.every((sub) => written.every((id) => entryIds(sub).includes(id))), 5000)).toBe(true);
  await sleep(100);

  expect(sharedExecutionStats.deliveries - before.deliveries).toBe(12 * 3);
  expect(sharedExecutionStats.executions - before.executions).toBe(3);
  const payloads = (sub: Sub<BalanceChangedSubscription>) => sub.events.filter((e) => written.includes(e.data.balanceChanged.entry.id)).map((e) => e.data);
  const first = payloads(subs[0]!);
  expect(first.map((d) => d.balanceChanged.entry.amount)).toEqual([10, 20, 30]);
  for (const sub of subs) expect(payloads(sub)).toEqual(first);
  for (const sub of subs) expect(sub.errors).toEqual([]);
});

test('customers of different members subscribed with the same document never see each other\'s events', async () => {
  const [alice, bob] = [await createMember(s, P.serverKey), await createMember(s, P.serverKey)];
  const tokenOf = async (memberId: string) => ok(await s.request(IssueCustomerTokenDocument, { input: { member: { id: memberId } } }, P.serverKey)).issueCustomerToken.token;
  const [aliceToken, bobToken] = [await tokenOf(alice.id), await tokenOf(bob.id)];
  const aliceSubs = [record(s.ws(aliceToken), MyBalanceDocument), record(s.ws(aliceToken), MyBalanceDocument)];
  const bobSubs = [record(s.ws(bobToken), MyBalanceDocument), record(s.ws(bobToken), MyBalanceDocument)];
  const seen = (sub: Sub<unknown>) => myEntryIds(sub as Sub<MyBalanceSubscription>);
  await allSubscribed(aliceSubs, alice.id, seen, (entry) => entry.publicId);
  await allSubscribed(bobSubs, bob.id, seen, (entry) => entry.publicId);

  const before = { ...sharedExecutionStats };
  const forAlice = (await accrue(s, P.serverKey, alice.id, 7)).entry.publicId;
  const forBob = (await accrue(s, P.serverKey, bob.id, 9)).entry.publicId;
  expect(await waitFor(() => aliceSubs.every((sub) => seen(sub).includes(forAlice)) && bobSubs.every((sub) => seen(sub).includes(forBob)), 5000)).toBe(true);
  await sleep(200);

  for (const sub of aliceSubs) {
    expect(sub.events.every((e) => e.data.myBalance.memberId === alice.id)).toBe(true);
    expect(seen(sub)).not.toContain(forBob);
  }
  for (const sub of bobSubs) {
    expect(sub.events.every((e) => e.data.myBalance.memberId === bob.id)).toBe(true);
    expect(seen(sub)).not.toContain(forAlice);
  }
  // One execution per member's event, shared by that member's two sockets.
  expect(sharedExecutionStats.executions - before.executions).toBe(2);
  expect(sharedExecutionStats.deliveries - before.deliveries).toBe(4);
});

test('the same document with different variables gets its own execution and its own result', async () => {
  const member = await createMember(s, P.serverKey);
  const document = `subscription Watch($memberId: ID!, $withEntry: Boolean!) {
    balanceChanged(memberId: $memberId) { available entry @include(if: $withEntry) { id amount } }
  }`;
  type Watched = { balanceChanged: { available: number; entry?: { id: string; amount: number } } };
  const withEntry = [record<Watched, object>(s.ws(P.serverKey), document, { memberId: member.id, withEntry: true }), record<Watched, object>(s.ws(P.serverKey), document, { memberId: member.id, withEntry: true })];
  const without = [record<Watched, object>(s.ws(P.serverKey), document, { memberId: member.id, withEntry: false }), record<Watched, object>(s.ws(P.serverKey), document, { memberId: member.id, withEntry: false })];
  // Probes until all four saw one: the entry-less ones know a probe by the balance it left.
  const saw = (probe: Awaited<ReturnType<typeof accrue>>) =>
    withEntry.every((sub) => sub.events.some((e) => e.data.balanceChanged.entry?.id === probe.entry.id)) &&
    without.every((sub) => sub.events.some((e) => e.data.balanceChanged.available === probe.account.available));
  let ready = false;
  for (let attempt = 0; attempt < 10 && !ready; attempt++) {
    const probe = await accrue(s, P.serverKey, member.id, 1, uniqueKey('probe'));
    ready = await waitFor(() => saw(probe), 1000);
  }
  expect(ready).toBe(true);
  await sleep(200);

  const before = { ...sharedExecutionStats };
  const counts = [...withEntry, ...without].map((sub) => sub.events.length);
  const accrued = await accrue(s, P.serverKey, member.id, 5);
  expect(await waitFor(() => [...withEntry, ...without].every((sub, i) => sub.events.length > counts[i]!), 5000)).toBe(true);
  await sleep(100);

  for (const sub of withEntry) expect(sub.events.at(-1)!.data).toEqual({ balanceChanged: { available: accrued.account.available, entry: { id: accrued.entry.id, amount: 5 } } });
  for (const sub of without) expect(sub.events.at(-1)!.data).toEqual({ balanceChanged: { available: accrued.account.available } });
  expect(sharedExecutionStats.executions - before.executions).toBe(2);
  expect(sharedExecutionStats.deliveries - before.deliveries).toBe(4);
});

test('credentials stay per subscriber: a revoked key loses its socket while its group-mate keeps receiving', async () => {
  const member = await createMember(s, P.serverKey);
  const created = ok(await s.request(CreateApiKeyDocument, { input: { name: 'to-revoke', role: 'SERVER' } }, P.adminKey)).createApiKey;
  const doomedClient = s.ws(created.secret);
  const doomed = record(doomedClient, BalanceChangedDocument, { memberId: member.id });
  const kept = record(s.ws(P.serverKey), BalanceChangedDocument, { memberId: member.id });
  await allSubscribed([doomed, kept], member.id, (sub) => entryIds(sub as Sub<BalanceChangedSubscription>));

  ok(await s.request(RevokeApiKeyDocument, { id: created.apiKey.id }, P.adminKey));
  // The next operation on the revoked key's socket is refused and closes it.
  const refused = record(doomedClient, AccountDocument, { member: { id: member.id } });
  await refused.settled();
  await doomed.settled();
  expect(doomed.closeCode).toBe(4403);

  const after = (await accrue(s, P.serverKey, member.id, 3)).entry.id;
  expect((await kept.find((d) => d.balanceChanged.entry.id === after)).balanceChanged.entry.amount).toBe(3);
  expect(entryIds(doomed)).not.toContain(after);
});
