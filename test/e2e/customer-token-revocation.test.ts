import { startTestServer, type TestServer } from '../support/server';
import { AccountDocument, IssueCustomerTokenDocument, MyBalanceDocument, RevokeCustomerTokensDocument } from './generated/graphql';
import { codesOf, createMember, createProgram, ok, record, type ProgramFixture } from './helpers';

/** A shop can take back every customer token of one member (a lost phone, a closed account). */
let s: TestServer;
let shop: ProgramFixture;

beforeAll(async () => {
  s = await startTestServer();
  shop = await createProgram(s);
});
afterAll(() => s.close());

async function tokenFor(memberId: string): Promise<string> {
  return ok(await s.request(IssueCustomerTokenDocument, { input: { member: { id: memberId } } }, shop.serverKey)).issueCustomerToken.token;
}

test('revoked tokens are refused over HTTP at once; other members\' and newer tokens work', async () => {
  const member = await createMember(s, shop.serverKey);
  const neighbour = await createMember(s, shop.serverKey);
  const [first, second, theirs] = await Promise.all([tokenFor(member.id), tokenFor(member.id), tokenFor(neighbour.id)]);
  expect(ok(await s.request(AccountDocument, {}, first)).account.memberId).toBe(member.id);

  const revoked = ok(await s.request(RevokeCustomerTokensDocument, { member: { externalId: member.externalId } }, shop.serverKey)).revokeCustomerTokens;
  expect(revoked.memberId).toBe(member.id);

  for (const token of [first, second]) {
    const res = await s.request(AccountDocument, {}, token);
    expect({ status: res.status, codes: codesOf(res) }).toEqual({ status: 401, codes: ['UNAUTHENTICATED'] });
  }
  expect(ok(await s.request(AccountDocument, {}, theirs)).account.memberId).toBe(neighbour.id);
  const fresh = await tokenFor(member.id);
  expect(ok(await s.request(AccountDocument, {}, fresh)).account.memberId).toBe(member.id);

  // A second revocation takes the fresh one too.
  ok(await s.request(RevokeCustomerTokensDocument, { member: { id: member.id } }, shop.adminKey));
  expect(codesOf(await s.request(AccountDocument, {}, fresh))).toEqual(['UNAUTHENTICATED']);
});

test('only the member\'s own program\'s keys revoke, never a customer', async () => {
  const member = await createMember(s, shop.serverKey);
  const token = await tokenFor(member.id);
  const other = await createProgram(s);
  expect(codesOf(await s.request(RevokeCustomerTokensDocument, { member: { id: member.id } }, other.serverKey))).toEqual(['NOT_FOUND']);
  expect(codesOf(await s.request(RevokeCustomerTokensDocument, { member: { id: member.id } }, token))).toEqual(['FORBIDDEN']);
  expect(ok(await s.request(AccountDocument, {}, token)).account.memberId).toBe(member.id);
});

test('a new operation over a socket opened before the revocation is refused, and the socket closes', async () => {
  const member = await createMember(s, shop.serverKey);
  const socket = s.ws(await tokenFor(member.id));
  expect((await record(socket, AccountDocument, {}).event(0)).account.memberId).toBe(member.id);
  ok(await s.request(RevokeCustomerTokensDocument, { member: { id: member.id } }, shop.serverKey));
  const after = record(socket, AccountDocument, {});
  await after.settled();
  expect(after.events).toEqual([]);
  expect(after.closeCode).toBe(4403);
});

test('an open subscription of a revoked token is closed; another member\'s stays open', async () => {
  const member = await createMember(s, shop.serverKey);
  const neighbour = await createMember(s, shop.serverKey);
  const revokedSocket = s.ws(await tokenFor(member.id));
  const keptSocket = s.ws(await tokenFor(neighbour.id));
  const watching = record(revokedSocket, MyBalanceDocument);
  const kept = record(keptSocket, MyBalanceDocument);
  expect((await record(revokedSocket, AccountDocument, {}).event(0)).account.memberId).toBe(member.id);
  expect((await record(keptSocket, AccountDocument, {}).event(0)).account.memberId).toBe(neighbour.id);

  ok(await s.request(RevokeCustomerTokensDocument, { member: { id: member.id } }, shop.serverKey));
  // Nothing more is sent over the socket: the subscription ends at its next credential check (every 10 s).
  await watching.settled(15_000);
  expect(watching.closeCode).toBe(4403);
  expect(kept.closeCode).toBeUndefined();
  expect((await record(keptSocket, AccountDocument, {}).event(0)).account.memberId).toBe(neighbour.id);
}, 30_000);

test('another instance refuses the revoked tokens once its cache (5 s) lapses, and accepts newer ones at once', async () => {
  const other = await startTestServer({ db: s.db });
  try {
    const member = await createMember(s, shop.serverKey);
    const old = await tokenFor(member.id);
    // The other instance has seen the member's tokens before the revocation: its cache (5 s) starts here.
    const cachedAt = Date.now();
    expect(ok(await other.request(AccountDocument, {}, old)).account.memberId).toBe(member.id);
    ok(await s.request(RevokeCustomerTokensDocument, { member: { id: member.id } }, shop.serverKey));
    const fresh = await tokenFor(member.id);
    expect(ok(await other.request(AccountDocument, {}, fresh)).account.memberId).toBe(member.id);
    const revokedAt = Date.now();
    let refusedAfter: number | null = null;
    while (Date.now() - revokedAt < 8000) {
      if (codesOf(await other.request(AccountDocument, {}, old))[0] === 'UNAUTHENTICATED') {
        refusedAfter = Date.now() - revokedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(refusedAfter).not.toBeNull();
    // Within the cache's 5 s of when it was filled, give or take one poll and a loaded machine's request.
    expect(revokedAt + refusedAfter! - cachedAt).toBeLessThanOrEqual(6500);
  } finally {
    await other.app.close({ closeIdle: true });
  }
});
