import { DAY_MS } from '../../src/services/shared';
import { testContext } from '../support/context';
import type { TierStructureInput } from '../../src/services/tiers';
import { TIER_CHANGED } from '../../src/services/tiers';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/**
 * Tiers against a real PostgreSQL through the real order lifecycle: each test runs in a shop of
 * its own (time zone UTC) with three levels by money paid.
 */

let h: RulesHarness;
let seq = 0;
const key = (prefix = 'k') => `${prefix}-${++seq}`;
const START = new Date('2026-04-01T09:00:00Z');

beforeAll(async () => {
  h = await rulesHarness(START);
});
afterAll(() => h.close());
beforeEach(() => h.clock.set(START));

const LEVELS: TierStructureInput['levels'] = [
  { code: 'standard', name: 'Standard', threshold: 0 },
  { code: 'silver', name: 'Silver', threshold: 100_000, earnMultiplier: 1.5, maxRedeemPercent: 30, discountPercent: 3 },
  { code: 'gold', name: 'Gold', threshold: 500_000, earnMultiplier: 2, discountPercent: 7, perks: ['free wrapping'] },
];

async function shop(structure: Partial<TierStructureInput> = {}) {
  const { program } = await h.services.programs.createProgram(h.admin, { name: key('shop'), maxRedeemPercent: 20, timeZone: 'UTC' });
  const admin = testContext(program.id, 'admin', 'admin');
  const server = testContext(program.id, 'server', 'storefront');
  const input: TierStructureInput = { metric: 'spend', window: 'lifetime', downgradePolicy: 'to_earned', graceDays: 30, levels: LEVELS, ...structure };
  await h.services.tiers.saveStructure(admin, input);
  const tiers = h.services.tiers;
  return {
    programId: program.id,
    admin,
    server,
    input,
    async member(externalId = key('m')) {
      return (await h.services.members.upsert(server, { externalId })).member.id;
    },
    async order(memberId: string, lines: Array<[sku: string, priceMinor: number, quantity?: number]>, points = 0) {
      const orderId = key('order');
      await h.services.orders.placeOrder(server, {
        orderId, member: { id: memberId }, points, idempotencyKey: key(),
        lines: lines.map(([sku, unitPriceMinor, quantity = 1]) => ({ sku, unitPriceMinor, quantity })),
      });
      await h.services.orders.payOrder(server, { orderId, idempotencyKey: key() });
      return orderId;
    },
    cancel: (orderId: string) => h.services.orders.cancelOrder(server, { orderId, idempotencyKey: key() }),
    refund: (orderId: string, sku: string, quantity = 1) =>
      h.services.orders.refundOrderLines(server, { orderId, idempotencyKey: key(), lines: [{ sku, quantity }] }),
    status: (memberId: string) => tiers.tierStatus(program.id, { id: memberId }).then((s) => s!),
    async tier(memberId: string) {
      return (await tiers.tierStatus(program.id, { id: memberId }))!.tier?.code ?? null;
    },
    history: (memberId: string) => tiers.tierHistory(program.id, { id: memberId }),
    requalify: () => tiers.requalify(h.clock.now()),
  };
}

describe('qualification through the order lifecycle', () => {
  it('lifts the member in the transaction that paid the order, and says so after commit', async () => {
    const s = await shop();
    const anna = await s.member();
    expect(await s.tier(anna)).toBe('standard');
    await s.order(anna, [['bike', 60_000]]);
    expect(await s.tier(anna)).toBe('standard');
    await h.publishOutbox();
    const published = h.published.length;
    await s.order(anna, [['helmet', 45_000]]);
    await h.publishOutbox();
    const status = await s.status(anna);
    expect(status).toMatchObject({ tier: { code: 'silver' }, source: 'earned', qualifyingAmount: 105_000, nextTier: { code: 'gold' }, amountToNext: 395_000, progress: 0.21 });
    expect(status.since).toEqual(START);
    expect(status.validUntil).toBeNull(); // lifetime: kept for good
    expect((await s.history(anna)).map((c) => [c.fromCode, c.toCode, c.reason])).toEqual([['standard', 'silver', 'qualified']]);
    const events = h.published.slice(published).filter((e) => e.topic === TIER_CHANGED);
    expect(events).toEqual([{ topic: TIER_CHANGED, id: anna, payload: expect.objectContaining({ fromCode: 'standard', toCode: 'silver' }) }]);
  });

  it('counts money paid net of points: a redemption is never spend', async () => {
    const s = await shop();
    const boris = await s.member();
    await h.services.ledger.accrue(s.server, { member: { id: boris }, points: 5_000, idempotencyKey: key() });
    // 110 000 of goods, 20 % (22 000) paid with points: 88 000 of money.
    await s.order(boris, [['tent', 110_000]], 220);
    const status = await s.status(boris);
    expect(status.qualifyingAmount).toBe(110_000 - 220 * 100);
    expect(status.tier!.code).toBe('standard');
  });

  it('takes the tier back at once when the order that earned it is cancelled', async () => {
    const s = await shop();
    const vera = await s.member();
    await s.order(vera, [['skis', 50_000]]);
    const gold = await s.order(vera, [['boat', 460_000]]);
    expect(await s.tier(vera)).toBe('gold');
    await s.cancel(gold);
    const status = await s.status(vera);
    expect(status).toMatchObject({ tier: { code: 'standard' }, qualifyingAmount: 50_000 });
    expect((await s.history(vera)).map((c) => [c.fromCode, c.toCode, c.reason])).toEqual([
      ['gold', 'standard', 'returned'],
      ['standard', 'gold', 'qualified'],
    ]);
  });

  it('takes back exactly what returned lines added, down to the tier still earned', async () => {
    const s = await shop();
    const gleb = await s.member();
    const order = await s.order(gleb, [['jacket', 30_000, 3], ['boots', 420_000]]);
    expect((await s.status(gleb)).qualifyingAmount).toBe(510_000);
    expect(await s.tier(gleb)).toBe('gold');
    await s.refund(order, 'jacket', 1);
    expect(await s.status(gleb)).toMatchObject({ tier: { code: 'silver' }, qualifyingAmount: 480_000 });
    // Without the boots the member never reached silver either: 60 000 < 100 000.
    await s.refund(order, 'boots');
    expect(await s.status(gleb)).toMatchObject({ tier: { code: 'standard' }, qualifyingAmount: 60_000 });
    await s.refund(order, 'jacket', 2);
    expect((await s.status(gleb)).qualifyingAmount).toBe(0);
  });

  it('takes a tier held in its grace period when the order it rested on is returned', async () => {
    const s = await shop({ window: 'rolling_months', windowMonths: 1, graceDays: 60 });
    const dina = await s.member();
    const order = await s.order(dina, [['kayak', 150_000]]);
    expect(await s.tier(dina)).toBe('silver');
    h.clock.advance(45 * DAY_MS); // out of the window, within the grace period
    expect((await s.status(dina)).qualifyingAmount).toBe(0);
    expect(await s.tier(dina)).toBe('silver');
    await s.refund(order, 'kayak');
    // Silver rested on the kayak: without it the member never qualified, so it goes.
    expect(await s.tier(dina)).toBe('standard');
  });
});

describe('the requalify-tiers job', () => {
  it('takes a tier down only after the grace period, and says when beforehand', async () => {
    const s = await shop({ window: 'rolling_months', windowMonths: 12, graceDays: 30 });
    const egor = await s.member();
    await s.order(egor, [['canoe', 120_000]]);
    const risk = (await s.status(egor)).downgradeRisk!;
    expect(risk.toCode).toBe('standard');
    expect(risk.at.toISOString()).toBe('2027-05-01T09:00:00.001Z'); // counted until 2027-04-01 09:00, then 30 days of grace
    h.clock.set(new Date('2027-04-20T00:00:00Z'));
    expect((await s.status(egor)).qualifyingAmount).toBe(0);
    await s.requalify();
    expect(await s.tier(egor)).toBe('silver');
    h.clock.set(new Date('2027-05-01T09:00:00.001Z'));
    expect((await s.requalify()).downgraded).toBe(1);
    expect(await s.tier(egor)).toBe('standard');
    expect((await s.history(egor))[0]).toMatchObject({ fromCode: 'silver', toCode: 'standard', reason: 'grace_ended' });
    expect((await s.requalify()).changed).toBe(0);
  });

  it('steps down one level per grace period under one_level', async () => {
    const s = await shop({ window: 'calendar_year', downgradePolicy: 'one_level', graceDays: 10 });
    const fedor = await s.member();
    await s.order(fedor, [['yacht', 600_000]]);
    expect(await s.tier(fedor)).toBe('gold');
    h.clock.set(new Date('2027-01-05T00:00:00Z'));
    await s.requalify();
    expect(await s.tier(fedor)).toBe('gold'); // the 2026 amount counts until New Year, then 10 days of grace
    h.clock.set(new Date('2027-01-11T00:00:00Z'));
    await s.requalify();
    expect(await s.tier(fedor)).toBe('silver');
    h.clock.set(new Date('2027-01-15T00:00:00Z'));
    await s.requalify();
    expect(await s.tier(fedor)).toBe('silver');
    h.clock.set(new Date('2027-01-21T00:00:01Z'));
    await s.requalify();
    expect(await s.tier(fedor)).toBe('standard');
  });

  it('ends a VIP assignment: afterwards the member holds what they earned, not the VIP tier', async () => {
    const s = await shop({ window: 'rolling_months', windowMonths: 12 });
    const galina = await s.member();
    await s.order(galina, [['tent', 120_000]]);
    const until = new Date(START.getTime() + 10 * DAY_MS);
    const vip = await h.services.tiers.assignTier(s.admin, { member: { id: galina }, tierCode: 'gold', until, reason: 'Press' });
    expect(vip).toMatchObject({ tier: { code: 'gold' }, source: 'manual', validUntil: until, earnedTier: { code: 'silver' } });
    h.clock.set(new Date(until.getTime() + 1));
    // Past its end the grant counts for nothing, even before the job records it.
    expect(await s.tier(galina)).toBe('silver');
    expect((await s.requalify()).grantsEnded).toBe(1);
    expect((await s.history(galina))[0]).toMatchObject({ fromCode: 'gold', toCode: 'silver', reason: 'assignment_ended' });
    await expect(h.services.tiers.assignTier(s.admin, { member: { id: galina }, tierCode: 'platinum', until: new Date('2030-01-01') }))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'tierCode' } });
  });

  it('sells a paid membership idempotently, renews it from its end, and lets it lapse', async () => {
    const s = await shop();
    const ivan = await s.member();
    const buy = (idempotencyKey: string) =>
      h.services.tiers.purchaseTierMembership(s.server, { member: { id: ivan }, tierCode: 'gold', months: 1, idempotencyKey });
    const first = await buy('vip-1');
    expect(first).toEqual({ memberId: ivan, tierCode: 'gold', validUntil: new Date('2026-05-01T09:00:00Z'), renewed: false });
    expect(await buy('vip-1')).toEqual(first);
    await expect(h.services.tiers.purchaseTierMembership(s.server, { member: { id: ivan }, tierCode: 'silver', months: 1, idempotencyKey: 'vip-1' }))
      .rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    expect(await s.status(ivan)).toMatchObject({ tier: { code: 'gold' }, source: 'paid' });
    h.clock.advance(20 * DAY_MS);
    expect(await buy('vip-2')).toMatchObject({ validUntil: new Date('2026-06-01T09:00:00Z'), renewed: true });
    h.clock.set(new Date('2026-06-01T09:00:00Z'));
    await s.requalify();
    expect(await s.tier(ivan)).toBe('standard');
    expect((await s.history(ivan)).map((c) => c.reason)).toEqual(['membership_lapsed', 'purchased', 'purchased']);
  });

  it('refuses to sell a lower tier over a running grant, or the base tier; a higher one replaces the grant from now', async () => {
    const s = await shop();
    const jo = await s.member();
    const buy = (tierCode: string, months: number, idempotencyKey = `jo-${tierCode}-${months}-${h.clock.now().getTime()}`) =>
      h.services.tiers.purchaseTierMembership(s.server, { member: { id: jo }, tierCode, months, idempotencyKey });
    const gold = await buy('gold', 12);

    // Silver would throw away eleven paid months of Gold: refused, and nothing changes.
    const refused = buy('silver', 1, 'jo-silver');
    await expect(refused).rejects.toMatchObject({ code: 'INVALID_STATE', details: { field: 'tierCode', runningTierCode: 'gold', validUntil: gold.validUntil.toISOString() } });
    await expect(refused).rejects.toThrow(/Gold membership runs until/);
    expect(await s.status(jo)).toMatchObject({ tier: { code: 'gold' }, source: 'paid', validUntil: gold.validUntil });
    await expect(buy('standard', 1)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'tierCode' } });

    // A VIP assignment is a running grant too.
    const lena = await s.member();
    await h.services.tiers.assignTier(s.admin, { member: { id: lena }, tierCode: 'gold', until: new Date(START.getTime() + 30 * DAY_MS) });
    await expect(h.services.tiers.purchaseTierMembership(s.server, { member: { id: lena }, tierCode: 'silver', months: 1, idempotencyKey: 'lena-silver' }))
      .rejects.toMatchObject({ code: 'INVALID_STATE' });
    // Buying the assigned tier itself runs on from the assignment's end.
    const bought = await h.services.tiers.purchaseTierMembership(s.server, { member: { id: lena }, tierCode: 'gold', months: 1, idempotencyKey: 'lena-gold' });
    expect(bought).toMatchObject({ renewed: true, validUntil: new Date('2026-06-01T09:00:00Z') }); // the assignment ends 1 May

    // Upwards: Silver bought, then Gold replaces it from now.
    const max = await s.member();
    await h.services.tiers.purchaseTierMembership(s.server, { member: { id: max }, tierCode: 'silver', months: 3, idempotencyKey: 'max-silver' });
    const upgraded = await h.services.tiers.purchaseTierMembership(s.server, { member: { id: max }, tierCode: 'gold', months: 1, idempotencyKey: 'max-gold' });
    expect(upgraded).toMatchObject({ tierCode: 'gold', renewed: false });
    expect(await s.status(max)).toMatchObject({ tier: { code: 'gold' }, source: 'paid', validUntil: upgraded.validUntil });

    // The refusal kept nothing under its key: once Gold has lapsed, the same key buys Silver.
    h.clock.set(new Date(gold.validUntil.getTime() + 1));
    expect(await buy('silver', 1, 'jo-silver')).toMatchObject({ tierCode: 'silver', renewed: false });
  });
});

describe('preview and save of a structure', () => {
  it('previews exactly what saving does', async () => {
    const s = await shop();
    const amounts = [0, 50_000, 150_000, 300_000, 700_000];
    const ids: string[] = [];
    for (const amount of amounts) {
      const id = await s.member();
      if (amount > 0) await s.order(id, [['goods', amount]]);
      ids.push(id);
    }
    expect(await Promise.all(ids.map(s.tier))).toEqual(['standard', 'standard', 'silver', 'silver', 'gold']);
    const next: TierStructureInput = {
      ...s.input,
      levels: [
        { code: 'standard', name: 'Standard', threshold: 0 },
        { code: 'bronze', name: 'Bronze', threshold: 40_000 },
        { code: 'silver', name: 'Silver', threshold: 200_000 },
        { code: 'gold', name: 'Gold', threshold: 800_000 },
      ],
    };
    const preview = await h.services.tiers.previewStructure(s.admin, next);
    expect(preview).toMatchObject({ members: 5, movingUp: 1, movingDown: 2, unchanged: 2 });
    expect(preview.tiers).toEqual([
      { code: 'standard', name: 'Standard', before: 2, after: 1, movingUp: 0, movingDown: 0 },
      { code: 'bronze', name: 'Bronze', before: 0, after: 2, movingUp: 1, movingDown: 1 },
      { code: 'silver', name: 'Silver', before: 2, after: 2, movingUp: 0, movingDown: 1 },
      { code: 'gold', name: 'Gold', before: 1, after: 0, movingUp: 0, movingDown: 0 },
    ]);
    expect(await Promise.all(ids.map(s.tier))).toEqual(['standard', 'standard', 'silver', 'silver', 'gold']); // a preview writes nothing
    const saved = await h.services.tiers.saveStructure(s.admin, next);
    expect(saved).toMatchObject({ structure: { version: 2 }, changed: 3 });
    expect(await Promise.all(ids.map(s.tier))).toEqual(['standard', 'bronze', 'bronze', 'silver', 'silver']);
    expect((await s.history(ids[4]))[0]).toMatchObject({ fromCode: 'gold', toCode: 'silver', reason: 'structure_changed', structureVersion: 2 });
  });

  it('refuses a bad structure with the field, and changes nothing', async () => {
    const s = await shop();
    const bad: Array<[Partial<TierStructureInput>, string]> = [
      [{ levels: [{ code: 'a', name: 'A', threshold: 10 }, { code: 'b', name: 'B', threshold: 10 }] }, 'levels[1].threshold'],
      [{ levels: [{ code: 'A B', name: 'A', threshold: 0 }] }, 'levels[0].code'],
      [{ levels: [{ code: 'a', name: 'A', threshold: 0, earnMultiplier: 0.5 }] }, 'levels[0].earnMultiplier'],
      [{ window: 'rolling_months' }, 'windowMonths'],
      [{ graceDays: -1 }, 'graceDays'],
      [{ levels: [] }, 'levels'],
    ];
    for (const [change, field] of bad) {
      await expect(h.services.tiers.saveStructure(s.admin, { ...s.input, ...change })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field } });
    }
    expect((await h.services.tiers.structure(s.programId))!.version).toBe(1);
  });
});

describe('rules see the tier', () => {
  it('matches memberTier and multiplies the member’s awards by the tier', async () => {
    const s = await shop();
    const { programId, admin } = s;
    const rule = (name: string, definition: any) => h.services.rules.createRule(admin, { name, status: 'active' as any, definition });
    await rule('1 % of every order', { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 1 } }] });
    await rule('Gold bonus', {
      trigger: 'order_paid', condition: { condition: 'memberTier', args: { tiers: ['gold'] } }, actions: [{ code: 'fixedPoints', args: { points: 100 } }],
    });
    const zoya = await s.member();
    const earned = async (price: number) => {
      const orderId = await s.order(zoya, [['goods', price]]);
      return (await h.services.orders.getOrder(s.server, orderId))!.pointsEarned;
    };
    expect(await earned(600_000)).toBe(60); // standard while paying (the upgrade follows the order)
    expect(await s.tier(zoya)).toBe('gold');
    expect(await earned(10_000)).toBe((1 + 100) * 2); // 1 % = 1, the gold bonus 100, both doubled
  });
});

describe('the job’s SQL and the pure math agree', () => {
  it('finds the same justified amounts for every member, window and moment', async () => {
    const { justifiedAmounts } = await import('../../src/services/tiers/requalify-store');
    const { justifiedAmount, lookbackStart } = await import('../../src/services/tiers/qualification');
    const { loadContributions } = await import('../../src/services/tiers/tier-store');
    const s = await shop({ window: 'rolling_months', windowMonths: 2 });
    const members = [await s.member(), await s.member(), await s.member(), await s.member()];
    // Orders spread over a year, on month ends (day clamping) and around New Year.
    const dates = ['2026-04-30T23:00:00Z', '2026-06-30T12:00:00Z', '2026-08-31T08:00:00Z', '2026-12-31T23:30:00Z', '2027-01-01T00:30:00Z', '2027-02-28T10:00:00Z'];
    let i = 0;
    for (const at of dates) {
      h.clock.set(new Date(at));
      for (const m of members) if ((i++ * 7) % 3 !== 0) await s.order(m, [['goods', 10_000 + ((i * 7919) % 90_000)]]);
    }
    const structure = (await h.services.tiers.structure(s.programId))!;
    for (const window of [{ kind: 'rolling_months', months: 2 }, { kind: 'calendar_year', months: null }, { kind: 'lifetime', months: null }] as const) {
      for (const grace of [0, 20, 75]) {
        for (const t of ['2026-07-15T00:00:00Z', '2027-01-10T00:00:00Z', '2027-03-31T00:00:00Z']) {
          const at = new Date(t);
          const variant = { ...structure, window, graceDays: grace, downgradePolicy: 'to_earned' as const };
          for (const timeZone of ['UTC', 'Asia/Kolkata']) {
            const sql = await justifiedAmounts(h.database, s.programId, variant, timeZone, at);
            for (const m of members) {
              const contributions = await loadContributions(h.database, m, 'spend', null, at);
              const ts = justifiedAmount(contributions, at, lookbackStart(at, grace, 'to_earned'), window, timeZone);
              expect({ window: window.kind, grace, t, timeZone, amount: sql.get(m) }).toEqual({ window: window.kind, grace, t, timeZone, amount: ts });
            }
          }
        }
      }
    }
  });
});

describe('checkout sees the tier', () => {
  it('lets the tier’s share cap override the program’s maxRedeemPercent', async () => {
    const s = await shop();
    const olga = await s.member();
    await h.services.ledger.accrue(s.server, { member: { id: olga }, points: 100_000, idempotencyKey: key() });
    const quote = () => h.services.orders.checkoutQuote(s.server, { order: { member: { id: olga }, lines: [{ sku: 'x', unitPriceMinor: 100_000, quantity: 1 }] } });
    expect(await quote()).toMatchObject({ maxRedeemPercent: 20, maxPoints: 200 });
    await s.order(olga, [['goods', 150_000]]); // silver: 30 %
    expect(await quote()).toMatchObject({ maxRedeemPercent: 30, maxPoints: 300 });
    const orderId = key('order');
    await expect(h.services.orders.placeOrder(s.server, { orderId, member: { id: olga }, points: 301, idempotencyKey: key(), lines: [{ sku: 'x', unitPriceMinor: 100_000, quantity: 1 }] }))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'points', maxPoints: 300 } });
    await h.services.orders.placeOrder(s.server, { orderId, member: { id: olga }, points: 300, idempotencyKey: key(), lines: [{ sku: 'x', unitPriceMinor: 100_000, quantity: 1 }] });
  });
});
