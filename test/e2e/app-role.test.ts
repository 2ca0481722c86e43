import { Client } from 'pg';
import { startTestServer, type TestServer } from '../support/server';
import { accrue, createMember, createProgram } from './helpers';

/**
 * The application connects as a role that owns nothing: whatever it sends, a ledger entry stays
 * as it was written. These statements run on the running server's own pool.
 */
let s: TestServer;
let entryId: number;

beforeAll(async () => {
  s = await startTestServer();
  const shop = await createProgram(s);
  const member = await createMember(s, shop.serverKey);
  entryId = Number((await accrue(s, shop.serverKey, member.id, 70)).entry.id);
});

afterAll(() => s.close());

async function entryAsOwner(): Promise<unknown> {
  const owner = new Client({ connectionString: s.db.url });
  await owner.connect();
  try {
    return (await owner.query('select * from ledger_entry where id = $1', [entryId])).rows;
  } finally {
    await owner.end();
  }
}

test('the application role is not the owner and not a superuser', async () => {
  const [me] = await s.app.db.execute<{ user: string; superuser: string }>(`select current_user as user, current_setting('is_superuser') as superuser`);
  expect(me.superuser).toBe('off');
  const [owned] = await s.app.db.execute<{ n: number }>(
    `select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = current_schema() and pg_get_userbyid(c.relowner) = current_user`);
  expect(owned.n).toBe(0);
  // The ORM's runtime connections too (it migrated as the owner, then reconnected).
  const [orm] = await s.app.orm.em.fork().getConnection().execute<Array<{ user: string; superuser: string }>>(
    `select current_user as user, current_setting('is_superuser') as superuser`);
  expect(orm).toEqual({ user: me.user, superuser: 'off' });
  expect(me.user).not.toBe(new URL(s.db.url).username);
});

test.each([
  ['update', 'update ledger_entry set amount = amount + 1000 where id = $1'],
  ['delete', 'delete from ledger_entry where id = $1'],
  ['delete through a writable CTE', 'with gone as (delete from ledger_entry where id = $1 returning 1) select count(*) from gone'],
  ['insert … on conflict do update', `insert into ledger_entry overriding system value select * from ledger_entry where id = $1 on conflict (id) do update set amount = 0`],
  ['replica mode, then delete', `set session_replication_role = replica; delete from ledger_entry where id = $1`],
  ['disabling the trigger', 'alter table ledger_entry disable trigger ledger_entry_append_only'],
  ['disabling every trigger', 'alter table ledger_entry disable trigger all'],
  ['dropping the trigger', 'drop trigger ledger_entry_append_only on ledger_entry'],
  ['replacing the trigger function', `create or replace function refuse_ledger_change() returns trigger language plpgsql as $f$ begin return old; end $f$`],
  ['truncate', 'truncate ledger_entry'],
  ['truncate cascade', 'truncate ledger_entry cascade'],
  ['dropping the table', 'drop table ledger_entry cascade'],
  ['taking the owner role', 'set role patron'],
  ['changing the owner', 'alter table ledger_entry owner to current_user'],
  ['granting itself more, then delete', 'grant all on ledger_entry to current_user; delete from ledger_entry where id = $1'],
  ['a rule that rewrites', `create rule keep as on insert to ledger_entry do instead nothing`],
])('the application cannot change an entry: %s', async (_what, sql) => {
  const before = await entryAsOwner();
  expect(before).toHaveLength(1);
  const client = await s.app.db.pool.connect();
  try {
    // Multi-statement text goes through the simple protocol (no parameters there).
    const text = sql.includes(';') ? sql.replace('$1', String(entryId)) : sql;
    await expect(text.includes('$1') ? client.query(text, [entryId]) : client.query(text)).rejects.toThrow(
      /permission denied|must be owner|append-only|superuser|not allowed/);
  } finally {
    await client.query('reset all').catch(() => undefined);
    client.release(true);
  }
  expect(await entryAsOwner()).toEqual(before);
});
