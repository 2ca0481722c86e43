import { print } from 'graphql';
import { ShiftedClock } from '../support/clock';
import { startTestServer, type TestServer } from '../support/server';
import {
  AccountDocument,
  AccrueDocument,
  AdjustDocument,
  AuthorizeRedemptionDocument,
  CaptureRedemptionDocument,
  FreezeMemberDocument,
  LedgerEntriesDocument,
  LotsDocument,
  MemberDocument,
  RedeemDocument,
  ReleaseRedemptionDocument,
  ReverseEntryDocument,
  UnfreezeMemberDocument,
  UpdateProgramSettingsDocument,
  UpsertMemberDocument,
  type EntryKind,
} from './generated/graphql';
import { accrue, codesOf, createMember, createProgram, ok, uniqueKey, type ProgramFixture } from './helpers';

const clock = new ShiftedClock();
let s: TestServer;
let P: ProgramFixture;

beforeAll(async () => {
  s = await startTestServer({ clock });
  P = await createProgram(s);
});
afterAll(() => s.close());

/** The raw HTTP exchange, for byte-for-byte comparisons. */
async function raw(query: string, variables: unknown, key: string): Promise<{ status: number; text: string }> {
  const res = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, text: await res.text() };
}

async function entriesOf(memberId: string, kinds?: EntryKind[]) {
  const res = ok(await s.request(LedgerEntriesDocument, { member: { id: memberId }, first: 200, filter: kinds ? { kinds } : undefined }, P.adminKey));
  return res.ledgerEntries.nodes;
}

async function accountOf(memberId: string) {
  return ok(await s.request(AccountDocument, { member: { id: memberId } }, P.adminKey)).account;
}

describe('concurrency', () => {
  test('200 concurrent redemptions of 10 on a balance of 1000: exactly 100 succeed', async () => {
    const member = await createMember(s, P.serverKey);
    await accrue(s, P.serverKey, member.id, 1000);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        s.request(RedeemDocument, { input: { member: { id: member.id }, points: 10, idempotencyKey: `race-${member.id}-${i}` } }, P.serverKey),
      ),
    );
    expect(results.filter((r) => r.status >= 500)).toEqual([]);
    const succeeded = results.filter((r) => !r.errors && r.data?.redeem);
    const failed = results.filter((r) => r.errors);
    expect(succeeded.length).toBe(100);
    expect(failed.length).toBe(100);
    expect(new Set(failed.map((r) => codesOf(r).join()))).toEqual(new Set(['INSUFFICIENT_POINTS']));
    // Each success saw the balance the previous one left: 990, 980, …, 0, each exactly once.
    const after = succeeded.map((r) => r.data!.redeem.entry.balanceAfter).sort((a, b) => a - b);
    expect(after).toEqual(Array.from({ length: 100 }, (_, i) => i * 10));

    const account = await accountOf(member.id);
    expect({ available: account.available, reserved: account.reserved, lifetimeRedeemed: account.lifetimeRedeemed }).toEqual({
      available: 0,
      reserved: 0,
      lifetimeRedeemed: 1000,
    });
    expect((await entriesOf(member.id, ['REDEMPTION'])).length).toBe(100);
  });

  test('50 parallel requests with one idempotency key make one entry and answer identically', async () => {
    const member = await createMember(s, P.serverKey);
    await accrue(s, P.serverKey, member.id, 500);
    const key = uniqueKey('same');
    const query = print(RedeemDocument);
    const variables = { input: { member: { id: member.id }, points: 30, idempotencyKey: key, reason: 'checkout' } };
    const responses = await Promise.all(Array.from({ length: 50 }, () => raw(query, variables, P.serverKey)));

    expect(responses.filter((r) => r.status !== 200)).toEqual([]);
    const bodies = responses.map((r) => JSON.parse(r.text));
    const successes = responses.filter((_, i) => !bodies[i].errors);
    const conflicts = bodies.filter((b) => b.errors);
    expect(conflicts.map((b) => b.errors.map((e: any) => e.extensions.code).join())).toEqual(conflicts.map(() => 'IDEMPOTENCY_CONFLICT'));
    expect(successes.length).toBeGreaterThan(0);
    expect(new Set(successes.map((r) => r.text)).size).toBe(1);

    const redemptions = await entriesOf(member.id, ['REDEMPTION']);
    expect(redemptions.length).toBe(1);
    const first = JSON.parse(successes[0]!.text).data.redeem;
    expect(first.entry.id).toBe(redemptions[0]!.id);
    expect(first.entry.idempotencyKey).toBe(key);
    expect((await accountOf(member.id)).available).toBe(470);

    // A later retry replays the same bytes.
    expect((await raw(query, variables, P.serverKey)).text).toBe(successes[0]!.text);
  });

  test('the same key with a different input, or for another operation, is IDEMPOTENCY_CONFLICT', async () => {
    const member = await createMember(s, P.serverKey);
    await accrue(s, P.serverKey, member.id, 100);
    const key = uniqueKey('conflict');
    ok(await s.request(RedeemDocument, { input: { member: { id: member.id }, points: 10, idempotencyKey: key } }, P.serverKey));
    const before = await entriesOf(member.id);

    const otherPoints = await s.request(RedeemDocument, { input: { member: { id: member.id }, points: 11, idempotencyKey: key } }, P.serverKey);
    const otherReason = await s.request(RedeemDocument, { input: { member: { id: member.id }, points: 10, idempotencyKey: key, reason: 'x' } }, P.serverKey);
    const otherOperation = await s.request(AccrueDocument, { input: { member: { id: member.id }, points: 10, idempotencyKey: key } }, P.serverKey);
    expect([otherPoints, otherReason, otherOperation].map(codesOf)).toEqual([['IDEMPOTENCY_CONFLICT'], ['IDEMPOTENCY_CONFLICT'], ['IDEMPOTENCY_CONFLICT']]);
    expect(await entriesOf(member.id)).toEqual(before);
    expect((await accountOf(member.id)).available).toBe(90);
  });

  test('a key whose request failed is free again: nothing was recorded', async () => {
    const member = await createMember(s, P.serverKey);
    const key = uniqueKey('retry');
    const input = { member: { id: member.id }, points: 40, idempotencyKey: key };
    expect(codesOf(await s.request(RedeemDocument, { input }, P.serverKey))).toEqual(['INSUFFICIENT_POINTS']);
    await accrue(s, P.serverKey, member.id, 50);
    const retried = ok(await s.request(RedeemDocument, { input }, P.serverKey)).redeem;
    expect(retried.account.available).toBe(10);
    expect(retried.entry.idempotencyKey).toBe(key);
  });
});

describe('bad input is refused with a stable code and writes nothing', () => {
  let memberId: string;

  beforeAll(async () => {
    memberId = (await createMember(s, P.serverKey)).id;
    await accrue(s, P.serverKey, memberId, 100);
  });

  const long = 'x'.repeat(10_000);
  const cases: Array<[string, (m: string) => Record<string, unknown>, string]> = [
    ['points 0', (m) => ({ member: { id: m }, points: 0, idempotencyKey: uniqueKey() }), 'BAD_USER_INPUT'],
    ['negative points', (m) => ({ member: { id: m }, points: -5, idempotencyKey: uniqueKey() }), 'BAD_USER_INPUT'],
    ['fractional points', (m) => ({ member: { id: m }, points: 1.5, idempotencyKey: uniqueKey() }), 'BAD_USER_INPUT'],
    ['NaN as a string', (m) => ({ member: { id: m }, points: 'NaN', idempotencyKey: uniqueKey() }), 'BAD_USER_INPUT'],
    ['2^31', (m) => ({ member: { id: m }, points: 2 ** 31, idempotencyKey: uniqueKey() }), 'BAD_USER_INPUT'],
    ['huge', (m) => ({ member: { id: m }, points: 1e300, idempotencyKey: uniqueKey() }), 'BAD_USER_INPUT'],
    ['above the points ceiling', (m) => ({ member: { id: m }, points: 1_000_000_001, idempotencyKey: uniqueKey() }), 'BAD_USER_INPUT'],
    ['a 10 000-character reason', (m) => ({ member: { id: m }, points: 5, idempotencyKey: uniqueKey(), reason: long }), 'BAD_USER_INPUT'],
    ['a 10 000-character idempotency key', (m) => ({ member: { id: m }, points: 5, idempotencyKey: long }), 'BAD_USER_INPUT'],
    ['an empty idempotency key', (m) => ({ member: { id: m }, points: 5, idempotencyKey: '' }), 'BAD_USER_INPUT'],
    ['two member refs', (m) => ({ member: { id: m, externalId: 'x' }, points: 5, idempotencyKey: uniqueKey() }), 'BAD_USER_INPUT'],
    ['no member ref', () => ({ member: {}, points: 5, idempotencyKey: uniqueKey() }), 'BAD_USER_INPUT'],
  ];

  test.each(cases)('redeem, accrue and authorize with %s', async (_name, input, code) => {
    const before = { entries: await entriesOf(memberId), account: await accountOf(memberId) };
    for (const doc of [RedeemDocument, AccrueDocument, AuthorizeRedemptionDocument]) {
      const first = await s.request(doc as typeof RedeemDocument, { input: input(memberId) } as never, P.serverKey);
      const again = await s.request(doc as typeof RedeemDocument, { input: input(memberId) } as never, P.serverKey);
      expect({ status: first.status < 500, codes: codesOf(first), data: first.data ?? null }).toEqual({ status: true, codes: [code], data: null });
      expect(codesOf(again)).toEqual([code]);
    }
    expect({ entries: await entriesOf(memberId), account: await accountOf(memberId) }).toEqual(before);
  });

  test('literals in the document are refused by validation', async () => {
    const before = await entriesOf(memberId);
    for (const points of ['1.5', '"10"', '2147483648', '-0.5']) {
      const res = await s.request<unknown, unknown>(
        `mutation { redeem(input: { member: { id: "${memberId}" }, points: ${points}, idempotencyKey: "${uniqueKey()}" }) { entry { id } } }`,
      );
      expect({ points, codes: codesOf(res), status: res.status }).toEqual({ points, codes: ['GRAPHQL_VALIDATION_FAILED'], status: 400 });
    }
    expect(await entriesOf(memberId)).toEqual(before);
  });

  test('adjust by 0, bad page sizes and cursors', async () => {
    const before = await entriesOf(memberId);
    const adjust = await s.request(AdjustDocument, { input: { member: { id: memberId }, points: 0, reason: 'nothing', idempotencyKey: uniqueKey() } }, P.adminKey);
    expect(codesOf(adjust)).toEqual(['BAD_USER_INPUT']);
    const noReason = await s.request(AdjustDocument, { input: { member: { id: memberId }, points: 5, reason: '', idempotencyKey: uniqueKey() } }, P.adminKey);
    expect(codesOf(noReason)).toEqual(['BAD_USER_INPUT']);
    for (const first of [0, -1, 201]) {
      expect(codesOf(await s.request(LedgerEntriesDocument, { member: { id: memberId }, first }, P.adminKey))).toEqual(['BAD_USER_INPUT']);
    }
    expect(codesOf(await s.request(LedgerEntriesDocument, { member: { id: memberId }, after: 'not-a-cursor' }, P.adminKey))).toEqual(['BAD_USER_INPUT']);
    expect(await entriesOf(memberId)).toEqual(before);
  });

  test('a constraint of the input names its field in extensions.field, nested ones by their path', async () => {
    const longKey = await s.request(AccrueDocument, { input: { member: { id: memberId }, points: 5, idempotencyKey: 'k'.repeat(201) } }, P.serverKey);
    expect(longKey.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'idempotencyKey', fields: [expect.stringMatching(/idempotencyKey/)] });
    const line = { sku: 'A', unitPriceMinor: 100, quantity: 1 };
    const nested = await s.request<any, any>(
      'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { status } } }',
      { input: { orderId: uniqueKey(), member: { id: memberId }, lines: [line, line, { ...line, quantity: 0 }], idempotencyKey: uniqueKey() } },
      P.serverKey,
    );
    expect(nested.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'lines[2].quantity', fields: [expect.stringMatching(/^lines\[2\]\.quantity /)] });
  });

  test("a cursor is its list's and its member's: another member's, or the other list's, is BAD_USER_INPUT", async () => {
    const other = (await createMember(s, P.serverKey)).id;
    for (const m of [memberId, other]) for (let i = 0; i < 2; i++) await accrue(s, P.serverKey, m, 5);
    const entriesCursor = async (m: string) => ok(await s.request(LedgerEntriesDocument, { member: { id: m }, first: 1 }, P.serverKey)).ledgerEntries.pageInfo.endCursor!;
    const lotsCursor = async (m: string) => ok(await s.request(LotsDocument, { member: { id: m }, first: 1 }, P.serverKey)).lots.pageInfo.endCursor!;
    // Each reads on in its own list.
    expect(ok(await s.request(LedgerEntriesDocument, { member: { id: memberId }, first: 1, after: await entriesCursor(memberId) }, P.serverKey)).ledgerEntries.nodes).toHaveLength(1);
    expect(ok(await s.request(LotsDocument, { member: { id: memberId }, first: 1, after: await lotsCursor(memberId) }, P.serverKey)).lots.nodes).toHaveLength(1);
    for (const after of [await entriesCursor(other), await lotsCursor(memberId)]) {
      const res = await s.request(LedgerEntriesDocument, { member: { id: memberId }, after }, P.serverKey);
      expect({ codes: codesOf(res), field: res.errors?.[0]?.extensions?.field }).toEqual({ codes: ['BAD_USER_INPUT'], field: 'after' });
    }
    for (const after of [await lotsCursor(other), await entriesCursor(memberId)]) {
      expect(codesOf(await s.request(LotsDocument, { member: { id: memberId }, after }, P.serverKey))).toEqual(['BAD_USER_INPUT']);
    }
  });

  test('capture above the hold', async () => {
    const auth = ok(await s.request(AuthorizeRedemptionDocument, { input: { member: { id: memberId }, points: 20, idempotencyKey: uniqueKey() } }, P.serverKey));
    const over = await s.request(CaptureRedemptionDocument, { input: { authorizationId: auth.authorizeRedemption.authorization.id, points: 21, idempotencyKey: uniqueKey() } }, P.serverKey);
    expect(codesOf(over)).toEqual(['BAD_USER_INPUT']);
    expect((await accountOf(memberId)).reserved).toBe(20);
    ok(await s.request(ReleaseRedemptionDocument, { input: { authorizationId: auth.authorizeRedemption.authorization.id, idempotencyKey: uniqueKey() } }, P.serverKey));
  });
});

describe('checkout: authorize, capture, release', () => {
  test('authorize → partial capture → the rest is released', async () => {
    const member = await createMember(s, P.serverKey);
    await accrue(s, P.serverKey, member.id, 1000);
    const auth = ok(
      await s.request(AuthorizeRedemptionDocument, { input: { member: { id: member.id }, points: 300, reference: 'order-1', idempotencyKey: uniqueKey() } }, P.serverKey),
    ).authorizeRedemption;
    expect(auth.authorization).toMatchObject({ memberId: member.id, amount: 300, captured: 0, status: 'OPEN', reference: 'order-1', closedAt: null });
    expect({ available: auth.account.available, reserved: auth.account.reserved }).toEqual({ available: 700, reserved: 300 });

    const capture = ok(
      await s.request(CaptureRedemptionDocument, { input: { authorizationId: auth.authorization.id, points: 120, idempotencyKey: uniqueKey() } }, P.serverKey),
    ).captureRedemption;
    expect(capture.authorization).toMatchObject({ id: auth.authorization.id, amount: 300, captured: 120, status: 'CAPTURED' });
    expect(capture.authorization.closedAt).not.toBeNull();
    expect(capture.entry).toMatchObject({ kind: 'CAPTURE', amount: -120, authorizationId: auth.authorization.id });
    expect({ available: capture.account.available, reserved: capture.account.reserved, lifetimeRedeemed: capture.account.lifetimeRedeemed }).toEqual({
      available: 880,
      reserved: 0,
      lifetimeRedeemed: 120,
    });
    const entries = await entriesOf(member.id);
    expect(entries.map((e) => [e.kind, e.amount, e.balanceAfter, e.reservedAfter])).toEqual([
      ['RELEASE', 0, 880, 0],
      ['CAPTURE', -120, 700, 180],
      ['AUTHORIZATION', 0, 700, 300],
      ['ACCRUAL', 1000, 1000, 0],
    ]);
    // A closed authorization cannot be captured or released again.
    const again = await s.request(CaptureRedemptionDocument, { input: { authorizationId: auth.authorization.id, idempotencyKey: uniqueKey() } }, P.serverKey);
    const release = await s.request(ReleaseRedemptionDocument, { input: { authorizationId: auth.authorization.id, idempotencyKey: uniqueKey() } }, P.serverKey);
    expect([codesOf(again), codesOf(release)]).toEqual([['INVALID_STATE'], ['INVALID_STATE']]);
    expect(again.errors![0].extensions).toMatchObject({ authorizationId: auth.authorization.id, status: 'CAPTURED' });
    expect((await entriesOf(member.id)).length).toBe(4);
  });

  test('release gives every held point back', async () => {
    const member = await createMember(s, P.serverKey);
    await accrue(s, P.serverKey, member.id, 250);
    const auth = ok(await s.request(AuthorizeRedemptionDocument, { input: { member: { id: member.id }, points: 250, idempotencyKey: uniqueKey() } }, P.serverKey)).authorizeRedemption;
    expect(auth.account.available).toBe(0);
    expect(codesOf(await s.request(RedeemDocument, { input: { member: { id: member.id }, points: 1, idempotencyKey: uniqueKey() } }, P.serverKey))).toEqual(['INSUFFICIENT_POINTS']);
    const released = ok(await s.request(ReleaseRedemptionDocument, { input: { authorizationId: auth.authorization.id, idempotencyKey: uniqueKey() } }, P.serverKey)).releaseRedemption;
    expect(released.authorization).toMatchObject({ status: 'RELEASED', captured: 0 });
    expect(released.entry).toMatchObject({ kind: 'RELEASE', amount: 0, balanceAfter: 250, reservedAfter: 0 });
    expect({ available: released.account.available, reserved: released.account.reserved, lifetimeRedeemed: released.account.lifetimeRedeemed }).toEqual({
      available: 250,
      reserved: 0,
      lifetimeRedeemed: 0,
    });
    const capture = await s.request(CaptureRedemptionDocument, { input: { authorizationId: auth.authorization.id, idempotencyKey: uniqueKey() } }, P.serverKey);
    expect(codesOf(capture)).toEqual(['INVALID_STATE']);
  });

  test('capture after the TTL is AUTHORIZATION_EXPIRED (TTL per request and per program)', async () => {
    const member = await createMember(s, P.serverKey);
    await accrue(s, P.serverKey, member.id, 100);
    const perRequest = ok(
      await s.request(AuthorizeRedemptionDocument, { input: { member: { id: member.id }, points: 30, ttlSeconds: 10, idempotencyKey: uniqueKey() } }, P.serverKey),
    ).authorizeRedemption.authorization;
    const programTtl = ok(await s.request(UpdateProgramSettingsDocument, { input: { authorizationTtlSeconds: 20 } }, P.adminKey)).updateProgramSettings;
    expect(programTtl.authorizationTtlSeconds).toBe(20);
    const perProgram = ok(
      await s.request(AuthorizeRedemptionDocument, { input: { member: { id: member.id }, points: 40, idempotencyKey: uniqueKey() } }, P.serverKey),
    ).authorizeRedemption;
    ok(await s.request(UpdateProgramSettingsDocument, { input: { authorizationTtlSeconds: 900 } }, P.adminKey));
    const heldFor = (Date.parse(perProgram.authorization.expiresAt) - Date.parse(perProgram.entry.createdAt)) / 1000;
    expect(heldFor).toBe(20);

    clock.offsetMs += 11_000; // past the first TTL only
    const expired = await s.request(CaptureRedemptionDocument, { input: { authorizationId: perRequest.id, idempotencyKey: uniqueKey() } }, P.serverKey);
    expect(codesOf(expired)).toEqual(['AUTHORIZATION_EXPIRED']);
    const before = await entriesOf(member.id);

    clock.offsetMs += 10_000; // past the program's TTL
    const expiredToo = await s.request(CaptureRedemptionDocument, { input: { authorizationId: perProgram.authorization.id, points: 10, idempotencyKey: uniqueKey() } }, P.serverKey);
    expect(codesOf(expiredToo)).toEqual(['AUTHORIZATION_EXPIRED']);
    expect(await entriesOf(member.id)).toEqual(before);
    expect((await accountOf(member.id)).lifetimeRedeemed).toBe(0);
  });
});

describe('members and the ledger', () => {
  test('a frozen member cannot redeem (ACCOUNT_FROZEN) but still earns', async () => {
    const member = await createMember(s, P.serverKey);
    await accrue(s, P.serverKey, member.id, 100);
    const frozen = ok(await s.request(FreezeMemberDocument, { member: { externalId: member.externalId } }, P.adminKey)).freezeMember;
    expect(frozen.status).toBe('FROZEN');

    const redeem = await s.request(RedeemDocument, { input: { member: { id: member.id }, points: 10, idempotencyKey: uniqueKey() } }, P.serverKey);
    const authorize = await s.request(AuthorizeRedemptionDocument, { input: { member: { id: member.id }, points: 10, idempotencyKey: uniqueKey() } }, P.serverKey);
    expect([codesOf(redeem), codesOf(authorize)]).toEqual([['ACCOUNT_FROZEN'], ['ACCOUNT_FROZEN']]);
    const earned = await accrue(s, P.serverKey, member.id, 15);
    expect(earned.account.available).toBe(115);
    expect((await entriesOf(member.id)).map((e) => e.kind)).toEqual(['ACCRUAL', 'ACCRUAL']);

    ok(await s.request(UnfreezeMemberDocument, { member: { id: member.id } }, P.adminKey));
    const spent = ok(await s.request(RedeemDocument, { input: { member: { id: member.id }, points: 10, idempotencyKey: uniqueKey() } }, P.serverKey));
    expect(spent.redeem.account.available).toBe(105);
  });

  test('reverseEntry undoes an accrual and a redemption, once each', async () => {
    const member = await createMember(s, P.serverKey);
    const first = await accrue(s, P.serverKey, member.id, 100);
    await accrue(s, P.serverKey, member.id, 50);
    const redemption = ok(await s.request(RedeemDocument, { input: { member: { id: member.id }, points: 30, idempotencyKey: uniqueKey() } }, P.serverKey)).redeem;
    expect(redemption.account.available).toBe(120);

    const undoRedeem = ok(await s.request(ReverseEntryDocument, { input: { entryId: redemption.entry.id, reason: 'order cancelled', idempotencyKey: uniqueKey() } }, P.serverKey)).reverseEntry;
    expect(undoRedeem.entry).toMatchObject({ kind: 'REVERSAL', amount: 30, reversesEntryId: redemption.entry.id, reason: 'order cancelled', balanceAfter: 150 });
    expect(undoRedeem.account.lifetimeRedeemed).toBe(0);

    const undoAccrual = ok(await s.request(ReverseEntryDocument, { input: { entryId: first.entry.id, idempotencyKey: uniqueKey() } }, P.serverKey)).reverseEntry;
    expect(undoAccrual.entry).toMatchObject({ kind: 'REVERSAL', amount: -100, reversesEntryId: first.entry.id, balanceAfter: 50 });
    expect({ available: undoAccrual.account.available, lifetimeEarned: undoAccrual.account.lifetimeEarned }).toEqual({ available: 50, lifetimeEarned: 50 });

    const before = await entriesOf(member.id);
    const twice = await s.request(ReverseEntryDocument, { input: { entryId: first.entry.id, idempotencyKey: uniqueKey() } }, P.serverKey);
    const ofReversal = await s.request(ReverseEntryDocument, { input: { entryId: undoAccrual.entry.id, idempotencyKey: uniqueKey() } }, P.serverKey);
    const missing = await s.request(ReverseEntryDocument, { input: { entryId: '999999999', idempotencyKey: uniqueKey() } }, P.serverKey);
    const garbage = await s.request(ReverseEntryDocument, { input: { entryId: 'abc', idempotencyKey: uniqueKey() } }, P.serverKey);
    expect([twice, ofReversal, missing, garbage].map(codesOf)).toEqual([['ALREADY_REVERSED'], ['NOT_REVERSIBLE'], ['NOT_FOUND'], ['NOT_FOUND']]);
    // Entry ids in the details are the API's ids (strings), the same as entry.id.
    expect(twice.errors![0].extensions).toMatchObject({ entryId: first.entry.id, reversalId: undoAccrual.entry.id });
    expect(ofReversal.errors![0].extensions).toMatchObject({ entryId: undoAccrual.entry.id });
    expect(missing.errors![0].extensions).toMatchObject({ entryId: '999999999' });
    expect(garbage.errors![0].extensions).toMatchObject({ entryId: 'abc' });
    // A customer's id for the entry is not what reverseEntry takes, and the refusal says so.
    const byPublicId = await s.request(ReverseEntryDocument, { input: { entryId: first.entry.publicId, idempotencyKey: uniqueKey() } }, P.serverKey);
    expect(byPublicId.errors![0]).toMatchObject({ message: expect.stringContaining('not publicId'), extensions: { code: 'NOT_FOUND', entryId: first.entry.publicId } });
    expect(await entriesOf(member.id)).toEqual(before);
  });

  test('reverseEntry of spent points refuses by default; ifSpent DEBT books what cannot be taken as debt', async () => {
    const member = await createMember(s, P.serverKey);
    const earned = await accrue(s, P.serverKey, member.id, 100);
    ok(await s.request(RedeemDocument, { input: { member: { id: member.id }, points: 70, idempotencyKey: uniqueKey() } }, P.serverKey));
    const refused = await s.request(ReverseEntryDocument, { input: { entryId: earned.entry.id, idempotencyKey: uniqueKey() } }, P.serverKey);
    expect(codesOf(refused)).toEqual(['INSUFFICIENT_POINTS']);
    const input = { entryId: earned.entry.id, ifSpent: 'DEBT' as const, reason: 'Fraudulent accrual', idempotencyKey: uniqueKey() };
    const booked = ok(await s.request(ReverseEntryDocument, { input }, P.serverKey)).reverseEntry;
    expect(booked.entry).toMatchObject({ kind: 'REVERSAL', amount: -100, reversesEntryId: earned.entry.id });
    expect(booked.account).toMatchObject({ available: 0, debt: 70 });
    // The same key with another choice is another request.
    expect(codesOf(await s.request(ReverseEntryDocument, { input: { ...input, ifSpent: 'FORGIVE' } }, P.serverKey))).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect(ok(await s.request(ReverseEntryDocument, { input }, P.serverKey)).reverseEntry).toEqual(booked);
  });

  test('ledgerEntries pages with cursors and filters by kind and period', async () => {
    const member = await createMember(s, P.serverKey);
    const t0 = clock.now();
    const early = [await accrue(s, P.serverKey, member.id, 10), await accrue(s, P.serverKey, member.id, 20)];
    clock.offsetMs += 3_600_000;
    const t1 = clock.now();
    const middle = [
      await accrue(s, P.serverKey, member.id, 30),
      ok(await s.request(RedeemDocument, { input: { member: { id: member.id }, points: 5, idempotencyKey: uniqueKey() } }, P.serverKey)).redeem,
      await accrue(s, P.serverKey, member.id, 40),
    ];
    clock.offsetMs += 3_600_000;
    const t2 = clock.now();
    const late = [
      ok(await s.request(RedeemDocument, { input: { member: { id: member.id }, points: 6, idempotencyKey: uniqueKey() } }, P.serverKey)).redeem,
      await accrue(s, P.serverKey, member.id, 50),
    ];
    const all = [...early, ...middle, ...late].map((r) => r.entry.id).reverse(); // newest first

    // Pages of 3: 3 + 3 + 1, newest first, no gaps or repeats.
    const pages: string[][] = [];
    let after: string | null | undefined;
    for (;;) {
      const page = ok(await s.request(LedgerEntriesDocument, { member: { id: member.id }, first: 3, after }, P.serverKey)).ledgerEntries;
      pages.push(page.nodes.map((n) => n.id));
      if (!page.pageInfo.hasNextPage) break;
      expect(page.pageInfo.endCursor).toBeTruthy();
      after = page.pageInfo.endCursor;
      expect(pages.length).toBeLessThan(5);
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(all);

    const redemptions = ok(await s.request(LedgerEntriesDocument, { member: { id: member.id }, filter: { kinds: ['REDEMPTION'] } }, P.serverKey)).ledgerEntries;
    expect(redemptions.nodes.map((n) => [n.kind, n.amount])).toEqual([['REDEMPTION', -6], ['REDEMPTION', -5]]);
    expect(redemptions.pageInfo.hasNextPage).toBe(false);

    const window = ok(
      await s.request(LedgerEntriesDocument, { member: { id: member.id }, filter: { from: t1.toISOString(), to: t2.toISOString() } }, P.serverKey),
    ).ledgerEntries.nodes;
    expect(window.map((n) => n.id)).toEqual(middle.map((r) => r.entry.id).reverse());

    const accrualsSinceT1 = ok(
      await s.request(LedgerEntriesDocument, { member: { id: member.id }, first: 1, filter: { kinds: ['ACCRUAL'], from: t1.toISOString() } }, P.serverKey),
    ).ledgerEntries;
    expect(accrualsSinceT1.nodes.map((n) => n.amount)).toEqual([50]);
    expect(accrualsSinceT1.pageInfo.hasNextPage).toBe(true);
    const next = ok(
      await s.request(
        LedgerEntriesDocument,
        { member: { id: member.id }, first: 5, after: accrualsSinceT1.pageInfo.endCursor, filter: { kinds: ['ACCRUAL'], from: t1.toISOString() } },
        P.serverKey,
      ),
    ).ledgerEntries;
    expect(next.nodes.map((n) => n.amount)).toEqual([40, 30]);
    expect(next.pageInfo.hasNextPage).toBe(false);

    const beforeAll = ok(await s.request(LedgerEntriesDocument, { member: { id: member.id }, filter: { to: t0.toISOString() } }, P.serverKey)).ledgerEntries;
    expect(beforeAll.nodes).toEqual([]);
    expect(beforeAll.pageInfo).toEqual({ hasNextPage: false, endCursor: null });

    const lots = ok(await s.request(LotsDocument, { member: { id: member.id }, first: 10 }, P.serverKey)).lots.nodes;
    expect(lots.map((l) => l.amount)).toEqual([50, 40, 30, 20, 10]);
    expect(lots.reduce((sum, l) => sum + l.remaining, 0)).toBe((await accountOf(member.id)).available);
  });

  test('members are found by externalId, e-mail and phone in any common spelling', async () => {
    const externalId = uniqueKey('crm');
    const created = ok(
      await s.request(UpsertMemberDocument, { input: { externalId, email: ' Ann.Lee@Example.COM ', phone: '+7 (912) 345-67-89', name: 'Ann' } }, P.serverKey),
    ).upsertMember;
    expect(created.created).toBe(true);
    expect({ email: created.member.email, phone: created.member.phone }).toEqual({ email: 'ann.lee@example.com', phone: '+79123456789' });
    const id = created.member.id;

    const lookups = [
      { externalId },
      { email: 'ann.lee@example.com' },
      { email: 'ANN.LEE@example.com' },
      { phone: '89123456789' },
      { phone: '+79123456789' },
      { phone: '8 (912) 345-67-89' },
      { phone: '+7 912 345 67 89' },
    ];
    for (const vars of lookups) {
      const found = ok(await s.request(MemberDocument, vars, P.serverKey)).member;
      expect({ vars, id: found?.id }).toEqual({ vars, id });
    }
    // Ledger writes accept the same spellings.
    const byPhone = ok(await s.request(AccrueDocument, { input: { member: { phone: '89123456789' }, points: 12, idempotencyKey: uniqueKey() } }, P.serverKey)).accrue;
    expect(byPhone.entry.memberId).toBe(id);
    expect(ok(await s.request(AccountDocument, { member: { email: 'Ann.Lee@example.com' } }, P.serverKey)).account.available).toBe(12);

    // Upserting again by externalId with the other spelling updates the same member.
    const again = ok(await s.request(UpsertMemberDocument, { input: { externalId, phone: '89123456789' } }, P.serverKey)).upsertMember;
    expect({ created: again.created, id: again.member.id, phone: again.member.phone, email: again.member.email }).toEqual({
      created: false,
      id,
      phone: '+79123456789',
      email: 'ann.lee@example.com',
    });

    expect(ok(await s.request(MemberDocument, { phone: '89120000000' }, P.serverKey)).member).toBeNull();
    expect(codesOf(await s.request(MemberDocument, { phone: 'call me' }, P.serverKey))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await s.request(MemberDocument, { email: 'ann.lee@example.com', phone: '89123456789' }, P.serverKey))).toEqual(['BAD_USER_INPUT']);
  });
});
