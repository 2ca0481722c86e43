import { ManualClock } from '../../src/services/shared';
import { AccountDocument, BalanceChangedDocument, IssueCustomerTokenDocument, MyBalanceDocument, RevokeApiKeyDocument } from './generated/graphql';
import { createMember, createProgram, ok, record, type ProgramFixture } from './helpers';
import { startTestServer, type TestServer } from '../support/server';

/** A socket's credentials are checked again for every operation, not only when it connects. */
let s: TestServer;
let p: ProgramFixture;
const clock = new ManualClock(new Date('2026-03-01T10:00:00Z'));

beforeAll(async () => {
  s = await startTestServer({ clock });
  p = await createProgram(s);
});
afterAll(() => s.close());

test('a key revoked while its socket is open can do nothing more over it, and its subscriptions end', async () => {
  const member = await createMember(s, p.serverKey);
  const client = s.ws(p.serverKey);
  const watching = record(client, BalanceChangedDocument, { memberId: member.id });
  const before = record(client, AccountDocument, { member: { id: member.id } });
  await before.event(0);

  ok(await s.request(RevokeApiKeyDocument, { id: p.serverKeyId }, p.adminKey));

  const after = record(client, AccountDocument, { member: { id: member.id } });
  await after.settled();
  expect(after.events).toEqual([]);
  expect(after.closeCode ?? after.errors[0]?.extensions?.code).toBeDefined();
  await watching.settled();
  expect(watching.closeCode).toBe(4403);
});

test('an expired customer token can do nothing more over its open socket', async () => {
  const member = await createMember(s, p.adminKey);
  const { issueCustomerToken } = ok(await s.request(IssueCustomerTokenDocument, { input: { member: { id: member.id }, ttlSeconds: 60 } }, p.adminKey));
  const client = s.ws(issueCustomerToken.token);
  const first = record(client, MyBalanceDocument);
  const me = record(client, AccountDocument, {});
  expect((await me.event(0)).account.memberId).toBe(member.id);

  clock.advance(61_000);
  const later = record(client, AccountDocument, {});
  await later.settled();
  expect(later.events).toEqual([]);
  await first.settled();
  expect(first.closeCode).toBe(4403);
});
