/**
 * The expiry part of the bench: due lots seeded set-based, swept once by keyset-batched raw SQL
 * (the baseline) and once by the expire-lots job, and accruals measured while the job runs.
 *
 * Seeding: every account gets `lots ÷ accounts` lots of 10 points, each with its accrual entry,
 * created round-robin (lot ids interleave the accounts, as lots earned over time do), all past
 * their expiry. The books balance as if each lot had been accrued through the API. Each row
 * seeds its own lots (BENCH_EXPIRY_LOTS, 1 000 000 by default), so every sweep starts from the same state.
 */
import type { Client } from 'pg';
import { Client as PgClient } from 'pg';
import { CpuMeter } from './cpu';
import { workRow, type Measurement } from './load';

export const LOT_POINTS = 10;

/** Adds `lots` due lots spread evenly over the program's accounts; returns how many it made. */
export async function seedDueLots(db: Client, programId: string, lots: number): Promise<number> {
  const [{ n: accounts }] = (await db.query('select count(*)::int as n from account where program_id = $1', [programId])).rows;
  const perAccount = Math.max(1, Math.round(lots / accounts));
  await db.query('begin');
  // One accrual entry and one lot per (round, account); *_after climbs from the account's
  // current balance so the newest entry matches the cached one.
  await db.query(
    `with e as (
       insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
         available_after, pending_after, reserved_after, cause_type, cause_id, reason, created_at)
       select $1, a.id, 'accrual', $3::bigint, $3::bigint, 0, 0, a.available + r * $3::bigint, a.pending, a.reserved, 'admin', 'bench-expiry-seed', 'bench expiry seed',
         now() - interval '400 days'
       from generate_series(1, $2::int) r cross join account a
       where a.program_id = $1
       order by r, a.id
       returning id, account_id
     )
     insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at)
     select $1, account_id, id, $3::bigint, $3::bigint, now() - interval '400 days', now() - interval '400 days', now() - interval '1 day', now() - interval '400 days'
     from e order by id`,
    [programId, perAccount, LOT_POINTS],
  );
  await db.query(
    `update account set available = available + $2::bigint * $3::bigint, lifetime_earned = lifetime_earned + $2::bigint * $3::bigint,
       entry_count = entry_count + $2::bigint, updated_at = now()
     where program_id = $1`,
    [programId, perAccount, LOT_POINTS],
  );
  await db.query('commit');
  await db.query('vacuum analyze lot, ledger_entry, account');
  return perAccount * accounts;
}

/** What a sweep did, as the job reports it. */
export interface SweepCounts {
  lots: number;
  entries: number;
  batches: number;
}

/**
 * The baseline: keyset-batched raw SQL over the same due lots, each batch one transaction — the
 * accounts holding the next `batchSize` due lots after the last account (whole accounts, through
 * the open-lots index in account order), lock them in id order, then one unnamed (so freshly
 * planned) statement that empties their due lots and writes one expiry entry per account with its
 * allocations, as the job does (without the outbox events the job also writes).
 */
export async function rawKeysetExpiry(databaseUrl: string, asOf: Date, batchSize: number): Promise<SweepCounts> {
  const c = new PgClient({ connectionString: databaseUrl, application_name: 'patron-bench-expiry-sql' });
  await c.connect();
  const counts: SweepCounts = { lots: 0, entries: 0, batches: 0 };
  try {
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      await c.query('begin');
      const { rows: [page] } = await c.query(
        `select max(account_id::text)::uuid as last_id from (
           select account_id from lot where remaining > 0 and expires_at <= $1 and account_id > $2
           order by account_id limit $3
         ) page`,
        [asOf, after, batchSize],
      );
      if (page.last_id == null) {
        await c.query('commit');
        break;
      }
      const { rows: locked } = await c.query(
        `select id from account a where id > $1 and id <= $2
           and exists (select 1 from lot l where l.account_id = a.id and l.remaining > 0 and l.expires_at <= $3)
         order by id for update`,
        [after, page.last_id, asOf],
      );
      const { rows } = await c.query(
        `with due as (
           select id, account_id, remaining, activated_at is not null as active from lot
           where account_id = any($1::uuid[]) and remaining > 0 and expires_at <= $2
         ), per_account as (
           select account_id, coalesce(sum(remaining) filter (where active), 0) as from_available,
             coalesce(sum(remaining) filter (where not active), 0) as from_pending
           from due group by account_id
         ), acc as (
           update account a set available = a.available - p.from_available, pending = a.pending - p.from_pending,
             lifetime_expired = a.lifetime_expired + p.from_available + p.from_pending, entry_count = a.entry_count + 1, updated_at = $2
           from per_account p where a.id = p.account_id
           returning a.id, a.program_id, a.available, a.pending, a.reserved, p.from_available, p.from_pending
         ), e as (
           insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
             available_after, pending_after, reserved_after, cause_type, cause_id, reason, created_at)
           select program_id, id, 'expiry', -(from_available + from_pending), -from_available, -from_pending, 0,
             available, pending, reserved, 'job', 'expire-lots', 'Points expired', $2
           from acc order by id
           returning id, account_id
         ), allocated as (
           insert into lot_allocation (entry_id, lot_id, amount)
           select e.id, due.id, -due.remaining from due join e on e.account_id = due.account_id
         ), emptied as (
           update lot set remaining = 0 from due where lot.id = due.id
         )
         select (select count(*) from due)::int as lots, (select count(*) from e)::int as entries`,
        [locked.map((r) => r.id), asOf],
      );
      await c.query('commit');
      counts.batches++;
      counts.lots += rows[0].lots;
      counts.entries += rows[0].entries;
      after = page.last_id;
    }
    return counts;
  } catch (error) {
    await c.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    await c.end();
  }
}

export interface ExpiryPartContext {
  db: Client;
  databaseUrl: string;
  programId: string;
  lots: number;
  rawBatchSize: number;
  /** runJob('expire-lots') over GraphQL; resolves with the lots it moved. */
  runJob: (asOf: Date) => Promise<{ lots: number; entries: number; batches: number }>;
  /** The accrual row (accrue, uniform, 8 clients) under the given label. */
  accrue: (label: { name: string; op: string }) => Promise<Measurement>;
  want: (row: string) => boolean;
  meter?: CpuMeter;
  waitForOutbox: () => Promise<void>;
  log: (msg: string) => void;
}

/**
 * The expiry rows, each pair over freshly seeded due lots: keyset raw SQL (`expiry-sql`), the
 * job (`expiry`), accruals with the lots due but no job (`accrue before expiry 8`) and then while
 * the job sweeps them (`accrue during expiry 8`). Prints how long each part took.
 */
export async function expiryRows(ctx: ExpiryPartContext): Promise<Measurement[]> {
  const rows: Measurement[] = [];
  const [{ n: accounts }] = (await ctx.db.query('select count(*)::int as n from account where program_id = $1', [ctx.programId])).rows;
  const seeded = async () => {
    const t0 = Date.now();
    const made = await seedDueLots(ctx.db, ctx.programId, ctx.lots);
    ctx.log(`  seeded ${made} due lots over ${accounts} accounts (set-based SQL) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await ctx.waitForOutbox();
    return made;
  };
  const timed = async <T>(work: () => Promise<T>) => {
    const before = await ctx.meter?.snapshot();
    const t0 = performance.now();
    const result = await work();
    const ms = performance.now() - t0;
    const after = await ctx.meter?.snapshot();
    return { result, ms, cpu: before && after ? CpuMeter.delta(before, after) : null };
  };
  if (ctx.want('expiry-sql')) {
    const made = await seeded();
    const { result, ms, cpu } = await timed(() => rawKeysetExpiry(ctx.databaseUrl, new Date(), ctx.rawBatchSize));
    ctx.log(`  keyset raw SQL: ${result.lots} lots, ${result.entries} entries, ${result.batches} batches of ${ctx.rawBatchSize} in ${(ms / 1000).toFixed(1)} s`);
    if (result.lots !== made) ctx.log(`  ! raw SQL moved ${result.lots} of ${made} lots`);
    rows.push(workRow({ name: `expiry: keyset raw SQL, ${made} lots / ${accounts} accounts`, op: 'expirySql', accounts: '-' }, result.lots, ms, cpu));
  }
  if (ctx.want('expiry')) {
    const made = await seeded();
    const { result, ms, cpu } = await timed(() => ctx.runJob(new Date()));
    ctx.log(`  expire-lots job: ${result.lots} lots, ${result.entries} entries, ${result.batches} batches in ${(ms / 1000).toFixed(1)} s`);
    if (result.lots !== made) ctx.log(`  ! the job moved ${result.lots} of ${made} lots`);
    rows.push(workRow({ name: `expiry: expire-lots job, ${made} lots / ${accounts} accounts`, op: 'expiry', accounts: '-' }, result.lots, ms, cpu));
    await ctx.waitForOutbox();
  }
  if (ctx.want('accrue before expiry 8') || ctx.want('accrue during expiry 8')) {
    // Both rows over the same due lots: an accrual to an account with due lots expires them
    // itself, so only the job differs between the two.
    await seeded();
    const before = await ctx.accrue({ name: 'accrue (GraphQL), due lots, no job', op: 'accrueBeforeExpiry' });
    ctx.log(`  accruals with no job: ${before.opsPerSec} ops/s, p50 ${before.p50Ms} ms, p99 ${before.p99Ms} ms`);
    rows.push(before);
    await ctx.waitForOutbox();
    const t0 = performance.now();
    const job = ctx.runJob(new Date());
    const during = await ctx.accrue({ name: 'accrue (GraphQL) while expire-lots runs', op: 'accrueDuringExpiry' });
    const windowEnd = performance.now();
    const result = await job;
    const ended = performance.now();
    ctx.log(`  accruals while the job runs: ${during.opsPerSec} ops/s, p50 ${during.p50Ms} ms, p99 ${during.p99Ms} ms`);
    ctx.log(`  the job (${result.lots} lots) took ${((ended - t0) / 1000).toFixed(1)} s with the accruals beside it`);
    if (ended < windowEnd + 500) ctx.log('  ! the job ended about when the accrual window did or before: seed more lots (BENCH_EXPIRY_LOTS)');
    rows.push(during);
    await ctx.waitForOutbox();
  }
  return rows;
}
