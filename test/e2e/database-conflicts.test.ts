import { createTestDatabase, type TestDatabase } from '../support/database';
import { armFault, faultAttempts, installFaultTrigger } from '../support/fault-trigger';
import { ledgerDifferences, VERIFY_LEDGER, withClient } from '../support/faults';
import { startTestServer, type TestServer } from '../support/server';
import { AccrueDocument } from './generated/graphql';
import { createMember, createProgram, ok, type ProgramFixture } from './helpers';

/** Deadlocks, serialization failures and slow statements, injected by a trigger in the suite's database. */
let db: TestDatabase;
let s: TestServer;
let shop: ProgramFixture;
let memberId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await installFaultTrigger(db.url);
  s = await startTestServer({ db, env: { PATRON_DB_STATEMENT_TIMEOUT_MS: '1000', PATRON_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '4000' } });
  shop = await createProgram(s);
  memberId = (await createMember(s, shop.serverKey)).id;
});
afterAll(async () => {
  await s.close();
  await db.drop();
});
afterEach(() => armFault(db.url, { code: null }));

const accrue = (key: string, points: number) =>
  s.request(AccrueDocument, { input: { member: { id: memberId }, points, idempotencyKey: key, delayDays: 0 } }, shop.serverKey);

const planned: Array<{ key: string; memberId: string; points: number }> = [];

describe.each([
  ['serialization failure', '40001'],
  ['deadlock', '40P01'],
])('%s (%s)', (_name, code) => {
  test('twice in a row: the third attempt succeeds, with exactly one entry', async () => {
    await armFault(db.url, { code, failures: 2 });
    const key = `transient-${code}`;
    const res = ok(await accrue(key, 7));
    expect(res.accrue.entry.amount).toBe(7);
    expect(await faultAttempts(db.url)).toBe(3);
    planned.push({ key, memberId, points: 7 });
    expect(await ledgerDifferences(db.url, shop.programId, planned)).toEqual([]);
  });

  test('on every attempt: SERVICE_UNAVAILABLE, retryable, and nothing written', async () => {
    await armFault(db.url, { code, failures: 1000 });
    const key = `persistent-${code}`;
    const res = await accrue(key, 11);
    expect(res.data).toBeNull();
    expect(res.errors?.map((e) => e.extensions)).toEqual([{ code: 'SERVICE_UNAVAILABLE', retryable: true }]);
    // Retried, with a bound: five attempts in all.
    expect(await faultAttempts(db.url)).toBe(5);
    expect(await ledgerDifferences(db.url, shop.programId, planned)).toEqual([]);
    const claimed = await withClient(db.url, (c) => c.query('select 1 from idempotency_record where key = $1', [key]));
    expect(claimed.rowCount).toBe(0);

    // Once the conflicts stop, the same request goes through once.
    await armFault(db.url, { code: null });
    ok(await accrue(key, 11));
    ok(await accrue(key, 11));
    planned.push({ key, memberId, points: 11 });
    expect(await ledgerDifferences(db.url, shop.programId, planned)).toEqual([]);
  });
});

test('a statement over PATRON_DB_STATEMENT_TIMEOUT_MS is cancelled: SERVICE_UNAVAILABLE and nothing written', async () => {
  await armFault(db.url, { sleepMs: 3000 });
  const started = Date.now();
  const res = await accrue('slow', 5);
  expect(Date.now() - started).toBeLessThan(2900);
  expect(res.errors?.map((e) => e.extensions)).toEqual([{ code: 'SERVICE_UNAVAILABLE', retryable: true }]);
  expect(await ledgerDifferences(db.url, shop.programId, planned)).toEqual([]);
  expect(ok(await s.request<any, any>(VERIFY_LEDGER, undefined, shop.adminKey)).verifyLedger).toEqual({ ok: true, discrepancies: [] });
});

test('the pool sets both timeouts from the configuration on its connections', async () => {
  const [row] = await s.app.db.execute<{ statement: string; idle: string }>(
    "select current_setting('statement_timeout') as statement, current_setting('idle_in_transaction_session_timeout') as idle",
  );
  expect(row).toEqual({ statement: '1s', idle: '4s' });
});

test('a transaction left idle past PATRON_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS loses its session, and the pool carries on', async () => {
  const client = await s.app.db.pool.connect();
  try {
    await client.query('begin');
    await client.query("select 1");
    await new Promise((r) => setTimeout(r, 4500));
    await expect(client.query('select 1')).rejects.toThrow(/idle-in-transaction timeout|Connection terminated|not queryable/);
  } finally {
    client.release(true);
  }
  ok(await accrue('after-idle', 3));
  planned.push({ key: 'after-idle', memberId, points: 3 });
  expect(await ledgerDifferences(db.url, shop.programId, planned)).toEqual([]);
});
