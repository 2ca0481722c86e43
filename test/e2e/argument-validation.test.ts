import { startTestServer, type TestServer } from '../support/server';
import { codesOf, createMember, uniqueKey } from './helpers';
import { OPERATOR_KEY } from '../support/server';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

// Input classes' class-validator constraints answer BAD_USER_INPUT with what failed, each time
// (the metadata behind them is looked up once per class).
test('an input object that breaks its constraints is refused, every time, with the constraint named', async () => {
  for (let i = 0; i < 3; i++) {
    const res = await s.request<any, any>('query($m: MemberRefInput) { account(member: $m) { available } }', { m: { id: 'not-a-uuid' } });
    expect(res.data ?? null).toBeNull();
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
    expect(JSON.stringify(res.errors)).toMatch(/id must be a UUID/);
  }
  const email = await s.request<any, any>('query { account(member: { email: "nobody" }) { available } }');
  expect(codesOf(email)).toEqual(['BAD_USER_INPUT']);
  expect(JSON.stringify(email.errors)).toMatch(/email must be an email/);
});

test('an input object within its constraints passes them', async () => {
  const res = await s.request<any, any>('query { account(member: { id: "00000000-0000-4000-8000-000000000000" }) { available } }');
  expect(codesOf(res)).toEqual(['NOT_FOUND']);
});

// Every BAD_USER_INPUT names the input to fix as the operation spells it: within `input`, else the argument.
test('refusals name the field to fix as the operation spells it', async () => {
  const fieldOf = async (query: string, variables?: Record<string, unknown>) => {
    const res = await s.request<any, any>(query, variables);
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
    return res.errors![0].extensions!.field;
  };
  const { id } = await createMember(s, OPERATOR_KEY);
  const member = { id };
  const accrue = 'mutation($i: AccrueInput!) { accrue(input: $i) { entry { id } } }';
  expect(await fieldOf(accrue, { i: { member, points: 5, lifetimeDays: 10, expiresAt: '2030-01-01T00:00:00Z', idempotencyKey: uniqueKey() } })).toBe('expiresAt');
  expect(await fieldOf(accrue, { i: { member, points: 5, delayDays: 1, availableAt: '2030-01-01T00:00:00Z', idempotencyKey: uniqueKey() } })).toBe('availableAt');
  expect(await fieldOf(accrue, { i: { member, points: 5, idempotencyKey: '   ' } })).toBe('idempotencyKey');
  expect(await fieldOf('query { referralTree { depth } }')).toBe('memberId');
  expect(await fieldOf('mutation($m: ID!) { attributeReferral(input: { member: { id: $m }, via: { code: "ZZZZZZZZ" } }) { accepted } }', { m: id })).toBe('via.code');
  expect(await fieldOf('query($m: ID!) { checkoutQuote(order: { member: { id: $m }, referralCode: "ZZZZZZZZ", lines: [{ sku: "A", unitPriceMinor: 100, quantity: 1 }] }) { maxPoints } }', { m: id }))
    .toBe('order.referralCode');
});
