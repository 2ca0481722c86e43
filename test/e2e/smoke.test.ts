import { startTestServer, type TestServer } from '../support/server';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

test('a member earns points over HTTP and a subscriber sees it over WebSocket', async () => {
  const up = await s.request<any, any>('mutation { upsertMember(input: { externalId: "smoke" }) { member { id } } }');
  const memberId = up.data.upsertMember.member.id;
  const client = s.ws('ptn_adm_test-operator-key-0123456789abcdef');
  const seen = new Promise<any>((resolve, reject) => {
    client.subscribe(
      { query: `subscription($m: ID!) { balanceChanged(memberId: $m) { available entry { kind amount } } }`, variables: { m: memberId } },
      { next: (v) => resolve(v), error: reject, complete: () => undefined },
    );
  });
  await new Promise((r) => setTimeout(r, 200));
  const res = await s.request<any, any>(
    'mutation($m: ID!) { accrue(input: { member: { id: $m }, points: 70, idempotencyKey: "smoke-1" }) { account { available } } }',
    { m: memberId },
  );
  expect(res.data.accrue.account.available).toBe(70);
  const event = await seen;
  expect(event.data.balanceChanged).toEqual({ available: 70, entry: { kind: 'ACCRUAL', amount: 70 } });
});
