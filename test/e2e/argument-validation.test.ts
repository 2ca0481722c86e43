import { startTestServer, type TestServer } from '../support/server';
import { codesOf } from './helpers';

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
