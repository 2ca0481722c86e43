import type { PoolClient } from 'pg';
import { serviceHarness, type ServiceHarness } from '../support/services';
import { testContext } from '../support/context';

/**
 * Every write changes an account's balances and every spend a lot's `remaining`. PostgreSQL
 * updates such a row in place (HOT: no new index entries, nothing left behind for vacuum) only
 * when no indexed column — predicates of partial indexes included — changes. `remaining` was in
 * the predicate of every partial lot index, so no lot update was ever HOT; the indexes now filter
 * on `unspent`, which changes only when a lot is used up. Measured inside one transaction with
 * pg_stat_get_xact_tuples_hot_updated, on rows whose pages have room.
 */

let h: ServiceHarness;
let client: PoolClient;
let accountId: string;

beforeAll(async () => {
  h = await serviceHarness();
  const ctx = testContext(h.programId, 'server');
  const { member } = await h.members.upsert(ctx, { externalId: 'hot-updates' });
  await h.ledger.accrue(ctx, { member: { id: member.id }, points: 10, delayDays: 0, idempotencyKey: 'hot-1' });
  client = await h.database.pool.connect();
  ({ rows: [{ id: accountId }] } = await client.query('select id from account where member_id = $1', [member.id]));
});

afterAll(async () => {
  client?.release();
  await h.close();
});

async function hotUpdates(table: string, update: string, params: unknown[]): Promise<{ updated: number; hot: number }> {
  // The backend's counts not yet sent to the statistics, so the difference around the update.
  const count = async () =>
    (await client.query(`select pg_stat_get_xact_tuples_hot_updated($1::regclass)::int as hot`, [table])).rows[0].hot as number;
  await client.query('begin');
  try {
    const before = await count();
    const { rowCount } = await client.query(update, params);
    return { updated: rowCount ?? 0, hot: (await count()) - before };
  } finally {
    await client.query('rollback');
  }
}

test('a spend that leaves points in a lot updates it in place', async () => {
  expect(await hotUpdates('lot', 'update lot set remaining = remaining - 3 where account_id = $1', [accountId])).toEqual({ updated: 1, hot: 1 });
});

test('accounts leave room on their pages for the next version of a row', async () => {
  // A fresh row on a near-empty page is updated in place anyway; a full page needs this room.
  const { rows: [account] } = await client.query(`select reloptions from pg_class where relname = 'account'`);
  expect(account.reloptions).toContain('fillfactor=85');
});

test('a balance change updates the account in place', async () => {
  const update = `update account set available = available - 3, lifetime_redeemed = lifetime_redeemed + 3,
    entry_count = entry_count + 1, updated_at = now() where id = $1`;
  expect(await hotUpdates('account', update, [accountId])).toEqual({ updated: 1, hot: 1 });
});

test('no lot index reads remaining, and no account index a balance', async () => {
  const { rows } = await client.query(
    `select c.relname as tbl, pg_get_indexdef(i.indexrelid) as def from pg_index i join pg_class c on c.oid = i.indrelid
     where c.relname in ('lot', 'account')`,
  );
  const balance = /\b(remaining|available|pending|reserved|debt|lifetime_\w+|entry_count|updated_at)\b/;
  expect(rows.filter((r) => balance.test(r.def)).map((r) => r.def)).toEqual([]);
});
