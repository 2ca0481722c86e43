import { startTestServer, type TestServer } from '../support/server';
import { record, untilSubscribed } from './helpers';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

type Change = { balanceChanged: { available: number; entry: { id: string; kind: string; amount: number } } };

test('a member earns points over HTTP and a subscriber sees it over WebSocket', async () => {
  const up = await s.request<any, any>('mutation { upsertMember(input: { externalId: "smoke" }) { member { id } } }');
  const memberId = up.data.upsertMember.member.id;
  const accrue = async (points: number, idempotencyKey: string) =>
    (await s.request<any, any>(
      'mutation($m: ID!, $p: Int!, $k: String!) { accrue(input: { member: { id: $m }, points: $p, idempotencyKey: $k }) { entry { id } account { available } } }',
      { m: memberId, p: points, k: idempotencyKey },
    )).data.accrue;
  const client = s.ws('ptn_adm_test-operator-key-0123456789abcdef');
  const changes = record<Change, { m: string }>(client, `subscription($m: ID!) { balanceChanged(memberId: $m) { available entry { id kind amount } } }`, { m: memberId });
  // graphql-ws does not acknowledge a subscription: a point at a time until one arrives.
  let probes = 0;
  await untilSubscribed(changes, async () => (await accrue(1, `smoke-probe-${++probes}`)).entry.id, (d) => d.balanceChanged.entry.id);

  const res = await accrue(70, 'smoke-1');
  expect(res.account.available).toBe(probes + 70);
  const event = await changes.find((d) => d.balanceChanged.entry.id === res.entry.id);
  expect(event.balanceChanged).toEqual({ available: probes + 70, entry: { id: res.entry.id, kind: 'ACCRUAL', amount: 70 } });
  changes.dispose();
});
