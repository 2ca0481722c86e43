import { OPERATOR_KEY, startTestServer, type TestServer } from '../support/server';
import { codesOf, createProgram, ok } from './helpers';

/**
 * Nobody locks a program out of itself: its last admin key cannot be revoked, the operator can
 * mint and revoke keys of any program, and PATRON_ADMIN_KEY brings the operator's key back.
 */
let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
});

afterAll(() => s.close());

const KEYS = `query Keys($programId: ID) { apiKeysConnection(first: 200, programId: $programId) { nodes { id role operator revokedAt } } }`;
const CREATE = `mutation Create($input: CreateApiKeyInput!, $programId: ID) {
  createApiKey(input: $input, programId: $programId) { secret apiKey { id role } } }`;
const REVOKE = `mutation Revoke($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
const PROGRAM = `query { program { id } }`;
const CREATE_PROGRAM = `mutation { createProgram(input: { name: "after the way back" }) { program { id } } }`;

type Key = { id: string; role: string; operator: boolean; revokedAt: string | null };

async function keysOf(key: string, programId?: string): Promise<Key[]> {
  return ok(await s.request<any, any>(KEYS, { programId }, key)).apiKeysConnection.nodes;
}

async function newKey(key: string, role: 'ADMIN' | 'SERVER', programId?: string): Promise<{ id: string; secret: string }> {
  const created = ok(await s.request<any, any>(CREATE, { input: { role, name: `${role} key` }, programId }, key)).createApiKey;
  return { id: created.apiKey.id, secret: created.secret };
}

test('a program\'s last admin key cannot be revoked; with another one it can', async () => {
  const shop = await createProgram(s);
  const [admin] = (await keysOf(shop.adminKey)).filter((k) => k.role === 'ADMIN');
  const refused = await s.request<any, any>(REVOKE, { id: admin.id }, shop.adminKey);
  expect(codesOf(refused)).toEqual(['INVALID_STATE']);
  expect(ok(await s.request<any, any>(PROGRAM, undefined, shop.adminKey)).program.id).toBe(shop.programId);

  // A revoked admin key does not count: the second becomes the last one.
  const second = await newKey(shop.adminKey, 'ADMIN');
  ok(await s.request<any, any>(REVOKE, { id: admin.id }, second.secret));
  expect(codesOf(await s.request<any, any>(REVOKE, { id: second.id }, second.secret))).toEqual(['INVALID_STATE']);
  // Server keys are never the last admin key.
  ok(await s.request<any, any>(REVOKE, { id: shop.serverKeyId }, second.secret));
});

test('two revocations of a program\'s last two admin keys at once: one of them is refused', async () => {
  // The operator revokes both (its own key is not at stake), several times over, so the two
  // requests really do meet.
  for (let round = 0; round < 5; round++) {
    const shop = await createProgram(s);
    const [first] = (await keysOf(shop.adminKey)).filter((k) => k.role === 'ADMIN');
    const second = await newKey(shop.adminKey, 'ADMIN');
    const results = await Promise.all([
      s.request<any, any>(REVOKE, { id: second.id }, OPERATOR_KEY),
      s.request<any, any>(REVOKE, { id: first.id }, OPERATOR_KEY),
    ]);
    expect(results.map(codesOf).sort()).toEqual([[], ['INVALID_STATE']]);
    expect((await keysOf(OPERATOR_KEY, shop.programId)).filter((k) => k.role === 'ADMIN' && !k.revokedAt)).toHaveLength(1);
  }
});

test('a key revoked twice, one after the other or at once, keeps the time of its first revocation', async () => {
  const shop = await createProgram(s);
  const first = ok(await s.request<any, any>(REVOKE, { id: shop.serverKeyId }, shop.adminKey)).revokeApiKey.revokedAt;
  const again = ok(await s.request<any, any>(REVOKE, { id: shop.serverKeyId }, shop.adminKey)).revokeApiKey.revokedAt;
  expect(again).toBe(first);
  const spare = await newKey(shop.adminKey, 'SERVER');
  const together = await Promise.all(Array.from({ length: 4 }, () => s.request<any, any>(REVOKE, { id: spare.id }, shop.adminKey)));
  const times = together.map((r) => ok(r).revokeApiKey.revokedAt);
  const stored = (await keysOf(shop.adminKey)).find((k) => k.id === spare.id)!.revokedAt;
  expect(times).toEqual(times.map(() => stored));
});

test('the operator mints, lists and revokes the keys of any program; a program\'s admin only its own', async () => {
  const shop = await createProgram(s);
  const other = await createProgram(s);
  const rescue = await newKey(OPERATOR_KEY, 'ADMIN', shop.programId);
  expect(ok(await s.request<any, any>(PROGRAM, undefined, rescue.secret)).program.id).toBe(shop.programId);
  expect((await keysOf(OPERATOR_KEY, shop.programId)).map((k) => k.id)).toContain(rescue.id);
  ok(await s.request<any, any>(REVOKE, { id: rescue.id }, OPERATOR_KEY));
  expect(codesOf(await s.request<any, any>(PROGRAM, undefined, rescue.secret))).toEqual(['UNAUTHENTICATED']);

  // Another program's admin gets nothing of this.
  expect(codesOf(await s.request<any, any>(CREATE, { input: { role: 'ADMIN', name: 'x' }, programId: shop.programId }, other.adminKey))).toEqual(['FORBIDDEN']);
  expect(codesOf(await s.request<any, any>(KEYS, { programId: shop.programId }, other.adminKey))).toEqual(['FORBIDDEN']);
  expect(codesOf(await s.request<any, any>(REVOKE, { id: shop.serverKeyId }, other.adminKey))).toEqual(['NOT_FOUND']);
  // A program that does not exist.
  expect(codesOf(await s.request<any, any>(CREATE, { input: { role: 'ADMIN', name: 'x' }, programId: '00000000-0000-4000-8000-000000000000' }, OPERATOR_KEY)))
    .toEqual(['NOT_FOUND']);
});

test('the operator revokes its own key; a restart with the same PATRON_ADMIN_KEY brings it back', async () => {
  const first = await startTestServer();
  const operatorKey: Key = ok(await first.request<any, any>(KEYS, {}, OPERATOR_KEY)).apiKeysConnection.nodes.find((k: Key) => k.operator);
  // Its program keeps another admin key, so revoking the operator's is allowed.
  const deputy = ok(await first.request<any, any>(CREATE, { input: { role: 'ADMIN', name: 'deputy' } }, OPERATOR_KEY)).createApiKey.secret;
  ok(await first.request<any, any>(REVOKE, { id: operatorKey.id }, OPERATOR_KEY));
  expect(codesOf(await first.request<any, any>(CREATE_PROGRAM, undefined, OPERATOR_KEY))).toEqual(['UNAUTHENTICATED']);
  expect(codesOf(await first.request<any, any>(CREATE_PROGRAM, undefined, deputy))).toEqual(['FORBIDDEN']);
  await first.app.close({ closeIdle: true });

  const again = await startTestServer({ db: first.db });
  try {
    ok(await again.request<any, any>(CREATE_PROGRAM, undefined, OPERATOR_KEY));
    const keys: Key[] = ok(await again.request<any, any>(KEYS, {}, OPERATOR_KEY)).apiKeysConnection.nodes;
    expect(keys.find((k) => k.id === operatorKey.id)).toMatchObject({ operator: true, revokedAt: null });
  } finally {
    await again.close();
    await first.db.drop();
  }
});
