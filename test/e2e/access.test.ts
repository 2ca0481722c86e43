import { OPERATOR_KEY, startTestServer, type TestServer } from '../support/server';
import {
  AccountDocument,
  AccrueDocument,
  AdjustDocument,
  ApiKeysDocument,
  AuthorizeRedemptionDocument,
  BalanceChangedDocument,
  CaptureRedemptionDocument,
  CreateApiKeyDocument,
  CreateProgramDocument,
  FreezeMemberDocument,
  IssueCustomerTokenDocument,
  LedgerEntriesDocument,
  LotsDocument,
  MeDocument,
  MemberDocument,
  MyBalanceDocument,
  ProgramDocument,
  RedeemDocument,
  ReleaseRedemptionDocument,
  ReverseEntryDocument,
  RevokeApiKeyDocument,
  UnfreezeMemberDocument,
  UpdateProgramSettingsDocument,
  UpsertMemberDocument,
} from './generated/graphql';
import { accrue, codesOf, createMember, createProgram, ok, record, sleep, uniqueKey, untilSubscribed, type ProgramFixture } from './helpers';

/** Real time plus an offset a test can move (customer token expiry). */
const clock = { offsetMs: 0, now: () => new Date(Date.now() + clock.offsetMs) };
let s: TestServer;
let A: ProgramFixture;
let B: ProgramFixture;
let memberA: { id: string; externalId: string };
let memberB: { id: string; externalId: string };
let otherB: { id: string };
let bEntryId: string;
let bAuthorizationId: string;

beforeAll(async () => {
  s = await startTestServer({ clock });
  [A, B] = await Promise.all([createProgram(s), createProgram(s)]);
  // The same shop customer id in both programs: two different members.
  memberA = await createMember(s, A.serverKey, { externalId: 'shared-customer' });
  memberB = await createMember(s, B.serverKey, { externalId: 'shared-customer', email: 'b.member@example.com', phone: '+79120000001' });
  otherB = await createMember(s, B.serverKey);
  bEntryId = (await accrue(s, B.serverKey, memberB.id, 500)).entry.id;
  await accrue(s, B.serverKey, otherB.id, 40);
  const auth = ok(
    await s.request(AuthorizeRedemptionDocument, { input: { member: { id: memberB.id }, points: 100, idempotencyKey: uniqueKey() } }, B.serverKey),
  );
  bAuthorizationId = auth.authorizeRedemption.authorization.id;
});

afterAll(() => s.close());

/** What program B looks like to its own admin: compared before and after the attacks. */
async function snapshotOfB() {
  const entries = ok(await s.request(LedgerEntriesDocument, { member: { id: memberB.id }, first: 100 }, B.adminKey));
  const account = ok(await s.request(AccountDocument, { member: { id: memberB.id } }, B.adminKey));
  const member = ok(await s.request(MemberDocument, { id: memberB.id }, B.adminKey));
  const keys = ok(await s.request(ApiKeysDocument, {}, B.adminKey));
  return {
    entryIds: entries.ledgerEntries.nodes.map((e) => e.id),
    account: account.account,
    status: member.member?.status,
    keys: keys.apiKeys.map((k) => ({ id: k.id, revokedAt: k.revokedAt })),
  };
}

describe('programs are isolated', () => {
  test('a key of program A finds none of program B\'s members, balances, entries or lots', async () => {
    for (const key of [A.adminKey, A.serverKey]) {
      const byId = await s.request(MemberDocument, { id: memberB.id }, key);
      expect({ data: byId.data, errors: byId.errors }).toEqual({ data: { member: null }, errors: undefined });

      const byEmail = await s.request(MemberDocument, { email: 'b.member@example.com' }, key);
      expect(byEmail.data).toEqual({ member: null });
      const byPhone = await s.request(MemberDocument, { phone: '+79120000001' }, key);
      expect(byPhone.data).toEqual({ member: null });

      // The shared customer id resolves to A's own member, never to B's.
      const byExternal = ok(await s.request(MemberDocument, { externalId: 'shared-customer' }, key));
      expect(byExternal.member?.id).toBe(memberA.id);
      expect(memberA.id).not.toBe(memberB.id);

      expect(codesOf(await s.request(AccountDocument, { member: { id: memberB.id } }, key))).toEqual(['NOT_FOUND']);
      expect(codesOf(await s.request(LedgerEntriesDocument, { member: { id: memberB.id } }, key))).toEqual(['NOT_FOUND']);
      expect(codesOf(await s.request(LotsDocument, { member: { id: memberB.id } }, key))).toEqual(['NOT_FOUND']);
      expect(codesOf(await s.request(LedgerEntriesDocument, { member: { email: 'b.member@example.com' } }, key))).toEqual(['NOT_FOUND']);
    }
    // B's own key sees the same data, so the lookups above were not empty for another reason.
    const own = ok(await s.request(MemberDocument, { email: 'b.member@example.com' }, B.serverKey));
    expect(own.member?.id).toBe(memberB.id);
    expect(own.member?.account.available).toBe(400);
  });

  test('a key of program A changes nothing of program B', async () => {
    const before = await snapshotOfB();
    expect(before.entryIds.length).toBe(2);
    const memberRef = { id: memberB.id };
    const attempts = [
      await s.request(AccrueDocument, { input: { member: memberRef, points: 10, idempotencyKey: uniqueKey() } }, A.serverKey),
      await s.request(RedeemDocument, { input: { member: memberRef, points: 10, idempotencyKey: uniqueKey() } }, A.serverKey),
      await s.request(AuthorizeRedemptionDocument, { input: { member: memberRef, points: 10, idempotencyKey: uniqueKey() } }, A.serverKey),
      await s.request(CaptureRedemptionDocument, { input: { authorizationId: bAuthorizationId, idempotencyKey: uniqueKey() } }, A.serverKey),
      await s.request(ReleaseRedemptionDocument, { input: { authorizationId: bAuthorizationId, idempotencyKey: uniqueKey() } }, A.serverKey),
      await s.request(ReverseEntryDocument, { input: { entryId: bEntryId, idempotencyKey: uniqueKey() } }, A.serverKey),
      await s.request(AdjustDocument, { input: { member: memberRef, points: -10, reason: 'x', idempotencyKey: uniqueKey() } }, A.adminKey),
      await s.request(FreezeMemberDocument, { member: memberRef }, A.adminKey),
      await s.request(IssueCustomerTokenDocument, { input: { member: memberRef } }, A.serverKey),
      await s.request(RevokeApiKeyDocument, { id: B.serverKeyId }, A.adminKey),
    ];
    expect(attempts.map((r) => codesOf(r)[0])).toEqual([
      'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND',
    ]);
    for (const r of attempts) expect(r.data ?? null).toBeNull();
    expect(await snapshotOfB()).toEqual(before);
    // B's server key still works, B's authorization is still open for B.
    const release = ok(await s.request(ReleaseRedemptionDocument, { input: { authorizationId: bAuthorizationId, idempotencyKey: uniqueKey() } }, B.serverKey));
    expect(release.releaseRedemption.authorization.status).toBe('RELEASED');
    expect(release.releaseRedemption.account.available).toBe(500);
  });

  test('apiKeys lists only the calling program\'s keys', async () => {
    const a = ok(await s.request(ApiKeysDocument, {}, A.adminKey)).apiKeys;
    const b = ok(await s.request(ApiKeysDocument, {}, B.adminKey)).apiKeys;
    expect(a.map((k) => k.role).sort()).toEqual(['ADMIN', 'SERVER']);
    expect(a.map((k) => k.id)).toContain(A.serverKeyId);
    expect(b.map((k) => k.id)).toContain(B.serverKeyId);
    expect(a.filter((k) => b.some((other) => other.id === k.id))).toEqual([]);
    expect(a.some((k) => k.operator)).toBe(false);
    // The operator's own program holds the operator key, not A's or B's.
    const operator = ok(await s.request(ApiKeysDocument, {}, OPERATOR_KEY)).apiKeys;
    expect(operator.filter((k) => k.operator).length).toBe(1);
    expect(operator.some((k) => k.id === A.serverKeyId || k.id === B.serverKeyId)).toBe(false);
  });

  test('program reports the calling key\'s program', async () => {
    expect(ok(await s.request(ProgramDocument, {}, A.serverKey)).program.id).toBe(A.programId);
    expect(ok(await s.request(ProgramDocument, {}, B.adminKey)).program.id).toBe(B.programId);
  });
});

describe('roles', () => {
  test('a server key cannot call admin operations, and nothing changes', async () => {
    const before = await snapshotOfB();
    const ref = { id: memberB.id };
    const attempts = {
      adjust: await s.request(AdjustDocument, { input: { member: ref, points: 10, reason: 'goodwill', idempotencyKey: uniqueKey() } }, B.serverKey),
      createApiKey: await s.request(CreateApiKeyDocument, { input: { name: 'sneaky', role: 'ADMIN' } }, B.serverKey),
      freezeMember: await s.request(FreezeMemberDocument, { member: ref }, B.serverKey),
      unfreezeMember: await s.request(UnfreezeMemberDocument, { member: ref }, B.serverKey),
      revokeApiKey: await s.request(RevokeApiKeyDocument, { id: B.serverKeyId }, B.serverKey),
      apiKeys: await s.request(ApiKeysDocument, {}, B.serverKey),
      updateProgramSettings: await s.request(UpdateProgramSettingsDocument, { input: { pointValueMinor: 1 } }, B.serverKey),
      createProgram: await s.request(CreateProgramDocument, { input: { name: 'mine' } }, B.serverKey),
      me: await s.request(MeDocument, {}, B.serverKey),
    };
    const codes = Object.fromEntries(Object.entries(attempts).map(([k, r]) => [k, codesOf(r)]));
    expect(codes).toEqual(Object.fromEntries(Object.keys(attempts).map((k) => [k, ['FORBIDDEN']])));
    // Each refusal names the operation and who may use it.
    expect(attempts.adjust.errors![0]!.message).toBe('A server key may not use adjust, which is for admin keys');
    expect(attempts.createProgram.errors![0]!.message).toBe('A server key may not use createProgram, which is for the operator key');
    expect(attempts.me.errors![0]!.message).toBe('A server key may not use me, which is for customer tokens; use member instead');
    expect(await snapshotOfB()).toEqual(before);
    expect(ok(await s.request(ProgramDocument, {}, B.adminKey)).program.pointValueMinor).toBe(100);
  });

  test('a program\'s admin key is not the operator: it cannot create programs', async () => {
    const res = await s.request(CreateProgramDocument, { input: { name: 'not allowed' } }, A.adminKey);
    expect(codesOf(res)).toEqual(['FORBIDDEN']);
    expect(ok(await s.request(CreateProgramDocument, { input: { name: uniqueKey('allowed') } }, OPERATOR_KEY)).createProgram.program.name).toMatch(/^allowed-/);
  });

  test('no credentials, an unknown key or a forged token are refused', async () => {
    const anonymous = await s.request(ProgramDocument, {}, null);
    expect(codesOf(anonymous)).toEqual(['UNAUTHENTICATED']);
    expect(anonymous.data ?? null).toBeNull();
    // The same HTTP status as a key that is not one; what needs no credential still answers 200,
    // and beside what needs one it is answered in a 401.
    expect(anonymous.status).toBe(401);
    const open = await s.request<{ __typename: string }, Record<string, never>>('{ __typename }', {}, null);
    expect({ status: open.status, data: open.data }).toEqual({ status: 200, data: { __typename: 'Query' } });
    const mixed = await s.request<any, Record<string, never>>('{ __typename program { id } }', {}, null);
    expect({ status: mixed.status, data: mixed.data, codes: codesOf(mixed) }).toEqual({ status: 401, data: null, codes: ['UNAUTHENTICATED'] }); // program is non-null: its error nulls the whole answer

    for (const bad of ['ptn_srv_doesnotexist000000000000000000', 'not-a-key', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl']) {
      const res = await s.request(ProgramDocument, {}, bad);
      expect({ bad, status: res.status, codes: codesOf(res) }).toEqual({ bad, status: 401, codes: ['UNAUTHENTICATED'] });
    }
  });

  test('every 401 says how to authenticate (WWW-Authenticate: Bearer), a 200 does not', async () => {
    const post = (query: string, auth?: string) =>
      fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body: JSON.stringify({ query }),
      });
    const challenges: Array<{ case: string; status: number; challenge: string | null }> = [];
    for (const [name, query, auth] of [
      ['no credential', '{ program { id } }', undefined],
      ['an unknown key', '{ program { id } }', 'ptn_srv_doesnotexist000000000000000000'],
      ['a forged token', '{ program { id } }', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'],
      ['no credential, nothing protected asked', '{ __typename }', undefined],
    ] as const) {
      const res = await post(query, auth);
      challenges.push({ case: name, status: res.status, challenge: res.headers.get('www-authenticate') });
    }
    expect(challenges).toEqual([
      { case: 'no credential', status: 401, challenge: 'Bearer realm="patron"' },
      { case: 'an unknown key', status: 401, challenge: 'Bearer realm="patron", error="invalid_token"' },
      { case: 'a forged token', status: 401, challenge: 'Bearer realm="patron", error="invalid_token"' },
      { case: 'no credential, nothing protected asked', status: 200, challenge: null },
    ]);
  });

  test('a revoked key is refused at once by the instance that revoked it', async () => {
    const created = ok(await s.request(CreateApiKeyDocument, { input: { name: 'soon revoked', role: 'SERVER' } }, B.adminKey)).createApiKey;
    expect(ok(await s.request(ProgramDocument, {}, created.secret)).program.id).toBe(B.programId);
    const revoked = ok(await s.request(RevokeApiKeyDocument, { id: created.apiKey.id }, B.adminKey)).revokeApiKey;
    expect(revoked.revokedAt).not.toBeNull();
    const res = await s.request(AccrueDocument, { input: { member: { id: memberB.id }, points: 5, idempotencyKey: uniqueKey() } }, created.secret);
    expect({ status: res.status, codes: codesOf(res) }).toEqual({ status: 401, codes: ['UNAUTHENTICATED'] });
    const listed = ok(await s.request(ApiKeysDocument, {}, B.adminKey)).apiKeys.find((k) => k.id === created.apiKey.id);
    expect(listed?.revokedAt).toBe(revoked.revokedAt);
  });

  test('a revoked key is refused by another instance once its auth cache (5 s) lapses', async () => {
    const second = await startTestServer({ db: s.db });
    try {
      const created = ok(await s.request(CreateApiKeyDocument, { input: { name: 'cached elsewhere', role: 'SERVER' } }, B.adminKey)).createApiKey;
      // The other instance caches the key as valid.
      expect(ok(await second.request(ProgramDocument, {}, created.secret)).program.id).toBe(B.programId);
      ok(await s.request(RevokeApiKeyDocument, { id: created.apiKey.id }, B.adminKey));
      const revokedAt = Date.now();
      let refusedAfter: number | null = null;
      while (Date.now() - revokedAt < 8000) {
        const res = await second.request(ProgramDocument, {}, created.secret);
        if (res.status === 401) {
          expect(codesOf(res)).toEqual(['UNAUTHENTICATED']);
          refusedAfter = Date.now() - revokedAt;
          break;
        }
        expect(res.data?.program.id).toBe(B.programId);
        await sleep(200);
      }
      expect(refusedAfter).not.toBeNull();
      expect(refusedAfter!).toBeLessThanOrEqual(6000);
    } finally {
      await second.close();
    }
  });
});

describe('customer tokens', () => {
  let token: string;

  beforeAll(async () => {
    const issued = ok(await s.request(IssueCustomerTokenDocument, { input: { member: { externalId: 'shared-customer' }, ttlSeconds: 600 } }, B.serverKey));
    expect(issued.issueCustomerToken.memberId).toBe(memberB.id);
    token = issued.issueCustomerToken.token;
  });

  test('read their own member without naming it', async () => {
    const me = ok(await s.request(MeDocument, {}, token)).me;
    expect(me.id).toBe(memberB.id);
    expect(me.account.available).toBe(ok(await s.request(AccountDocument, { member: { id: memberB.id } }, B.adminKey)).account.available);

    const account = ok(await s.request(AccountDocument, {}, token)).account;
    expect(account.memberId).toBe(memberB.id);

    const entries = ok(await s.request(LedgerEntriesDocument, {}, token)).ledgerEntries.nodes;
    const adminView = ok(await s.request(LedgerEntriesDocument, { member: { id: memberB.id } }, B.adminKey)).ledgerEntries.nodes;
    expect(entries.map((e) => e.id)).toEqual(adminView.map((e) => e.publicId));
    expect(entries.length).toBeGreaterThan(0);
    expect(new Set(entries.map((e) => e.memberId))).toEqual(new Set([memberB.id]));

    // Naming itself by id is allowed too.
    expect(ok(await s.request(MemberDocument, { id: memberB.id }, token)).member?.id).toBe(memberB.id);
  });

  test('may name their own member the way the shop knows it: external id, email or phone', async () => {
    // Program A has a member with the same external id; the token's program decides.
    for (const ref of [{ externalId: 'shared-customer' }, { email: 'b.member@example.com' }, { phone: '+79120000001' }]) {
      expect(ok(await s.request(MemberDocument, ref, token)).member?.id).toBe(memberB.id);
      expect(ok(await s.request(AccountDocument, { member: ref }, token)).account.memberId).toBe(memberB.id);
      const entries = ok(await s.request(LedgerEntriesDocument, { member: ref }, token)).ledgerEntries.nodes;
      expect(entries.length).toBeGreaterThan(0);
      expect(ok(await s.request(LotsDocument, { member: ref }, token)).lots.nodes.length).toBeGreaterThan(0);
    }
  });

  test('asking for another member is FORBIDDEN', async () => {
    for (const other of [otherB.id, memberA.id]) {
      expect(codesOf(await s.request(MemberDocument, { id: other }, token))).toEqual(['FORBIDDEN']);
      expect(codesOf(await s.request(AccountDocument, { member: { id: other } }, token))).toEqual(['FORBIDDEN']);
      expect(codesOf(await s.request(LedgerEntriesDocument, { member: { id: other } }, token))).toEqual(['FORBIDDEN']);
      expect(codesOf(await s.request(LotsDocument, { member: { id: other } }, token))).toEqual(['FORBIDDEN']);
    }
    expect(codesOf(await s.request(MemberDocument, { email: 'someone@example.com' }, token))).toEqual(['FORBIDDEN']);
    // Another member's external id, and one nobody has: the same answer, so it tells nothing.
    const otherExternal = (await createMember(s, B.serverKey, { externalId: 'someone-else' })).id;
    expect(otherExternal).not.toBe(memberB.id);
    for (const externalId of ['someone-else', 'nobody-has-this']) {
      expect(codesOf(await s.request(MemberDocument, { externalId }, token))).toEqual(['FORBIDDEN']);
      expect(codesOf(await s.request(AccountDocument, { member: { externalId } }, token))).toEqual(['FORBIDDEN']);
      expect(codesOf(await s.request(LedgerEntriesDocument, { member: { externalId } }, token))).toEqual(['FORBIDDEN']);
      expect(codesOf(await s.request(LotsDocument, { member: { externalId } }, token))).toEqual(['FORBIDDEN']);
    }
  });

  test('cannot write to the ledger or call key and admin operations', async () => {
    const before = await snapshotOfB();
    const ref = { id: memberB.id };
    const attempts = {
      accrue: await s.request(AccrueDocument, { input: { member: ref, points: 1000, idempotencyKey: uniqueKey() } }, token),
      redeem: await s.request(RedeemDocument, { input: { member: ref, points: 1, idempotencyKey: uniqueKey() } }, token),
      authorize: await s.request(AuthorizeRedemptionDocument, { input: { member: ref, points: 1, idempotencyKey: uniqueKey() } }, token),
      reverse: await s.request(ReverseEntryDocument, { input: { entryId: bEntryId, idempotencyKey: uniqueKey() } }, token),
      adjust: await s.request(AdjustDocument, { input: { member: ref, points: 1000, reason: 'me', idempotencyKey: uniqueKey() } }, token),
      createApiKey: await s.request(CreateApiKeyDocument, { input: { name: 'mine', role: 'ADMIN' } }, token),
      freezeMember: await s.request(FreezeMemberDocument, { member: { id: otherB.id } }, token),
      issueCustomerToken: await s.request(IssueCustomerTokenDocument, { input: { member: { id: otherB.id } } }, token),
      upsertMember: await s.request(UpsertMemberDocument, { input: { externalId: 'from-a-token' } }, token),
      apiKeys: await s.request(ApiKeysDocument, {}, token),
      program: await s.request(ProgramDocument, {}, token),
    };
    const codes = Object.fromEntries(Object.entries(attempts).map(([k, r]) => [k, codesOf(r)]));
    expect(codes).toEqual(Object.fromEntries(Object.keys(attempts).map((k) => [k, ['FORBIDDEN']])));
    // Customers' apps learn what they may not do, not which keys exist.
    expect(attempts.adjust.errors![0]!.message).toBe('A customer token may not use adjust');
    expect(attempts.accrue.errors![0]!.message).toBe('A customer token may not use accrue');
    expect(await snapshotOfB()).toEqual(before);
    expect(ok(await s.request(MemberDocument, { externalId: 'from-a-token' }, B.adminKey)).member).toBeNull();
  });

  test('an expired token is UNAUTHENTICATED over HTTP and cannot connect over WebSocket', async () => {
    const short = ok(await s.request(IssueCustomerTokenDocument, { input: { member: { id: memberB.id }, ttlSeconds: 60 } }, B.serverKey)).issueCustomerToken;
    expect(Date.parse(short.expiresAt) - clock.now().getTime()).toBeLessThanOrEqual(60_000);
    expect(ok(await s.request(MeDocument, {}, short.token)).me.id).toBe(memberB.id);
    clock.offsetMs += 61_000;
    try {
      const res = await s.request(MeDocument, {}, short.token);
      expect({ status: res.status, codes: codesOf(res) }).toEqual({ status: 401, codes: ['UNAUTHENTICATED'] });
      const sub = record(s.ws(short.token), MyBalanceDocument, {});
      await sub.settled();
      expect(sub.closeCode).toBe(4403);
    } finally {
      clock.offsetMs -= 61_000;
    }
  });

  test('a tampered token is UNAUTHENTICATED', async () => {
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: otherB.id })).toString('base64url')}.${signature}`;
    const res = await s.request(MeDocument, {}, forged);
    expect({ status: res.status, codes: codesOf(res) }).toEqual({ status: 401, codes: ['UNAUTHENTICATED'] });
  });
});

describe('WebSocket', () => {
  test('a connection without credentials or with a bad key is refused', async () => {
    for (const auth of [null, 'ptn_srv_doesnotexist000000000000000000', 'garbage.token.here']) {
      const sub = record(s.ws(auth), BalanceChangedDocument, { memberId: memberB.id });
      await sub.settled();
      expect({ auth, closeCode: sub.closeCode, events: sub.events }).toEqual({ auth, closeCode: 4403, events: [] });
    }
  });

  test('a revoked key cannot connect', async () => {
    const created = ok(await s.request(CreateApiKeyDocument, { input: { name: 'ws revoked', role: 'SERVER' } }, B.adminKey)).createApiKey;
    ok(await s.request(RevokeApiKeyDocument, { id: created.apiKey.id }, B.adminKey));
    const sub = record(s.ws(created.secret), BalanceChangedDocument, { memberId: memberB.id });
    await sub.settled();
    expect(sub.closeCode).toBe(4403);
  });

  test('a customer token subscribes to its own balance only', async () => {
    const member = await createMember(s, B.serverKey);
    const other = await createMember(s, B.serverKey);
    const token = ok(await s.request(IssueCustomerTokenDocument, { input: { member: { id: member.id } } }, B.serverKey)).issueCustomerToken.token;
    const client = s.ws(token);

    const mine = record(client, MyBalanceDocument, {});
    await untilSubscribed(mine, async () => (await accrue(s, B.serverKey, member.id, 1, uniqueKey('probe'))).entry.publicId, (d) => d.myBalance.entry.id);
    await accrue(s, B.serverKey, other.id, 77);
    const own = await accrue(s, B.serverKey, member.id, 25, 'own-accrual-' + member.id);
    const event = await mine.find((d) => d.myBalance.entry.id === own.entry.publicId);
    expect(event.myBalance.memberId).toBe(member.id);
    // Customers see no idempotency keys (the shop's request ids): test/e2e/customer-view.test.ts.
    expect(event.myBalance.entry).toEqual({ id: own.entry.publicId, kind: 'ACCRUAL', amount: 25, balanceAfter: own.account.available, idempotencyKey: null });
    expect(mine.events.every((e) => e.data.myBalance.memberId === member.id)).toBe(true);

    const foreign = record(client, BalanceChangedDocument, { memberId: other.id });
    await foreign.settled();
    expect(foreign.events).toEqual([]);
    expect(foreign.errors.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    const self = record(client, BalanceChangedDocument, { memberId: member.id });
    await self.settled();
    expect(self.errors.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    // The refusal says which subscription is the customer's.
    expect(self.errors[0]!.message).toBe('A customer token may not use balanceChanged; use myBalance instead');
  });

  test('a key of program A cannot subscribe to program B\'s member', async () => {
    for (const key of [A.serverKey, A.adminKey]) {
      const sub = record(s.ws(key), BalanceChangedDocument, { memberId: memberB.id });
      await sub.settled();
      expect(sub.events).toEqual([]);
      expect(sub.errors.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
    }
    // Keys cannot use the customer-only subscription either.
    const keyMine = record(s.ws(A.serverKey), MyBalanceDocument, {});
    await keyMine.settled();
    expect(keyMine.errors.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(keyMine.errors[0]!.message).toBe('A server key may not use myBalance, which is for customer tokens; use balanceChanged instead');
  });
});
