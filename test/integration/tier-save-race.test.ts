import { Client } from 'pg';
import type { TierStructureInput } from '../../src/services/tiers';
import { testContext } from '../support/context';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/**
 * A tier-structure save and an order paid, cancelled or returned at the same moment do not miss
 * each other: the save requalifies members from the orders it sees, the order lifts (or drops)
 * its member under the structure it read. Whichever comes first, the member ends in the tier the
 * new structure gives them; and nothing deadlocks on the way.
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

const levels = (silver: number, gold: number): TierStructureInput['levels'] => [
  { code: 'standard', name: 'Standard', threshold: 0 },
  { code: 'silver', name: 'Silver', threshold: silver },
  { code: 'gold', name: 'Gold', threshold: gold },
];
const structure = (silver: number, gold = 500_000): TierStructureInput => ({
  metric: 'spend', window: 'lifetime', downgradePolicy: 'to_earned', graceDays: 30, levels: levels(silver, gold),
});

/**
 * A shop (silver from `silver`, no structure when null) and a member with `paid` paid in one
 * order and `placed` in an order placed.
 */
async function shopWithPlacedOrder(silver: number | null = 150_000, paid = 60_000, placed = 45_000) {
  const { program } = await h.services.programs.createProgram(h.admin, { name: key('shop'), timeZone: 'UTC' });
  const admin = testContext(program.id, 'admin', 'admin');
  const server = testContext(program.id, 'server', 'storefront');
  if (silver !== null) await h.services.tiers.saveStructure(admin, structure(silver));
  const memberId = (await h.services.members.upsert(server, { externalId: key('member') })).member.id;
  const place = async (priceMinor: number) => {
    const orderId = key('order');
    await h.services.orders.placeOrder(server, { orderId, member: { id: memberId }, idempotencyKey: key(), lines: [{ sku: key('sku'), unitPriceMinor: priceMinor, quantity: 1 }] });
    return orderId;
  };
  const paidOrderId = await place(paid);
  await h.services.orders.payOrder(server, { orderId: paidOrderId, idempotencyKey: key() });
  const orderId = await place(placed);
  return {
    programId: program.id, admin, server, memberId, orderId, paidOrderId,
    pay: () => h.services.orders.payOrder(server, { orderId, idempotencyKey: key() }),
    tier: async () => (await h.services.tiers.tierStatus(program.id, { id: memberId }))!.tier?.code ?? null,
  };
}

/**
 * What the first backend of this database found waiting for a lock waits for ('advisory',
 * 'tuple', …), as soon as there is one; null once `done()` says the work ended first.
 */
async function firstLockWait(done: () => boolean): Promise<string | null> {
  for (;;) {
    const { rows } = await watcher.query<{ wait_event: string }>(
      `select wait_event from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' limit 1`,
    );
    if (rows[0]) return rows[0].wait_event;
    if (done()) return null;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Runs `sql` on `client`, failing the test if the backend is ever seen blocked before it ends. */
async function runsUnblocked(client: Client, sql: string, params: unknown[]): Promise<void> {
  const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
  let ended = false;
  const running = client.query(sql, params).finally(() => (ended = true));
  while (!ended) {
    const { rows } = await watcher.query<{ blocked: boolean }>('select cardinality(pg_blocking_pids($1)) > 0 as blocked', [pid]);
    expect(rows[0]!.blocked).toBe(false);
    await new Promise((r) => setTimeout(r, 5));
  }
  await running;
}

/**
 * A save under way on its own connection: the program's tier-structure lock held alone, and the
 * next version written (as saveStructure writes it) with silver from `silver`. Commit it to end.
 */
async function saveUnderWay(programId: string, silver: number): Promise<Client> {
  const saver = new Client({ connectionString: h.db.url });
  await saver.connect();
  await saver.query('begin');
  await saver.query('select pg_advisory_xact_lock(tier_structure_lock_key($1))', [programId]);
  const { rows: [next] } = await saver.query<{ id: string }>(
    `insert into tier_structure (id, program_id, version, metric, window_kind, window_months, downgrade_policy, grace_days, created_at)
     values (gen_random_uuid(), $1, coalesce((select max(version) from tier_structure where program_id = $1), 0) + 1,
       'spend', 'lifetime', null, 'to_earned', 30, now()) returning id`,
    [programId],
  );
  await saver.query(
    `insert into tier_level (id, structure_id, rank, code, name, threshold, earn_multiplier, max_redeem_percent, discount_percent, perks)
     select gen_random_uuid(), $1, l.rank, l.code, l.name, l.threshold, 1, null, 0, '{}'
     from (values (0, 'standard', 'Standard', 0::bigint), (1, 'silver', 'Silver', $2::bigint), (2, 'gold', 'Gold', 500000::bigint)) as l(rank, code, name, threshold)`,
    [next!.id, silver],
  );
  return saver;
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
    const waited = await firstLockWait(() => saved);
    release();
    await Promise.all([paying, saving]);
    expect({ waited, tier: await s.tier() }).toEqual({ waited: 'advisory', tier: 'silver' });
  } finally {
    release();
    tiers.onOrderPaid = onOrderPaid;
  }
});

/** Pays the shop's placed order while a save of silver from `silver` is under way, then ends the save. */
async function payWhileSaveUnderWay(s: Awaited<ReturnType<typeof shopWithPlacedOrder>>, silver: number) {
  const saver = await saveUnderWay(s.programId, silver);
  try {
    let paid = false;
    const paying = s.pay().finally(() => (paid = true));
    const waited = await firstLockWait(() => paid);
    await saver.query('commit');
    await paying;
    return { waited, tier: await s.tier() };
  } finally {
    await saver.end();
  }
}

test('an order paid while a save is under way waits for it, then is tried again under the new structure', async () => {
  const s = await shopWithPlacedOrder();
  expect(await payWhileSaveUnderWay(s, 100_000)).toEqual({ waited: 'advisory', tier: 'silver' });
});

test("the same with the program's first structure: the order that saw none is tried again, and lifted", async () => {
  // The 60 000 order was paid moments ago: this instance has "no structure" cached.
  const s = await shopWithPlacedOrder(null);
  expect(await payWhileSaveUnderWay(s, 100_000)).toEqual({ waited: 'advisory', tier: 'silver' });
});

test('an order cancelled while a save is under way is judged under the new structure', async () => {
  // 100 000 + 60 000 paid: silver from 150 000. Cancelling the 60 000 drops the member under the
  // old structure, not under the one being saved (silver from 90 000).
  const s = await shopWithPlacedOrder(150_000, 100_000, 60_000);
  await s.pay();
  expect(await s.tier()).toBe('silver');
  const saver = await saveUnderWay(s.programId, 90_000);
  try {
    let cancelled = false;
    const cancelling = h.services.orders.cancelOrder(s.server, { orderId: s.orderId, idempotencyKey: key() }).finally(() => (cancelled = true));
    const waited = await firstLockWait(() => cancelled);
    await saver.query('commit');
    await cancelling;
    expect({ waited, tier: await s.tier() }).toEqual({ waited: 'advisory', tier: 'silver' });
  } finally {
    await saver.end();
  }
});

/**
 * A transaction that holds what `hold` takes, with a save of `input` waiting for it (on `waitsOn`),
 * key-shares the program's row — as writing a member's tier history does, through its key — and
 * must not be blocked; then it commits and the save ends.
 */
async function keyShareBesideWaitingSave(
  s: Awaited<ReturnType<typeof shopWithPlacedOrder>>,
  hold: [sql: string, params: unknown[]],
  input: TierStructureInput,
  waitsOn: string,
): Promise<void> {
  const holder = new Client({ connectionString: h.db.url });
  await holder.connect();
  try {
    await holder.query('begin');
    await holder.query(...hold);
    let saved = false;
    const saving = h.services.tiers.saveStructure(s.admin, input).finally(() => (saved = true));
    expect(await firstLockWait(() => saved)).toBe(waitsOn);
    await runsUnblocked(holder, 'select 1 from program where id = $1 for key share', [s.programId]);
    await holder.query('commit');
    await saving;
  } finally {
    await holder.end();
  }
}

test('an order that lifts its member while a save waits for it does not deadlock with the save', async () => {
  // An order being paid holds the shared lock and is about to write the member's new tier, whose
  // row keys the program: the save waiting for it must not hold the program row meanwhile.
  const s = await shopWithPlacedOrder();
  await keyShareBesideWaitingSave(s, ['select hold_tier_structure($1, 1)', [s.programId]], structure(100_000), 'advisory');
});

test("a grant holding its member's tier row, with a save waiting for that row, still writes the member's tier history", async () => {
  // The save holds the program's row (no key update) while it requalifies; a grant or the job that
  // holds a member's tier row key-shares the program's row to write that member's history.
  // 160 000 paid: silver, with a tier row.
  const s = await shopWithPlacedOrder(150_000, 160_000);
  expect(await s.tier()).toBe('silver');
  // Gold from 150 000 lifts the member: the save must update their tier row.
  await keyShareBesideWaitingSave(
    s, ['select 1 from member_tier where member_id = $1 for update', [s.memberId]], structure(100_000, 150_000), 'transactionid',
  );
  expect(await s.tier()).toBe('gold');
});
