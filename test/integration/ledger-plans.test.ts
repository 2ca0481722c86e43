/**
 * The ledger's write statements keep one plan per connection: after PostgreSQL's first five
 * custom plans a prepared statement should settle on its generic plan, not be planned again on
 * every call (a re-planned posting cost ~0.14 ms of planning per write). Measured on a pool of one
 * connection, where `pg_prepared_statements` counts the plans of every statement the writes ran.
 */
import { Database } from '../../src/db/database';
import { LedgerService } from '../../src/services/ledger';
import { DomainHooks } from '../../src/services/shared';
import { testContext } from '../support/context';
import { serviceHarness, type ServiceHarness } from '../support/services';

let h: ServiceHarness;
let db: Database;
beforeAll(async () => {
  h = await serviceHarness();
  db = new Database(h.db.url, 1);
  db.setDispatcher(new DomainHooks().dispatch);
});
afterAll(async () => {
  await db.close();
  await h.close();
});

async function plans(): Promise<Array<{ name: string; generic_plans: number; custom_plans: number }>> {
  return db.execute(
    `select name, generic_plans, custom_plans from pg_prepared_statements
     where name ~ '^(ledger|idempotency|outbox)\\.' order by name`,
  );
}

/**
 * A lot table the size of a real one, so plans are costed as in production (on a few rows every
 * plan is cheap): another member holds 100 000 one-point lots of one accrual, the books balanced.
 */
async function bigLotTable(programId: string, ctx: ReturnType<typeof testContext>): Promise<void> {
  const { member } = await h.members.upsert(ctx, { externalId: 'many-lots' });
  await db.execute(
    `with a as (update account set available = 100000, lifetime_earned = 100000, entry_count = 1 where member_id = $2 returning id),
     e as (insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
             available_after, pending_after, reserved_after, cause_type, created_at)
           select $1, a.id, 'accrual', 100000, 100000, 0, 0, 100000, 0, 0, 'admin', now() from a returning id, account_id)
     insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at)
     select $1, e.account_id, e.id, 1, 1, now(), now(), now() + (g || ' minutes')::interval + interval '1000 days', now()
     from e, generate_series(1, 100000) g`,
    [programId, member.id],
  );
  await db.execute('analyze lot');
  await db.execute('analyze lot_allocation');
  await db.execute('analyze ledger_entry');
}

test.each([
  ['the general path', false],
  ['the one-statement path', true],
])('accruals and redemptions through %s are not planned again per call', async (_name, oneStatementWrites) => {
  const { program } = await h.programs.createProgram(h.admin, { name: `plans-${oneStatementWrites}`, pendingDays: 0 });
  const ctx = testContext(program.id, 'server');
  const ledger = new LedgerService(db, h.clock, { oneStatementWrites });
  ledger.subscribe(new DomainHooks());
  const { member } = await h.members.upsert(ctx, { externalId: 'plans' });
  await bigLotTable(program.id, ctx);
  for (let i = 0; i < 20; i++) {
    await ledger.accrue(ctx, { member: { id: member.id }, points: 10, idempotencyKey: `a-${oneStatementWrites}-${i}` });
    await ledger.redeem(ctx, { member: { id: member.id }, points: 3 + (i % 4), idempotencyKey: `r-${oneStatementWrites}-${i}` });
  }
  const ran = (await plans()).filter((p) => p.generic_plans + p.custom_plans >= 20);
  expect(ran.length).toBeGreaterThan(0);
  expect(ran.filter((p) => p.custom_plans > 5)).toEqual([]);
});

test('ledger_write sets nothing per call (a SET clause on it cost more PostgreSQL CPU than an accrual)', async () => {
  const [fn] = await db.execute(`select proconfig from pg_proc where proname = 'ledger_write'`);
  expect(fn.proconfig).toBeNull();
});

/**
 * Statements inside ledger_write are cached plans of the function, out of pg_prepared_statements'
 * sight: pg_stat_statements counts their planning. The test run's embedded PostgreSQL loads it
 * (tracking nothing until a session asks); a server named by DATABASE_URL may not, so there
 * the test is skipped. Statements are matched to the function's source by their text, so those
 * whose text PostgreSQL rewrites (literals made parameters, INTO dropped) are not counted: the
 * spend's lot writes and the key's insert are.
 */
(process.env.DATABASE_URL ? test.skip : test)('the statements inside ledger_write (and the answer it stores) are not planned again per call', async () => {
  const [loaded] = await db.execute(`select current_setting('shared_preload_libraries') ~ 'pg_stat_statements' as yes`);
  expect(loaded.yes).toBe(true);
  await db.execute('create extension if not exists pg_stat_statements');
  // The pool has one connection: these hold for every call below.
  await db.execute(`set pg_stat_statements.track = 'all'`);
  await db.execute('set pg_stat_statements.track_planning = on');
  const { program } = await h.programs.createProgram(h.admin, { name: 'nested-plans', pendingDays: 0 });
  const ctx = testContext(program.id, 'server');
  const ledger = new LedgerService(db, h.clock, { oneStatementWrites: true });
  ledger.subscribe(new DomainHooks());
  const { member } = await h.members.upsert(ctx, { externalId: 'nested-plans' });
  await bigLotTable(program.id, ctx);
  for (let i = 0; i < 40; i++) await ledger.accrue(ctx, { member: { id: member.id }, points: 5, idempotencyKey: `na-${i}` });
  // Spends of one lot and of several.
  for (let i = 0; i < 20; i++) await ledger.redeem(ctx, { member: { id: member.id }, points: 1 + (i % 7), idempotencyKey: `nr-${i}` });
  const statements = await db.execute(
    `select calls::int, plans::int, query from pg_stat_statements
     where dbid = (select oid from pg_database where datname = current_database()) and toplevel = false and calls >= 20
       and strpos((select string_agg(prosrc, ' ') from pg_proc where proname in ('ledger_write', 'idempotency_answer')), query) > 0`,
  );
  expect(statements.map((s: any) => s.query.match(/^\s*(update lot|insert into lot_allocation|insert into idempotency_record)/)?.[1]).filter(Boolean).sort())
    .toEqual(['insert into idempotency_record', 'insert into lot_allocation', 'update lot']);
  // One connection: five custom plans, then the generic one (again after an ANALYZE of an earlier test).
  expect(statements.filter((s: any) => s.plans > s.calls / 2).map((s: any) => `${s.plans} plans of ${s.calls} calls: ${s.query.slice(0, 120)}`)).toEqual([]);
});
