import { Database } from '../../src/db/database';
import { Client } from 'pg';
import { JobRunner, createJobRunner } from '../../src/jobs/runner';
import { DAY_MS, ManualClock } from '../../src/services/shared';
import { LedgerAudit } from '../../src/services/ledger';
import { LedgerJobs } from '../../src/services/ledger';
import { LedgerService } from '../../src/services/ledger';
import { serviceHarness, type ServiceHarness } from '../support/services';

let h: ServiceHarness;
let seq = 0;
const key = () => `jobs-${++seq}`;
const MINUTE_MS = 60_000;

// Jobs work across the whole database, so each test gets a database of its own.
beforeEach(async () => {
  h = await serviceHarness();
});
afterEach(() => h.close());

function jobsOf(harness: ServiceHarness, batchSize?: number) {
  return new LedgerJobs(harness.database, harness.ledger, { batchSize });
}

async function newMembers(harness: ServiceHarness, count: number, prefix = 'm') {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await harness.members.upsert(harness.admin, { externalId: `${prefix}-${i}` })).member.id);
  return ids;
}

async function accrue(harness: ServiceHarness, memberId: string, points: number, opts: { lifetimeDays?: number; delayDays?: number } = {}) {
  return harness.ledger.accrue(harness.server, { member: { id: memberId }, points, ...opts, idempotencyKey: key() });
}

async function account(harness: ServiceHarness, memberId: string) {
  const [row] = await harness.orm.em.fork().execute(
    `select available, pending, reserved, lifetime_expired, entry_count from account where member_id = ?`,
    [memberId],
  );
  return row as { available: number; pending: number; reserved: number; lifetime_expired: number; entry_count: number };
}

async function expectBooksBalance(harness: ServiceHarness) {
  const verification = await new LedgerAudit(harness.database).verifyLedger({ programId: harness.programId });
  expect(verification.discrepancies).toEqual([]);
  expect(verification.ok).toBe(true);
  return verification;
}

async function entriesOf(harness: ServiceHarness, kind: string) {
  return harness.orm.em.fork().execute(
    `select e.*, a.member_id from ledger_entry e join account a on a.id = e.account_id where e.kind = ? order by e.id`,
    [kind],
  );
}

/** Ten members, each with two lots that will expire, one that will not, and a pending lot that expires while pending. */
async function seedExpiringBooks(harness: ServiceHarness) {
  const members = await newMembers(harness, 10);
  for (let round = 0; round < 2; round++) {
    for (const [i, id] of members.entries()) await accrue(harness, id, 10 + i, { lifetimeDays: 5 });
  }
  for (const [i, id] of members.entries()) {
    await accrue(harness, id, 100 + i, { lifetimeDays: 365 });
    await accrue(harness, id, 7, { delayDays: 20, lifetimeDays: 1 });
  }
  // Some points spent first: expiry must take only what is left.
  await harness.ledger.redeem(harness.server, { member: { id: members[0] }, points: 15, idempotencyKey: key() });
  return members;
}

test('expiry posts one entry per account, balances agree, a second run does nothing', async () => {
  const members = await seedExpiringBooks(h);
  h.clock.advance(30 * DAY_MS);
  await h.publishOutbox();
  h.events.length = 0;
  const jobs = jobsOf(h);

  const first = await jobs.expireLots(h.clock.now());
  // Per member: two short lots and the pending one; member 0 spent 15 of its nearest-expiry lots,
  // emptying one of them.
  expect(first).toEqual({ lots: 29, entries: 10, accounts: 10, batches: 1 });
  for (const [i, id] of members.entries()) {
    const short = 2 * (10 + i) - (i === 0 ? 15 : 0);
    expect(await account(h, id)).toMatchObject({ available: 100 + i, pending: 0, reserved: 0, lifetime_expired: short + 7 });
  }
  const expiries = await entriesOf(h, 'expiry');
  expect(expiries).toHaveLength(10);
  for (const entry of expiries) {
    expect(entry).toMatchObject({ cause_type: 'job', cause_id: 'expire-lots' });
    expect(Number(entry.delta_pending)).toBe(-7);
    // The entry's balances after it are the account's balances now (nothing else happened since).
    const now = await account(h, entry.member_id);
    expect([Number(entry.available_after), Number(entry.pending_after), Number(entry.reserved_after)]).toEqual([now.available, now.pending, now.reserved]);
  }
  await h.publishOutbox();
  expect(h.events.map((e) => e.id).sort()).toEqual([...members].sort());
  expect(h.events[0].payload.entry.kind).toBe('expiry');
  await expectBooksBalance(h);

  const second = await jobs.expireLots(h.clock.now());
  expect(second).toEqual({ lots: 0, entries: 0, accounts: 0, batches: 0 });
  expect(await entriesOf(h, 'expiry')).toHaveLength(10);
  // The expired points can no longer be spent: only the long-lived lot is left.
  await expect(h.ledger.redeem(h.server, { member: { id: members[3] }, points: 104, idempotencyKey: key() })).rejects.toMatchObject({
    code: 'INSUFFICIENT_POINTS',
  });
  await expect(h.ledger.redeem(h.server, { member: { id: members[3] }, points: 103, idempotencyKey: key() })).resolves.toMatchObject({
    account: { available: 0 },
  });
  await expectBooksBalance(h);
});

test('batches smaller than the data produce the same books', async () => {
  const other = await serviceHarness();
  try {
    const [small, large] = [jobsOf(h, 3), jobsOf(other, 1000)];
    await seedExpiringBooks(h);
    await seedExpiringBooks(other);
    h.clock.advance(30 * DAY_MS);
    other.clock.advance(30 * DAY_MS);

    const inSmallBatches = await small.expireLots(h.clock.now());
    const inOneBatch = await large.expireLots(other.clock.now());
    expect(inOneBatch).toMatchObject({ lots: 29, batches: 1, accounts: 10, entries: 10 });
    // Batches hold whole accounts (about three lots each here): lots created round-robin still
    // give each account one entry, and the same books.
    expect(inSmallBatches).toMatchObject({ lots: 29, accounts: 10, entries: 10 });
    expect(inSmallBatches.batches).toBeGreaterThanOrEqual(9);

    const books = async (harness: ServiceHarness) =>
      harness.orm.em.fork().execute(
        `select m.external_id, a.available, a.pending, a.reserved, a.lifetime_expired,
           (select coalesce(sum(remaining), 0) from lot l where l.account_id = a.id) as in_lots
         from account a join member m on m.id = a.member_id order by m.external_id`,
      );
    expect(await books(h)).toEqual(await books(other));
    await expectBooksBalance(h);
    await expectBooksBalance(other);
    expect(await small.expireLots(h.clock.now())).toEqual({ lots: 0, entries: 0, accounts: 0, batches: 0 });
  } finally {
    await other.close();
  }
});

test('pending lots become available at their availableAt, once', async () => {
  const members = await newMembers(h, 4);
  for (const [i, id] of members.entries()) {
    await accrue(h, id, 50, { delayDays: 14, lifetimeDays: 30 });
    await accrue(h, id, 5 * (i + 1), { delayDays: 3 });
    await accrue(h, id, 1, { delayDays: 60 }); // not yet due
  }
  const start = h.clock.now();
  h.clock.advance(20 * DAY_MS);
  const jobs = jobsOf(h, 5);

  const first = await jobs.activatePendingLots(h.clock.now());
  expect(first).toMatchObject({ lots: 8, accounts: 4, batches: 2 });
  for (const [i, id] of members.entries()) {
    expect(await account(h, id)).toMatchObject({ available: 50 + 5 * (i + 1), pending: 1 });
  }
  const [{ wrong }] = await h.orm.em.fork().execute(
    `select count(*)::int as wrong from lot where available_at <= ? and activated_at is distinct from available_at`,
    [h.clock.now()],
  );
  expect(wrong).toBe(0);
  const activations = await entriesOf(h, 'activation');
  expect(activations.length).toBe(first.entries);
  for (const entry of activations) {
    expect(entry).toMatchObject({ cause_type: 'job', cause_id: 'activate-lots' });
    expect(Number(entry.amount)).toBe(0);
    expect(Number(entry.delta_available)).toBe(-Number(entry.delta_pending));
  }
  await expectBooksBalance(h);
  expect(await jobs.activatePendingLots(h.clock.now())).toEqual({ lots: 0, entries: 0, accounts: 0, batches: 0 });

  // Activated points are spendable; an admin catching up an earlier time finds nothing more.
  await h.ledger.redeem(h.server, { member: { id: members[0] }, points: 55, idempotencyKey: key() });
  expect(await jobs.activatePendingLots(new Date(start.getTime() + 15 * DAY_MS))).toMatchObject({ lots: 0 });
  await expectBooksBalance(h);
});

test('stale authorizations are released, fresh ones stay open', async () => {
  const members = await newMembers(h, 3);
  const stale: string[] = [];
  for (const id of members) {
    await accrue(h, id, 1000, { lifetimeDays: 365 });
    const auth = await h.ledger.authorizeRedemption(h.server, { member: { id }, points: 300, ttlSeconds: 60, idempotencyKey: key() });
    stale.push(auth.authorization.id);
  }
  const fresh = await h.ledger.authorizeRedemption(h.server, {
    member: { id: members[0] }, points: 100, ttlSeconds: 3600, idempotencyKey: key(),
  });
  h.clock.advance(5 * MINUTE_MS);
  const jobs = jobsOf(h, 2);

  const first = await jobs.releaseStaleAuthorizations(h.clock.now());
  expect(first).toEqual({ authorizations: 3, entries: 3, accounts: 3, batches: 2, failed: 0 });
  const statuses = await h.orm.em.fork().execute(`select id, status from "authorization"`);
  for (const row of statuses) expect(row.status).toBe(row.id === fresh.authorization.id ? 'open' : 'released');
  expect(await account(h, members[0])).toMatchObject({ available: 900, reserved: 100 });
  expect(await account(h, members[1])).toMatchObject({ available: 1000, reserved: 0 });
  await expectBooksBalance(h);

  expect(await jobs.releaseStaleAuthorizations(h.clock.now())).toMatchObject({ authorizations: 0, entries: 0 });
  // A released authorization cannot be captured any more.
  await expect(
    h.ledger.captureRedemption(h.server, { authorizationId: stale[1], idempotencyKey: key() }),
  ).rejects.toMatchObject({ code: expect.stringMatching(/INVALID_STATE|AUTHORIZATION_EXPIRED/) });
});

test('two runners on one database: a job runs once, nothing expires twice', async () => {
  const members = await seedExpiringBooks(h);
  h.clock.advance(30 * DAY_MS);
  // A second instance: its own pool, services and runner, the same database.
  const otherOrm = new Database(h.db.url, 5);
  try {
    const otherLedger = new LedgerService(otherOrm, h.clock);
    const runners = [
      createJobRunner(h.database, jobsOf(h, 2), { clock: h.clock }),
      createJobRunner(otherOrm, new LedgerJobs(otherOrm, otherLedger, { batchSize: 2 }), { clock: h.clock }),
    ];
    const outcomes = await Promise.all(runners.map((r) => r.runJob('expire-lots')));
    const executed = outcomes.filter((o) => !o.skipped);
    expect(executed.length).toBeGreaterThanOrEqual(1);
    // Whichever ran, together they expired each due lot exactly once.
    expect(executed.reduce((sum, o) => sum + o.result.lots, 0)).toBe(29);
    for (const [i, id] of members.entries()) {
      expect((await account(h, id)).lifetime_expired).toBe(2 * (10 + i) - (i === 0 ? 15 : 0) + 7);
    }
    await expectBooksBalance(h);

    // The same job without the runner's lock, on both instances at once: the account locks
    // and the re-read under them still keep it from expiring anything twice.
    h.clock.advance(400 * DAY_MS);
    const bare = await Promise.all([
      jobsOf(h, 2).expireLots(h.clock.now()),
      new LedgerJobs(otherOrm, otherLedger, { batchSize: 3 }).expireLots(h.clock.now()),
    ]);
    expect(bare[0].lots + bare[1].lots).toBe(10);
    for (const id of members) expect(await account(h, id)).toMatchObject({ available: 0, pending: 0 });
    await expectBooksBalance(h);
  } finally {
    await otherOrm.close();
  }
});

test('a run is skipped while another instance holds the job lock', async () => {
  let executions = 0;
  // The first run holds the lock until the test lets it go: no race with a fixed sleep.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const slowJob = {
    name: 'slow',
    schedule: '* * * * *',
    run: async () => {
      executions++;
      started();
      await released;
      return { done: 1 };
    },
  };
  const runners = [new JobRunner(h.database, { clock: h.clock }).register(slowJob), new JobRunner(h.database, { clock: h.clock }).register(slowJob)];
  const first = runners[0].runJob('slow');
  await running;
  const second = await runners[1].runJob('slow');
  release();
  expect(second).toMatchObject({ skipped: true, result: {} });
  expect(await first).toMatchObject({ skipped: false, result: { done: 1 } });
  expect(executions).toBe(1);

  // A lock held by any session (another instance) also skips the run; once freed it runs again.
  const holder = new Client({ connectionString: h.db.url });
  await holder.connect();
  try {
    await holder.query(`select pg_advisory_lock(hashtext('patron-job:' || $1))`, ['slow']);
    expect(await runners[0].runJob('slow')).toMatchObject({ job: 'slow', skipped: true });
    await holder.query(`select pg_advisory_unlock(hashtext('patron-job:' || $1))`, ['slow']);
    expect(await runners[0].runJob('slow')).toMatchObject({ skipped: false, result: { done: 1 } });
    expect(executions).toBe(2);
  } finally {
    await holder.end();
  }
});

test('runJob: unknown job, asOf for catch-up, schedules start and stop', async () => {
  const runner = createJobRunner(h.database, jobsOf(h), { clock: h.clock });
  expect(runner.jobNames).toEqual(['expire-lots', 'activate-lots', 'release-authorizations']);
  await expect(runner.runJob('no-such-job')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });

  const [id] = await newMembers(h, 1);
  await accrue(h, id, 40, { lifetimeDays: 2 });
  const twoDaysOn = new Date(h.clock.now().getTime() + 2 * DAY_MS);
  // Before the lot's expiry nothing is due, and running ahead of the clock is refused.
  expect(await runner.runJob('expire-lots')).toMatchObject({ skipped: false, result: { lots: 0 } });
  await expect(runner.runJob('expire-lots', twoDaysOn)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  // Three days on, a catch-up run as of the missed moment does the work, dated then.
  h.clock.advance(3 * DAY_MS);
  const caughtUp = await runner.runJob('expire-lots', twoDaysOn);
  expect(caughtUp).toEqual({ job: 'expire-lots', asOf: twoDaysOn, skipped: false, result: { lots: 1, entries: 1, accounts: 1, batches: 1 } });
  expect(await runner.runJob('expire-lots', twoDaysOn)).toMatchObject({ result: { lots: 0, entries: 0 } });
  const [expiry] = await entriesOf(h, 'expiry');
  expect(new Date(expiry.created_at)).toEqual(twoDaysOn);
  await expectBooksBalance(h);

  // A schedule fires with the injected clock's time.
  const seen: Date[] = [];
  const clock = new ManualClock(new Date('2030-05-01T00:00:00Z'));
  const ticking = new JobRunner(h.database, { clock }).register({
    name: 'tick',
    schedule: '* * * * * *',
    run: async (asOf) => {
      seen.push(asOf);
      return { ticks: 1 };
    },
  });
  ticking.start();
  await new Promise((resolve) => setTimeout(resolve, 2200));
  await ticking.stop();
  const count = seen.length;
  expect(count).toBeGreaterThanOrEqual(1);
  expect(seen[0]).toEqual(clock.now());
  await new Promise((resolve) => setTimeout(resolve, 1200));
  expect(seen.length).toBe(count);
});

test('verifyLedger names the account and the check that disagree', async () => {
  const [a, b] = await newMembers(h, 2);
  await accrue(h, a, 100);
  await accrue(h, b, 200);
  await h.ledger.authorizeRedemption(h.server, { member: { id: b }, points: 50, idempotencyKey: key() });
  const clean = await expectBooksBalance(h);
  expect(clean.accountsChecked).toBe(2);

  const em = h.orm.em.fork();
  const [{ id: accountB }] = await em.execute('select id from account where member_id = ?', [b]);
  await em.execute('update account set available = available + 1 where member_id = ?', [b]);
  const broken = await new LedgerAudit(h.database).verifyLedger({ programId: h.programId });
  expect(broken.ok).toBe(false);
  expect(broken.accountsChecked).toBe(2);
  expect(broken.discrepancies.map((d) => d.check).sort()).toEqual(['entries_available', 'last_entry_available', 'lifetime_totals', 'lots_available']);
  for (const d of broken.discrepancies) {
    // A point from nowhere: 200 earned, 151 available + 50 reserved.
    const [expected, actual] = d.check === 'lifetime_totals' ? [200, 201] : [150, 151];
    expect(d).toMatchObject({ accountId: accountB, memberId: b, expected, actual });
  }
  await em.execute('update account set available = available - 1 where member_id = ?', [b]);

  // A lot whose remainder disagrees with its allocations, and a reservation no authorization explains.
  await em.execute(`update lot set remaining = remaining - 10 where account_id = (select id from account where member_id = ?)`, [a]);
  await em.execute(`update "authorization" set status = 'released'`);
  const worse = await new LedgerAudit(h.database).verifyLedger({ programId: h.programId });
  expect(worse.discrepancies).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ memberId: a, check: 'lot_remaining', expected: 100, actual: 90, lotId: expect.any(Number) }),
      expect.objectContaining({ memberId: a, check: 'lots_available', expected: 90, actual: 100 }),
      expect.objectContaining({ memberId: b, check: 'open_authorizations', expected: 0, actual: 50 }),
      expect.objectContaining({ memberId: b, check: 'authorization_holds', expected: 0, actual: 50 }),
    ]),
  );
  expect(worse.discrepancies).toHaveLength(4);
});
