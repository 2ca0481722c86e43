import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AttributeReferralDocument, CancelOrderDocument, CreateRuleDocument, DeclareReferralSiteDocument, IssueCustomerTokenDocument, MemberReferralsDocument,
  MyReferralsDocument, PayOrderDocument, PlaceOrderDocument, ReferralAttemptsDocument, ReferralTreeDocument, ReportVisitDocument,
  UpdateProgramSettingsDocument, VerifyReferralSiteDocument,
} from './generated/graphql';
import { startTestServer, type TestServer } from '../support/server';
import { seedReferralTree } from '../support/referral-tree';
import { codesOf, createMember, createProgram, ok, uniqueKey, type ProgramFixture } from './helpers';

/** The referral network over the real HTTP API: codes and links, refusals admins see, the customer's view, websites, batching. */

let s: TestServer;
let shop: ProgramFixture;
let site: http.Server;
let siteBody = '';
let siteUrl = '';

beforeAll(async () => {
  s = await startTestServer({ env: { PATRON_REFERRAL_ALLOW_PRIVATE_HOSTS: 'true' } });
  shop = await createProgram(s);
  ok(await s.request(UpdateProgramSettingsDocument, { input: { referralLinkTemplate: 'https://skis.example/?ref={code}' } }, shop.adminKey));
  ok(await s.request(CreateRuleDocument, {
    input: { name: 'Referrer 50', status: 'ACTIVE', definition: { trigger: 'order_paid', actions: [{ code: 'rewardReferrer', args: { points: 50 } }] } },
  }, shop.adminKey));
  site = http.createServer((req, res) => {
    if (req.url === '/.well-known/patron-verification.txt') res.writeHead(200, { 'content-type': 'text/plain' }).end(siteBody);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => site.close(resolve));
  await s.close();
});

async function customerToken(memberId: string): Promise<string> {
  return ok(await s.request(IssueCustomerTokenDocument, { input: { member: { id: memberId } } }, shop.serverKey)).issueCustomerToken.token;
}

test('a customer sees their code, link, figures and tree on `me`; the code at checkout binds the buyer', async () => {
  const anna = await createMember(s, shop.serverKey, { name: 'Anna' });
  const boris = await createMember(s, shop.serverKey, { name: 'Boris', referrerExternalId: anna.externalId });
  const vera = await createMember(s, shop.serverKey, { name: 'Vera' });
  const gleb = await createMember(s, shop.serverKey, { name: 'Gleb', referrerExternalId: boris.externalId });

  const annaToken = await customerToken(anna.id);
  const before = ok(await s.request(MyReferralsDocument, {}, annaToken)).me;
  expect(before.referralCode).toMatch(/^[2-9A-HJ-NP-Z]{8}$/);
  expect(before.referralLink).toBe(`https://skis.example/?ref=${before.referralCode}`);

  // Vera buys with Anna's code: bound at placeOrder, Anna earns when the order is paid.
  const orderId = uniqueKey('order');
  ok(await s.request(PlaceOrderDocument, {
    input: { orderId, member: { id: vera.id }, lines: [{ sku: 'SKIS', unitPriceMinor: 100_000, quantity: 1 }], referralCode: before.referralCode.toLowerCase(), idempotencyKey: uniqueKey() },
  }, shop.serverKey));
  ok(await s.request(PayOrderDocument, { input: { orderId, idempotencyKey: uniqueKey() } }, shop.serverKey));

  const me = ok(await s.request(MyReferralsDocument, {}, annaToken)).me;
  expect(me.referralStats).toEqual({
    directReferrals: 2, networkSize: 3, paidOrders: 1, pointsEarned: 50,
    levels: [{ level: 1, members: 2, paidOrders: 1, pointsEarned: 50 }, { level: 2, members: 1, paidOrders: 0, pointsEarned: 0 }],
  });
  expect(me.referrals.nodes.map((n) => [n.name, n.externalId, n.paidOrders, n.pointsEarned])).toEqual([
    ['Boris', null, 0, 0],
    ['Vera', null, 1, 50],
  ]);
  expect(me.referralTree.size).toBe(3);
  const root = me.referralTree.root;
  expect(root).toMatchObject({ memberId: anna.id, level: 0, externalId: null });
  expect(root.children.map((c) => [c.name, c.level, c.via])).toEqual([['Boris', 1, 'REGISTRATION'], ['Vera', 1, 'CHECKOUT']]);
  expect(root.children[0].children.map((c) => [c.memberId, c.level, c.referrerId])).toEqual([[gleb.id, 2, boris.id]]);

  // Anna's history shows her award, not the order id of the member who bought: that is Vera's to see.
  const history = `query($f: LedgerEntryFilter) { ledgerEntries(filter: $f) { nodes { kind amount causeType causeId orderId reason } } }`;
  const annaEntries = ok(await s.request<any, any>(history, {}, annaToken)).ledgerEntries.nodes;
  expect(annaEntries).toEqual([{ kind: 'ACCRUAL', amount: 50, causeType: 'RULE', causeId: expect.any(String), orderId: null, reason: 'Referrer 50' }]);
  expect(ok(await s.request<any, any>(history, { f: { orderId } }, annaToken)).ledgerEntries.nodes).toEqual([]);
  // The buyer sees her own order's id; keys see every entry's.
  const veraEntries = ok(await s.request<any, any>(history, { f: { orderId } }, await customerToken(vera.id))).ledgerEntries.nodes;
  expect(veraEntries.map((e: any) => e.orderId)).toEqual(veraEntries.map(() => orderId));
  const byServer = ok(await s.request<any, any>(
    'query($m: MemberRefInput!) { ledgerEntries(member: $m) { nodes { orderId } } }', { m: { id: anna.id } }, shop.serverKey,
  )).ledgerEntries.nodes;
  expect(byServer).toEqual([{ orderId }]);
  // Her take-back, when Vera cancels, names no order either.
  ok(await s.request(CancelOrderDocument, { input: { orderId, reason: 'fraud suspected', idempotencyKey: uniqueKey() } }, shop.serverKey));
  const afterCancel = ok(await s.request<any, any>(history, {}, annaToken)).ledgerEntries.nodes;
  expect(afterCancel.map((e: any) => [e.kind, e.causeType, e.causeId, e.orderId, e.reason])).toEqual([
    ['REVERSAL', 'ORDER', null, null, null], ['ACCRUAL', 'RULE', expect.any(String), null, 'Referrer 50'],
  ]);

  // A customer reads only their own tree.
  const other = await s.request(ReferralTreeDocument, { memberId: boris.id, depth: 2 }, annaToken);
  expect(codesOf(other)).toEqual(['FORBIDDEN']);
  // Keys see the shop's ids.
  const byKey = ok(await s.request(MemberReferralsDocument, { id: anna.id, level: 2 }, shop.serverKey)).member!;
  expect(byKey.referrals.nodes).toMatchObject([{ memberId: gleb.id, externalId: gleb.externalId, level: 2, referrerId: boris.id }]);
});

test('upsertMember and placeOrder answer what the referral they carried came to', async () => {
  const anna = await createMember(s, shop.serverKey, { email: 'anna.r@gmail.com' });
  const { referralCode } = ok(await s.request<any, any>('query($id: ID!) { member(id: $id) { referralCode } }', { id: anna.id }, shop.serverKey)).member;
  const outcome = 'referral { accepted reason memberId referrerId via attemptId }';
  const upsert = (input: object) =>
    s.request<any, any>(`mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { created member { id referrerId } ${outcome} } }`, { input }, shop.serverKey);

  // Refused at registration: the member is registered, unbound, and the answer says why.
  const alias = ok(await upsert({ externalId: uniqueKey('alias'), email: 'AnnaR+x@googlemail.com', referrerExternalId: anna.externalId })).upsertMember;
  expect(alias).toMatchObject({ created: true, member: { referrerId: null } });
  expect(alias.referral).toEqual({ accepted: false, reason: 'SAME_EMAIL', memberId: alias.member.id, referrerId: anna.id, via: 'REGISTRATION', attemptId: expect.any(String) });
  const friendInput = { externalId: uniqueKey('friend'), referrerExternalId: anna.externalId };
  const friend = ok(await upsert(friendInput)).upsertMember;
  expect(friend.referral).toMatchObject({ accepted: true, reason: null, referrerId: anna.id, via: 'REGISTRATION' });
  expect(friend.member.referrerId).toBe(anna.id);
  // A retried registration answers the same; an upsert naming no referrer, or of a member who
  // registered without one, carries none.
  expect(ok(await upsert(friendInput)).upsertMember).toEqual({ ...friend, created: false });
  const alone = { externalId: uniqueKey('alone') };
  expect(ok(await upsert(alone)).upsertMember.referral).toBeNull();
  expect(ok(await upsert({ ...alone, referrerExternalId: anna.externalId })).upsertMember).toMatchObject({ created: false, referral: null });

  // At checkout: her own code is refused, the order is placed, and a replay answers the same.
  const place = (extra: object, idempotencyKey = uniqueKey()) => s.request<any, any>(
    `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { status } ${outcome} } }`,
    { input: { orderId: uniqueKey('order'), member: { id: anna.id }, lines: [{ sku: 'POLES', unitPriceMinor: 10_000, quantity: 1 }], idempotencyKey, ...extra } },
    shop.serverKey,
  );
  const [key, orderId] = [uniqueKey(), uniqueKey('order')];
  const own = ok(await place({ orderId, referralCode }, key)).placeOrder;
  expect(own).toEqual({ order: { status: 'PLACED' }, referral: { accepted: false, reason: 'SELF_REFERRAL', memberId: anna.id, referrerId: anna.id, via: 'CHECKOUT', attemptId: expect.any(String) } });
  expect(ok(await place({ orderId, referralCode }, key)).placeOrder).toEqual(own);
  expect(ok(await place({})).placeOrder.referral).toBeNull();
});

test('refusals are answers, recorded for admins; bad input is an error and changes nothing', async () => {
  const anna = await createMember(s, shop.serverKey, { email: 'anna.k@gmail.com' });
  const alias = await createMember(s, shop.serverKey, { email: 'AnnaK+2@googlemail.com' });
  const refused = ok(await s.request(AttributeReferralDocument, { input: { member: { id: alias.id }, via: { referrer: { id: anna.id } } } }, shop.serverKey));
  expect(refused.attributeReferral).toMatchObject({ accepted: false, reason: 'SAME_EMAIL', via: 'MANUAL' });

  const attempts = ok(await s.request(ReferralAttemptsDocument, { memberId: alias.id, refusedOnly: true }, shop.adminKey));
  expect(attempts.referralAttempts.nodes).toEqual([{ memberId: alias.id, referrerId: anna.id, via: 'MANUAL', detail: null, accepted: false, reason: 'SAME_EMAIL' }]);
  expect(codesOf(await s.request(ReferralAttemptsDocument, {}, shop.serverKey))).toEqual(['FORBIDDEN']);

  const bad = [
    await s.request(AttributeReferralDocument, { input: { member: { id: alias.id }, via: { code: 'ZZZZZZZZ' } } }, shop.serverKey),
    await s.request(AttributeReferralDocument, { input: { member: { id: alias.id }, via: {} } }, shop.serverKey),
    await s.request(ReferralTreeDocument, { memberId: anna.id, depth: 11 }, shop.serverKey),
  ];
  expect(bad.map(codesOf)).toEqual([['BAD_USER_INPUT'], ['BAD_USER_INPUT'], ['BAD_USER_INPUT']]);
  const after = ok(await s.request(ReferralAttemptsDocument, { memberId: alias.id }, shop.adminKey));
  expect(after.referralAttempts.nodes).toHaveLength(1);
});

test('a verified referrer website: declared, verified from its well-known file, visits from it bind the visitor', async () => {
  const blogger = await createMember(s, shop.serverKey, { name: 'Blogger' });
  const token = await customerToken(blogger.id);
  const declared = ok(await s.request(DeclareReferralSiteDocument, { url: `${siteUrl}/posts/skis` }, token)).declareReferralSite;
  expect(declared).toMatchObject({ memberId: blogger.id, origin: siteUrl, verified: false, verificationUrl: `${siteUrl}/.well-known/patron-verification.txt` });

  const visitor = await createMember(s, shop.serverKey);
  const visit = { member: { id: visitor.id }, referringUrl: `${siteUrl}/posts/skis?utm_source=blog` };
  expect(ok(await s.request(ReportVisitDocument, { input: visit }, shop.serverKey)).reportVisit).toEqual({ bound: false, referrerId: null, reason: 'no_verified_site' });

  siteBody = 'something else\n';
  const failed = ok(await s.request(VerifyReferralSiteDocument, { siteId: declared.id }, token)).verifyReferralSite;
  expect(failed).toMatchObject({ verified: false, lastError: expect.stringContaining('does not contain the token') });

  siteBody = `# Patron\n${declared.token}\n`;
  const verified = ok(await s.request(VerifyReferralSiteDocument, { siteId: declared.id }, token)).verifyReferralSite;
  expect(verified).toMatchObject({ verified: true, lastError: null });

  expect(ok(await s.request(ReportVisitDocument, { input: visit }, shop.serverKey)).reportVisit).toEqual({ bound: true, referrerId: blogger.id, reason: null });
  const stats = ok(await s.request(MemberReferralsDocument, { id: blogger.id }, shop.serverKey)).member!;
  expect(stats.referrals.nodes).toMatchObject([{ memberId: visitor.id, via: 'WEBSITE' }]);

  // Another customer cannot verify the blogger's site.
  const stranger = await customerToken((await createMember(s, shop.serverKey)).id);
  expect(codesOf(await s.request(VerifyReferralSiteDocument, { siteId: declared.id }, stranger))).toEqual(['NOT_FOUND']);
});

test('a tree of 5 000 members, depth 10, is read in at most depth + 1 statements', async () => {
  const program = await createProgram(s);
  const tree = await seedReferralTree(s.app.db, program.programId, 5000);
  expect(tree.levels).toHaveLength(10);
  ok(await s.request(ReferralTreeDocument, { memberId: tree.rootId, depth: 1 }, program.serverKey)); // the key is cached from here on

  const pool = s.app.db.pool;
  const query = pool.query.bind(pool);
  let statements = 0;
  (pool as any).query = (...args: any[]) => {
    statements++;
    return (query as any)(...args);
  };
  try {
    const res = ok(await s.request(ReferralTreeDocument, { memberId: tree.rootId, depth: 10 }, program.serverKey));
    expect(res.referralTree.size).toBe(5000);
    const perLevel: number[] = [];
    for (const n of res.referralTree.nodes) perLevel[n.level - 1] = (perLevel[n.level - 1] ?? 0) + 1;
    expect(perLevel).toEqual(tree.levels);
    expect(statements).toBeLessThanOrEqual(11);
    expect(statements).toBeGreaterThanOrEqual(2);

    statements = 0;
    ok(await s.request(ReferralTreeDocument, { memberId: tree.rootId, depth: 4 }, program.serverKey));
    expect(statements).toBeLessThanOrEqual(5);
  } finally {
    (pool as any).query = query;
  }
});
