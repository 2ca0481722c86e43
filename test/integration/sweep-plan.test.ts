import type { PoolClient } from 'pg';
import { DAY_MS } from '../../src/services/shared';
import { LedgerAudit, LedgerJobs } from '../../src/services/ledger';
import { ACTIVATION, EXPIRY, type LotSweep } from '../../src/services/ledger/sweep-store';
import { serviceHarness, type ServiceHarness } from '../support/services';
import { genericPlan as explainGeneric, sqlLiteral as literal, weakSpots } from '../support/plans';

/**
 * The lot jobs run their statements prepared, so after five runs PostgreSQL may plan them
 * without their parameters (a generic plan) and keep that plan. It then guesses that about one
 * lot is due; a join of two CTE results planned on that guess turned into a nested loop over
 * both, a million comparisons per thousand-lot batch. These tests hold the statements to shapes
 * whose generic plans stay good whatever the batch holds: no CTE result joined with another, no
 * scan of a whole table — read from EXPLAIN of the generic plan, after ten executions, over a
 * batch of 2 000 accounts in a table of 20 000 (a batch the size of its table is rightly scanned).
 */

const ACCOUNTS = 2000;
/** Accounts with no lots beside them: a batch is a tenth of the table, as in a shop, not all of it. */
const BYSTANDERS = 18_000;
const LOTS_PER_ACCOUNT = 3;

let h: ServiceHarness;
let client: PoolClient;

beforeAll(async () => {
  h = await serviceHarness();
  client = await h.database.pool.connect();
  // Accounts, each with lots that expire and pending lots that come due, created round-robin
  // (lot ids interleave the accounts), with their accrual entries so the books balance.
  const past = new Date(h.clock.now().getTime() - 100 * DAY_MS);
  const soon = new Date(h.clock.now().getTime() + DAY_MS);
  await client.query('begin');
  await client.query(
    `create temp table plan_seed on commit drop as
     select g, gen_random_uuid() as member_id, gen_random_uuid() as account_id from generate_series(1, $1::int) g`,
    [ACCOUNTS],
  );
  await client.query(
    `insert into member (id, program_id, external_id, status, tags, registered_at, updated_at)
     select member_id, $1, 'plan-' || g, 'active', '{}', $2, $2 from plan_seed`,
    [h.programId, past],
  );
  await client.query(
    `insert into account (id, program_id, member_id, available, pending, reserved, lifetime_earned, lifetime_redeemed,
       lifetime_expired, entry_count, updated_at)
     select account_id, $1, member_id, 0, 0, 0, 0, 0, 0, 0, $2 from plan_seed`,
    [h.programId, past],
  );
  // Per account: rounds 1..n are active lots that expired, rounds n+1..2n pending lots whose
  // availableAt has come (they expire later).
  await client.query(
    `with e as (
       insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
         available_after, pending_after, reserved_after, cause_type, cause_id, reason, created_at)
       select $1, account_id, 'accrual', 5,
         case when r <= $2 then 5 else 0 end, case when r <= $2 then 0 else 5 end, 0,
         5 * least(r, $2), 5 * greatest(r - $2, 0), 0, 'admin', 'plan-seed', null, $3
       from generate_series(1, 2 * $2::int) r cross join plan_seed
       order by r, g
       returning id, account_id, delta_pending > 0 as pending
     )
     insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at)
     select $1, account_id, id, 5, 5, $3, case when pending then null else $3::timestamptz end,
       case when pending then $4::timestamptz + interval '30 days' else $3::timestamptz + interval '50 days' end, $3
     from e order by id`,
    [h.programId, LOTS_PER_ACCOUNT, past, soon],
  );
  await client.query(
    `update account a set available = 5 * $1::int, pending = 5 * $1::int, lifetime_earned = 10 * $1::int, entry_count = 2 * $1::int
     from plan_seed s where a.id = s.account_id`,
    [LOTS_PER_ACCOUNT],
  );
  await client.query(
    `with m as (
       insert into member (id, program_id, external_id, status, tags, registered_at, updated_at)
       select gen_random_uuid(), $1, 'bystander-' || g, 'active', '{}', $2, $2 from generate_series(1, $3::int) g
       returning id
     )
     insert into account (id, program_id, member_id, available, pending, reserved, lifetime_earned, lifetime_redeemed,
       lifetime_expired, entry_count, updated_at)
     select gen_random_uuid(), $1, id, 0, 0, 0, 0, 0, 0, 0, $2 from m`,
    [h.programId, past, BYSTANDERS],
  );
  await client.query('commit');
  await client.query('analyze lot, account, ledger_entry, member');
});

afterAll(async () => {
  client?.release();
  await h.close();
});

/** Ten runs over nothing (no account, or one without due lots): what a quiet minute's job leaves cached. */
const genericPlan = (name: string, text: string, params: string[], warmUp: string[]) => explainGeneric(client, name, text, params, warmUp);

async function allAccounts(): Promise<string[]> {
  const { rows } = await client.query(
    `select a.id from account a join member m on m.id = a.member_id
     where a.program_id = $1 and m.external_id like 'plan-%' order by a.id`,
    [h.programId],
  );
  return rows.map((r) => r.id);
}

describe.each([
  ['expiry', EXPIRY, 'expire'],
  ['activation', ACTIVATION, 'activate'],
] as Array<[string, LotSweep, string]>)('the %s sweep', (_, sweep, prefix) => {
  test('keeps a generic plan without CTE-to-CTE joins or table scans over a 2 000-account batch', async () => {
    const asOf = literal(h.clock.now());
    const accounts = await allAccounts();
    expect(accounts.length).toBeGreaterThanOrEqual(ACCOUNTS);
    const ids = literal(`{${accounts.join(',')}}`);
    const plan = await genericPlan(`${prefix}_apply`, sweep.apply.text, [ids, asOf, asOf, asOf], [literal('{}'), asOf, asOf, asOf]);
    expect(weakSpots(plan)).toEqual([]);
  });

  test('locks a range of accounts by primary key in its generic plan', async () => {
    const asOf = literal(h.clock.now());
    const accounts = await allAccounts();
    const [first, last] = [accounts[0], accounts[accounts.length - 1]];
    const none = literal('00000000-0000-0000-0000-000000000000');
    const plan = await genericPlan(`${prefix}_lock`, sweep.lockAccounts.text, [literal(first), literal(last), asOf], [none, none, asOf]);
    expect(weakSpots(plan)).toEqual([]);
  });
});

test('the jobs over 2 000 accounts: one entry per account per sweep, books balanced', async () => {
  const jobs = new LedgerJobs(h.database, h.ledger, { batchSize: 500 });
  const expired = await jobs.expireLots(h.clock.now());
  expect(expired).toMatchObject({ lots: ACCOUNTS * LOTS_PER_ACCOUNT, entries: ACCOUNTS, accounts: ACCOUNTS });
  // About 500 lots a batch, in whole accounts of three lots: about twelve batches.
  expect(expired.batches).toBeGreaterThanOrEqual((ACCOUNTS * LOTS_PER_ACCOUNT) / 500);
  const activated = await jobs.activatePendingLots(h.clock.now());
  expect(activated).toMatchObject({ lots: ACCOUNTS * LOTS_PER_ACCOUNT, entries: ACCOUNTS, accounts: ACCOUNTS });
  const { rows: [books] } = await client.query(
    `select count(*) filter (where available = 5 * $2 and pending = 0 and lifetime_expired = 5 * $2)::int as right,
       count(*)::int as all
     from account a join member m on m.id = a.member_id where a.program_id = $1 and m.external_id like 'plan-%'`,
    [h.programId, LOTS_PER_ACCOUNT],
  );
  expect(books.right).toBe(books.all);
  const { rows: [per] } = await client.query(
    `select max(n)::int as most from (select count(*) as n from ledger_entry where kind = 'expiry' group by account_id) e`,
  );
  expect(per.most).toBe(1);
  const verification = await new LedgerAudit(h.database).verifyLedger({ programId: h.programId });
  expect(verification.discrepancies).toEqual([]);
  expect(await jobs.expireLots(h.clock.now())).toEqual({ lots: 0, entries: 0, accounts: 0, batches: 0 });
});
