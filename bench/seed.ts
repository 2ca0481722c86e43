/** Seeding for the bench: many members in a few set-based statements. */
import type { Client } from 'pg';

export const SEED_BALANCE = 1_000_000;

export interface Seeded {
  programId: string;
  memberIds: string[];
  accountIds: string[];
}

/**
 * Members with one account, one accrual entry and one lot each, in set-based statements; the
 * books balance (entries = balances = lots) as if each had been accrued through the API.
 */
export async function seed(db: Client, programId: string, count: number): Promise<Seeded> {
  await db.query('begin');
  await db.query(
    `create temp table bench_seed on commit drop as
     select g, gen_random_uuid() as member_id, gen_random_uuid() as account_id from generate_series(1, $1::int) g`,
    [count],
  );
  await db.query(
    `insert into member (id, program_id, external_id, status, tags, registered_at, updated_at)
     select member_id, $1, 'bench-' || g, 'active', '{}', now(), now() from bench_seed`,
    [programId],
  );
  await db.query(
    `insert into account (id, program_id, member_id, available, pending, reserved, lifetime_earned, lifetime_redeemed,
       lifetime_expired, entry_count, updated_at)
     select account_id, $1, member_id, $2, 0, 0, $2, 0, 0, 1, now() from bench_seed`,
    [programId, SEED_BALANCE],
  );
  await db.query(
    `with e as (
       insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
         available_after, pending_after, reserved_after, cause_type, cause_id, reason, idempotency_key, created_at)
       select $1, account_id, 'accrual', $2, $2, 0, 0, $2, 0, 0, 'admin', 'bench-seed', 'bench seed', 'bench-seed-' || g, now()
       from bench_seed order by g
       returning id, account_id
     )
     insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at)
     select $1, account_id, id, $2, $2, now(), now(), null, now() from e`,
    [programId, SEED_BALANCE],
  );
  const rows = await db.query<{ member_id: string; account_id: string }>(
    'select member_id, account_id from bench_seed order by g',
  );
  await db.query('commit');
  // Only the tables the seed filled. A blanket `vacuum analyze` also recorded every other table
  // (idempotency records, orders, awards …) as empty, and the plans cached on the server's
  // connections then scanned them whole as they grew during the rows: the first rows, and every
  // payOrder foreign-key check on shop_order, paid for it. A table never analyzed is planned from
  // its actual size, as on a fresh install before autovacuum's first pass.
  await db.query('vacuum analyze member, account, ledger_entry, lot');
  // The seed's pages are written out now, not by the checkpointer during the first measured rows
  // (its CPU counts as PostgreSQL's, and the first rows came out up to a quarter slower).
  await db.query('checkpoint');
  return {
    programId,
    memberIds: rows.rows.map((r) => r.member_id),
    accountIds: rows.rows.map((r) => r.account_id),
  };
}

