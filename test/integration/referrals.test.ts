import { RuleStatus } from '../../src/entities/rule';
import type { ProgramSettings } from '../../src/services/programs';
import { DAY_MS, type Actor, type RequestContext } from '../../src/services/shared';
import { testContext } from '../support/context';
import { LedgerAudit } from '../../src/services/ledger';
import type { OrderLineInput } from '../../src/services/orders';
import { ReferralRefusal } from '../../src/services/referrals';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/**
 * The referral network on a real PostgreSQL with the real wiring: attribution and its
 * refusals, the closure table, rewards over the tree with vesting and take-back, the figures.
 * Each test runs in a program of its own.
 */

let h: RulesHarness;
let seq = 0;
const key = (prefix = 'k') => `${prefix}-${++seq}`;

beforeAll(async () => {
  h = await rulesHarness(new Date('2026-05-01T09:00:00Z'));
});
afterAll(() => h.close());

interface Shop {
  programId: string;
  server: RequestContext;
  member(externalId: string, extra?: { email?: string; phone?: string; referrerExternalId?: string }): Promise<string>;
  code(memberId: string): Promise<string>;
  attribute(memberId: string, via: { code?: string; referrerId?: string }, signals?: { deviceHash?: string; ipHash?: string }): ReturnType<RulesHarness['services']['referrals']['attribution']['attribute']>;
  upline(memberId: string): Promise<Array<[number, string]>>;
  chain(n: number): Promise<string[]>;
}

async function shop(settings: Partial<ProgramSettings> = {}): Promise<Shop> {
  const { program } = await h.services.programs.createProgram(h.admin, { name: key('shop'), ...settings });
  const programId = program.id;
  const server = testContext(programId, 'server', 'storefront');
  const s: Shop = {
    programId,
    server,
    async member(externalId, extra = {}) {
      return (await h.services.members.upsert(server, { externalId, ...extra })).member.id;
    },
    async code(memberId) {
      return (await h.services.referrals.attribution.codes(programId, [memberId])).get(memberId)!;
    },
    attribute(memberId, via, signals) {
      return h.services.referrals.attribution.attribute(testContext(programId), {
        member: { id: memberId },
        code: via.code,
        referrer: via.referrerId ? { id: via.referrerId } : null,
        signals,
      });
    },
    async upline(memberId) {
      const rows = await h.database.execute('select depth, ancestor_id from referral_path where member_id = ? order by depth', [memberId]);
      return rows.map((r: any) => [r.depth, r.ancestor_id]);
    },
    /** n members, each referred by the one before: [top, …, bottom]. */
    async chain(n) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const ext = key('chain');
        ids.push((await h.services.members.upsert(server, { externalId: ext, referrerExternalId: i ? extOf.get(ids[i - 1]) : undefined })).member.id);
        extOf.set(ids[i], ext);
      }
      return ids;
    },
  };
  const extOf = new Map<string, string>();
  return s;
}

const ONE_THOUSAND: OrderLineInput[] = [
  { sku: 'SKIS', unitPriceMinor: 60_000, quantity: 1 },
  { sku: 'POLES', unitPriceMinor: 20_000, quantity: 2 },
];

async function paidOrder(s: Shop, memberId: string, lines = ONE_THOUSAND) {
  const orderId = key('order');
  await h.services.orders.placeOrder(s.server, { orderId, member: { id: memberId }, lines, idempotencyKey: key('place') });
  return h.services.orders.payOrder(s.server, { orderId, idempotencyKey: key('pay') });
}

async function account(memberId: string) {
  const [a] = await h.database.execute('select available, pending from account where member_id = ?', [memberId]);
  return { available: Number(a.available), pending: Number(a.pending) };
}

describe('codes and links (R1)', () => {
  it('every member gets one code, unique in the program, kept once made', async () => {
    const s = await shop({ referralLinkTemplate: 'https://skis.example/join?ref={code}' });
    const ids = await Promise.all([1, 2, 3, 4, 5].map((i) => s.member(key(`c${i}`))));
    const codes = await h.services.referrals.attribution.codes(s.programId, ids);
    expect(new Set(codes.values()).size).toBe(5);
    for (const code of codes.values()) expect(code).toMatch(/^[2-9A-HJ-NP-Z]{8}$/);
    expect(await s.code(ids[0])).toBe(codes.get(ids[0]));
    expect(await h.count('select count(*) from referral_code where program_id = ?', [s.programId])).toBe(5);
    const program = await h.services.programs.getProgram(testContext(s.programId, 'admin'));
    expect(program.referralLinkTemplate).toBe('https://skis.example/join?ref={code}');
  });

  it('a link template without {code} is refused and changes nothing', async () => {
    const s = await shop();
    await expect(h.services.programs.updateProgramSettings(testContext(s.programId, 'admin'), { referralLinkTemplate: 'https://x.example/' })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { field: 'referralLinkTemplate' },
    });
    expect((await h.services.programs.getProgram(testContext(s.programId, 'admin'))).referralLinkTemplate).toBe('https://shop.example/?ref={code}');
  });
});

describe('attribution', () => {
  it('at registration: the referrer and the closure are written', async () => {
    const s = await shop();
    const [a, b, c] = await s.chain(3);
    expect(await s.upline(c)).toEqual([[1, b], [2, a]]);
    const [row] = await h.database.execute('select via from referral where member_id = ?', [c]);
    expect(row.via).toBe('registration');
  });

  it('at registration, the same mailbox is refused: the member registers without a referrer and admins see why', async () => {
    const s = await shop();
    await s.member('anna', { email: 'Anna.Petrova@gmail.com' });
    const { member } = await h.services.members.upsert(s.server, { externalId: 'anna-2', email: 'annapetrova+bonus@googlemail.com', referrerExternalId: 'anna' });
    expect(member.referrerId).toBeNull();
    expect(await s.upline(member.id)).toEqual([]);
    const [stored] = await h.database.execute('select referrer_id from member where id = ?', [member.id]);
    expect(stored.referrer_id).toBeNull();
    const attempts = await h.services.referrals.network.attempts(testContext(s.programId), { memberId: member.id });
    expect(attempts.nodes).toMatchObject([{ accepted: false, reason: ReferralRefusal.SAME_EMAIL, via: 'registration' }]);
  });

  it('by code: the first valid attribution wins, a repeat answers the same, another referrer is refused', async () => {
    const s = await shop();
    const anna = await s.member('anna');
    const vera = await s.member('vera');
    const boris = await s.member('boris');
    const first = await s.attribute(boris, { code: (await s.code(anna)).toLowerCase() });
    expect(first).toMatchObject({ accepted: true, reason: null, referrerId: anna, via: 'link' });
    expect(await s.attribute(boris, { code: await s.code(anna) })).toMatchObject({ accepted: true, attemptId: null });
    expect(await s.attribute(boris, { referrerId: vera })).toMatchObject({ accepted: false, reason: ReferralRefusal.ALREADY_REFERRED });
    expect(await s.upline(boris)).toEqual([[1, anna]]);
    await expect(s.attribute(boris, { code: 'ZZZZZZZZ' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'via.code' } });
    await expect(s.attribute(boris, { code: 'A', referrerId: vera })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  // The same phone (E.164) cannot belong to two members of a program; refusalOf's unit test covers SAME_PHONE.
  it('refuses self-referral, the same device or IP, after the first paid order', async () => {
    const s = await shop();
    const anna = await s.member('anna', { phone: '+7 912 000-00-01' });
    expect(await s.attribute(anna, { referrerId: anna })).toMatchObject({ accepted: false, reason: ReferralRefusal.SELF_REFERRAL });

    const vera = await s.member('vera');
    await s.attribute(vera, { referrerId: await s.member('someone') }, { deviceHash: 'device-hash-vera', ipHash: 'ip-hash-shared' });
    const gleb = await s.member('gleb');
    expect(await s.attribute(gleb, { referrerId: vera }, { deviceHash: 'device-hash-vera' })).toMatchObject({ reason: ReferralRefusal.SAME_DEVICE });
    const dana = await s.member('dana');
    expect(await s.attribute(dana, { referrerId: vera }, { ipHash: 'ip-hash-shared' })).toMatchObject({ reason: ReferralRefusal.SAME_IP });
    await expect(s.attribute(dana, { referrerId: vera }, { ipHash: 'x' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'ipHash' } });

    const late = await s.member('late');
    await paidOrder(s, late);
    expect(await s.attribute(late, { referrerId: vera })).toMatchObject({ accepted: false, reason: ReferralRefusal.AFTER_FIRST_ORDER });

    const refused = await h.services.referrals.network.attempts(testContext(s.programId), { refusedOnly: true, first: 50 });
    expect(refused.nodes.map((a) => a.reason).sort()).toEqual(
      ['after_first_order', 'same_device', 'same_ip', 'self_referral'].sort(),
    );
  });

  it('refuses a cycle: a member cannot be bound below their own network', async () => {
    const s = await shop();
    const a = await s.member('a');
    const [b, , d] = await s.chain(3);
    await s.attribute(b, { referrerId: a });
    expect(await s.attribute(a, { referrerId: d })).toMatchObject({ accepted: false, reason: ReferralRefusal.CYCLE });
    expect(await s.upline(a)).toEqual([]);
  });

  it('binding a member with a network moves the whole network under the referrer, within the depth limit', async () => {
    const s = await shop({ referralMaxDepth: 4 });
    const [top, mid] = await s.chain(2);
    const [sub, subChild, subGrandchild] = await s.chain(3);
    expect(await s.attribute(sub, { referrerId: mid })).toMatchObject({ accepted: true });
    expect(await s.upline(subGrandchild)).toEqual([[1, subChild], [2, sub], [3, mid], [4, top]]);

    // A fresh network of height 1 under subGrandchild (level 4) would put a member at level 6 > 4.
    const [other] = await s.chain(2);
    expect(await s.attribute(other, { referrerId: subChild })).toMatchObject({ accepted: false, reason: ReferralRefusal.TOO_DEEP });
    const newcomer = await s.member('newcomer');
    expect(await s.attribute(newcomer, { referrerId: subGrandchild })).toMatchObject({ accepted: false, reason: ReferralRefusal.TOO_DEEP });
    expect(await s.attribute(newcomer, { referrerId: subChild })).toMatchObject({ accepted: true });
  });

  it('at checkout: placeOrder with a code binds the buyer; an unknown code places nothing', async () => {
    const s = await shop();
    const anna = await s.member('anna');
    const boris = await s.member('boris');
    await expect(
      h.services.orders.placeOrder(s.server, { orderId: 'o-bad', member: { id: boris }, lines: ONE_THOUSAND, referralCode: 'ZZZZZZZZ', idempotencyKey: key() }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'referralCode' } });
    expect(await h.count('select count(*) from shop_order where program_id = ?', [s.programId])).toBe(0);
    await expect(
      h.services.orders.checkoutQuote(s.server, { order: { member: { id: boris }, lines: ONE_THOUSAND, referralCode: 'ZZZZZZZZ' } }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });

    const code = await s.code(anna);
    await h.services.orders.checkoutQuote(s.server, { order: { member: { id: boris }, lines: ONE_THOUSAND, referralCode: code } });
    expect(await s.upline(boris)).toEqual([]); // a quote binds nobody
    await h.services.orders.placeOrder(s.server, { orderId: 'o-1', member: { id: boris }, lines: ONE_THOUSAND, referralCode: code, idempotencyKey: key() });
    expect(await s.upline(boris)).toEqual([[1, anna]]);
    const [row] = await h.database.execute('select via from referral where member_id = ?', [boris]);
    expect(row.via).toBe('checkout');
  });
});

describe('rewards over the tree (E7)', () => {
  async function rewardingShop(settings: Partial<ProgramSettings> = {}) {
    const s = await shop(settings);
    const admin = testContext(s.programId, 'admin', 'admin');
    for (const [level, points] of [[1, 50], [2, 30], [3, 20]]) {
      await h.services.rules.createRule(admin, {
        name: `Referrer level ${level}`,
        status: RuleStatus.ACTIVE,
        definition: { trigger: 'order_paid', actions: [{ code: 'rewardReferrer', args: { level, points } }] },
      });
    }
    return s;
  }

  it('levels 1..3 earn pending points that vest after the return window, and a cancel takes them back at every level', async () => {
    const s = await rewardingShop({ returnWindowDays: 14 });
    const [l3, l2, l1, buyer] = await s.chain(4);
    const paid = await paidOrder(s, buyer);
    expect(paid.order.awards.map((a) => [a.memberId, a.points])).toEqual(expect.arrayContaining([[l1, 50], [l2, 30], [l3, 20]]));
    for (const [id, points] of [[l1, 50], [l2, 30], [l3, 20]] as const) expect(await account(id)).toEqual({ available: 0, pending: points });
    const lots = await h.database.execute(
      `select l.available_at from lot l join account a on a.id = l.account_id where a.member_id = any(?::uuid[])`,
      [`{${l1},${l2},${l3}}`],
    );
    expect(lots.map((l: any) => new Date(l.available_at).getTime())).toEqual(Array(3).fill(h.clock.now().getTime() + 14 * DAY_MS));

    await h.services.orders.cancelOrder(s.server, { orderId: paid.order.orderId, idempotencyKey: key('cancel') });
    for (const id of [l1, l2, l3]) expect(await account(id)).toEqual({ available: 0, pending: 0 });
    const verification = await new LedgerAudit(h.database).verifyLedger({ programId: s.programId });
    expect(verification.discrepancies).toEqual([]);
  });

  it('a partial return takes back each level\'s share; what is left vests after the window', async () => {
    const s = await rewardingShop({ returnWindowDays: 14 });
    const [l3, l2, l1, buyer] = await s.chain(4);
    const paid = await paidOrder(s, buyer, [{ sku: 'A', unitPriceMinor: 50_000, quantity: 2 }]);
    await h.services.orders.refundOrderLines(s.server, { orderId: paid.order.orderId, lines: [{ lineIndex: 0, quantity: 1 }], idempotencyKey: key('refund') });
    expect(await account(l1)).toEqual({ available: 0, pending: 25 });
    expect(await account(l2)).toEqual({ available: 0, pending: 15 });
    expect(await account(l3)).toEqual({ available: 0, pending: 10 });

    h.clock.advance(15 * DAY_MS);
    await h.services.ledger.accrue(s.server, { member: { id: l3 }, points: 1, idempotencyKey: key('touch') }); // a write activates due lots
    expect(await account(l3)).toEqual({ available: 11, pending: 0 });
    const stats = await h.services.referrals.network.stats(testContext(s.programId), l3);
    expect(stats.levels.map((l) => [l.level, l.members, l.paidOrders, l.pointsEarned])).toEqual([[1, 1, 0, 0], [2, 1, 0, 0], [3, 1, 1, 10]]);
  });

  it('with no return window set, awards follow the rule and the program (available at once by default)', async () => {
    const s = await rewardingShop();
    const [l1, buyer] = await s.chain(2);
    await paidOrder(s, buyer);
    expect(await account(l1)).toEqual({ available: 50, pending: 0 });
  });
});

describe('the network\'s figures (R4)', () => {
  it('per level: members, paid orders, points earned from that level; referees page by page', async () => {
    const s = await shop();
    const admin = testContext(s.programId, 'admin', 'admin');
    await h.services.rules.createRule(admin, {
      name: 'Referrer 5 % level 1', status: RuleStatus.ACTIVE,
      definition: { trigger: 'order_paid', actions: [{ code: 'rewardReferrer', args: { level: 1, percent: 5 } }] },
    });
    const root = await s.member('root');
    const direct = [];
    for (let i = 0; i < 3; i++) {
      h.clock.advance(1000); // referees are listed in the order they joined
      const id = await s.member(key('d'));
      await s.attribute(id, { referrerId: root });
      direct.push(id);
    }
    const second = await s.member('second');
    await s.attribute(second, { referrerId: direct[0] });
    await paidOrder(s, direct[0]);
    await paidOrder(s, direct[1]);
    await paidOrder(s, second);

    const stats = await h.services.referrals.network.stats(testContext(s.programId), root);
    expect(stats).toEqual({
      directReferrals: 3, networkSize: 4, paidOrders: 3, pointsEarned: 100,
      levels: [{ level: 1, members: 3, paidOrders: 2, pointsEarned: 100 }, { level: 2, members: 1, paidOrders: 1, pointsEarned: 0 }],
    });

    const page1 = await h.services.referrals.network.referees(testContext(s.programId), root, { level: 1, first: 2 });
    expect(page1.nodes.map((n) => n.memberId)).toEqual(direct.slice(0, 2));
    expect(page1.nodes.map((n) => [n.paidOrders, n.pointsEarned])).toEqual([[1, 50], [1, 50]]);
    const page2 = await h.services.referrals.network.referees(testContext(s.programId), root, { level: 1, first: 2, after: page1.endCursor });
    expect(page2).toMatchObject({ hasNextPage: false, endCursor: null });
    expect(page2.nodes.map((n) => n.memberId)).toEqual([direct[2]]);
    const level2 = await h.services.referrals.network.referees(testContext(s.programId), root, { level: 2 });
    expect(level2.nodes).toMatchObject([{ memberId: second, level: 2, referrerId: direct[0] }]);
    await expect(h.services.referrals.network.referees(testContext(s.programId), root, { level: 11 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(h.services.referrals.network.referees(testContext(s.programId), root, { after: 'bogus' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});

describe('referrer websites (R3)', () => {
  it('verification refuses loopback and private addresses unless configured, by address or by name', async () => {
    const s = await shop();
    const blogger = await s.member('blogger');
    for (const url of ['http://127.0.0.1:9/', 'http://localhost:9/', 'http://[::1]:9/', 'http://10.0.0.1/']) {
      const declared = await h.services.referrals.sites.declare(testContext(s.programId), { id: blogger }, url);
      const checked = await h.services.referrals.sites.verify(testContext(s.programId), declared.id);
      expect(checked).toMatchObject({ verified: false, lastError: expect.stringContaining('private or loopback') });
    }
    await expect(h.services.referrals.sites.declare(testContext(s.programId), { id: blogger }, 'ftp://x.example')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});

describe('the closure table', () => {
  it('stays the walk of the edges when members, and whole networks, are bound in any order', async () => {
    const s = await shop({ referralMaxDepth: 6 });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await s.member(key('net')));
    let seed = 5;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const outcomes = new Map<string, number>();
    for (let k = 0; k < 150; k++) {
      const [member, referrer] = [ids[rand(40)], ids[rand(40)]];
      const r = await s.attribute(member, { referrerId: referrer });
      const name = r.accepted ? 'accepted' : r.reason!;
      outcomes.set(name, (outcomes.get(name) ?? 0) + 1);
    }
    // The walk exercised binding leaves and networks, and refusals.
    expect(outcomes.get('accepted')).toBeGreaterThan(20);
    expect(outcomes.get(ReferralRefusal.ALREADY_REFERRED)).toBeGreaterThan(0);
    const [row] = await h.database.execute(
      `with recursive up (member_id, depth, ancestor_id) as (
         select member_id, 1, referrer_id from referral where program_id = ?
         union all select up.member_id, up.depth + 1, r.referrer_id from up join referral r on r.member_id = up.ancestor_id
       )
       select (select count(*) from up) as walked,
         (select count(*) from referral_path where program_id = ?) as stored,
         (select count(*) from (select * from up except select member_id, depth, ancestor_id from referral_path) x) as missing,
         (select coalesce(max(depth), 0) from up) as deepest,
         (select count(*) from member m left join referral r on r.member_id = m.id
           where m.program_id = ? and m.referrer_id is distinct from r.referrer_id) as mirror_differs`,
      [s.programId, s.programId, s.programId],
    );
    expect(Number(row.walked)).toBe(Number(row.stored));
    expect(Number(row.missing)).toBe(0);
    expect(Number(row.deepest)).toBeLessThanOrEqual(6);
    expect(Number(row.mirror_differs)).toBe(0);
  });
});
