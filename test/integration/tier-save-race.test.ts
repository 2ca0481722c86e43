import { Client } from 'pg';
import type { TierStructureInput } from '../../src/services/tiers';
import { testContext } from '../support/context';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/**
 * A tier-structure save and an order paid at the same moment do not miss each other: the save
 * requalifies members from the orders it sees, the order lifts its member under the structure it
 * read. Whichever comes first, the member ends in the tier the new structure gives them.
 */
let h: RulesHarness;
let watcher: Client;
let seq = 0;
const key = (prefix = 'k') => `${prefix}-${++seq}`;

beforeAll(async () => {
  h = await rulesHarness(new Date('2026-04-01T09:00:00Z'));
  watcher = new Client({ connectionString: h.db.url });
  await watcher.connect();
});
afterAll(async () => {
  await watcher.end();
  await h.close();
});

const levels = (silver: number): TierStructureInput['levels'] => [
  { code: 'standard', name: 'Standard', threshold: 0 },
  { code: 'silver', name: 'Silver', threshold: silver },
  { code: 'gold', name: 'Gold', threshold: 500_000 },
];
const structure = (silver: number): TierStructureInput => ({ metric: 'spend', window: 'lifetime', downgradePolicy: 'to_earned', graceDays: 30, levels: levels(silver) });

/** A shop whose silver starts at 150 000, and a member with 60 000 paid and a 45 000 order placed. */
async function shopWithPlacedOrder() {
  const { program } = await h.services.programs.createProgram(h.admin, { name: key('shop'), timeZone: 'UTC' });
  const admin = testContext(program.id, 'admin', 'admin');
  const server = testContext(program.id, 'server', 'storefront');
  await h.services.tiers.saveStructure(admin, structure(150_000));
  const memberId = (await h.services.members.upsert(server, { externalId: key('member') })).member.id;
  const place = async (priceMinor: number) => {
    const orderId = key('order');
    await h.services.orders.placeOrder(server, { orderId, member: { id: memberId }, idempotencyKey: key(), lines: [{ sku: key('sku'), unitPriceMinor: priceMinor, quantity: 1 }] });
    return orderId;
  };
  await h.services.orders.payOrder(server, { orderId: await place(60_000), idempotencyKey: key() });
  const orderId = await place(45_000);
  return {
    programId: program.id, admin, server, memberId, orderId,
    pay: () => h.services.orders.payOrder(server, { orderId, idempotencyKey: key() }),
    tier: async () => (await h.services.tiers.tierStatus(program.id, { id: memberId }))!.tier?.code ?? null,
  };
}

/** Resolves true as soon as a backend waits for an advisory lock, false once `done()` says the work ended first. */
async function someoneWaitsForAdvisoryLock(done: () => boolean): Promise<boolean> {
  for (;;) {
    const { rows } = await watcher.query<{ waiting: boolean }>(
      `select exists (select 1 from pg_stat_activity where wait_event_type = 'Lock' and wait_event = 'advisory') as waiting`,
    );
    if (rows[0]!.waiting) return true;
    if (done()) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a save waits for an order being paid, and counts it: the member lifted by the new threshold', async () => {
  const s = await shopWithPlacedOrder();
  // The order stops inside its transaction, after the tiers' hook ran.
  const tiers = h.services.tiers;
  const onOrderPaid = tiers.onOrderPaid.bind(tiers);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let inside!: () => void;
  const reached = new Promise<void>((r) => (inside = r));
  tiers.onOrderPaid = async (...args) => {
    await onOrderPaid(...args);
    inside();
    await gate;
  };
  try {
    const paying = s.pay();
    await reached;
    let saved = false;
    const saving = h.services.tiers.saveStructure(s.admin, structure(100_000)).finally(() => (saved = true));
    const waited = await someoneWaitsForAdvisoryLock(() => saved);
    release();
    await Promise.all([paying, saving]);
    expect({ waited, tier: await s.tier() }).toEqual({ waited: true, tier: 'silver' });
  } finally {
    release();
    tiers.onOrderPaid = onOrderPaid;
  }
});

test('an order paid while a save is under way waits for it, then is tried again under the new structure', async () => {
  const s = await shopWithPlacedOrder();
  // A save under way: the tier-structure lock held alone, a version with silver at 100 000 written.
  const saver = new Client({ connectionString: h.db.url });
  await saver.connect();
  try {
    await saver.query('begin');
    await saver.query('select pg_advisory_xact_lock(tier_structure_lock_key($1))', [s.programId]);
    const { rows: [next] } = await saver.query<{ id: string }>(
      `insert into tier_structure (id, program_id, version, metric, window_kind, window_months, downgrade_policy, grace_days, created_at)
       select gen_random_uuid(), program_id, version + 1, metric, window_kind, window_months, downgrade_policy, grace_days, now()
       from tier_structure where program_id = $1 order by version desc limit 1 returning id`,
      [s.programId],
    );
    await saver.query(
      `insert into tier_level (id, structure_id, rank, code, name, threshold, earn_multiplier, max_redeem_percent, discount_percent, perks)
       select gen_random_uuid(), $1, l.rank, l.code, l.name, case when l.code = 'silver' then 100000 else l.threshold end,
         l.earn_multiplier, l.max_redeem_percent, l.discount_percent, l.perks
       from tier_level l where l.structure_id = (select id from tier_structure where program_id = $2 and version = 1)`,
      [next!.id, s.programId],
    );
    let paid = false;
    const paying = s.pay().finally(() => (paid = true));
    const waited = await someoneWaitsForAdvisoryLock(() => paid);
    await saver.query('commit');
    await paying;
    expect({ waited, tier: await s.tier() }).toEqual({ waited: true, tier: 'silver' });
  } finally {
    await saver.end();
  }
});
