/**
 * The bench's tier rows: a structure, a year of paid orders per member, members holding tiers
 * the job has to take down, and the requalify job's set-based SQL run raw as the baseline.
 *
 * The structure (SPEND, rolling 12 months, TO_EARNED, 30 days' grace): standard 0, silver
 * 3 000.00, gold 10 000.00. Members by `external_id` 'bench-<g>', g mod 20:
 *   0–9    standard: two orders of 200.00 in the last six months (one bench order does not lift them)
 *   10–13  silver, kept: two orders of 2 000.00 in the last six months
 *   14–15  silver held 400 days, last orders 14–15 months ago: down to standard
 *   16     gold, kept: two orders of 6 000.00 in the last three months
 *   17     gold held 400 days: 6 000.00 14 months ago, 4 000.00 two months ago: down to silver
 *   18     silver earned, a VIP assignment of gold that ended yesterday: back to silver
 *   19     silver earned 10 days ago with nothing in the window: inside the grace period, kept
 * So one run of the job moves 20 % of the members (10 % + 5 % + 5 %).
 */
import type { Client } from 'pg';
import { Client as PgClient } from 'pg';
import { CpuMeter, type CpuDelta } from './cpu';
import { oneShot, type GraphQLClient, type Measurement } from './load';

export const TIER_STRUCTURE = {
  metric: 'SPEND',
  window: 'ROLLING_MONTHS',
  windowMonths: 12,
  downgradePolicy: 'TO_EARNED',
  graceDays: 30,
  levels: [
    { code: 'standard', name: 'Standard', threshold: 0 },
    { code: 'silver', name: 'Silver', threshold: 300_000, earnMultiplier: 1.25, maxRedeemPercent: 30, discountPercent: 3 },
    { code: 'gold', name: 'Gold', threshold: 1_000_000, earnMultiplier: 1.5, maxRedeemPercent: 40, discountPercent: 7, perks: ['free wrapping'] },
  ],
} as const;

const GRACE_DAYS = TIER_STRUCTURE.graceDays;
const DAY_MS = 86_400_000;

/**
 * Two paid orders per bench member (`shop_order` and their `tier_qualification` rows, set-based),
 * dated as the classes above need. The orders have no lines: only what they count for is read.
 */
export async function seedTierOrders(db: Client, programId: string): Promise<number> {
  await db.query('begin');
  await db.query(
    `create temp table bench_tier_orders on commit drop as
     with m as (
       select m.id as member_id, a.id as account_id, substr(m.external_id, 7)::int % 20 as class
       from member m join account a on a.member_id = m.id
       where m.program_id = $1 and m.external_id like 'bench-%'
     )
     select gen_random_uuid() as id, m.member_id, m.account_id, k.n,
       case
         when class < 10 then now() - make_interval(days => 20 + 70 * k.n)
         when class < 14 then now() - make_interval(days => 15 + 80 * k.n)
         when class < 16 then now() - make_interval(days => 425 + 30 * k.n)
         when class = 16 then now() - make_interval(days => 10 + 40 * k.n)
         when class = 17 then case k.n when 0 then now() - interval '60 days' else now() - interval '425 days' end
         when class = 18 then now() - make_interval(days => 30 + 60 * k.n)
         else now() - make_interval(days => 400 + 20 * k.n)
       end as paid_at,
       case
         when class < 10 then 20000
         when class < 16 then 200000
         when class = 16 then 600000
         when class = 17 then case k.n when 0 then 400000 else 600000 end
         when class = 18 then 200000
         else 200000
       end::bigint as money_minor
     from m cross join (values (0), (1)) k(n)`,
    [programId],
  );
  const { rowCount } = await db.query(
    `insert into shop_order (id, program_id, order_id, member_id, account_id, status, currency, delivery_minor, total_minor,
       point_value_minor, points_redeemed, placed_at, paid_at, updated_at)
     select id, $1, 'bench-tier-' || id, member_id, account_id, 'paid', 'RUB', 0, money_minor, 100, 0, paid_at, paid_at, paid_at
     from bench_tier_orders`,
    [programId],
  );
  await db.query(
    `insert into tier_qualification (order_id, program_id, member_id, qualified_at, money_minor, points, updated_at)
     select id, $1, member_id, paid_at, money_minor, 0, paid_at from bench_tier_orders`,
    [programId],
  );
  await db.query('commit');
  await db.query('vacuum analyze shop_order, tier_qualification');
  return rowCount ?? 0;
}

/** Puts every bench member in the tier they hold per the classes above (what saveTierStructure computed is overwritten). */
export async function holdTiers(db: Client, programId: string): Promise<void> {
  await db.query(
    `insert into member_tier (member_id, program_id, earned_code, earned_since, grant_code, grant_kind, grant_until, tier_code, tier_since, updated_at)
     select m.id, $1, x.earned, x.since, x.grant_code, x.grant_kind, x.grant_until, coalesce(x.grant_code, x.earned), x.since, now()
     from member m
     cross join lateral (select substr(m.external_id, 7)::int % 20 as class) c
     cross join lateral (
       select
         case when c.class < 10 then 'standard' when c.class in (16, 17) then 'gold' else 'silver' end as earned,
         case when c.class = 19 then now() - interval '10 days' when c.class < 10 then now() - interval '200 days'
              when c.class in (14, 15, 17) then now() - interval '400 days' else now() - interval '200 days' end as since,
         case when c.class = 18 then 'gold' end as grant_code,
         case when c.class = 18 then 'manual' end as grant_kind,
         case when c.class = 18 then now() - interval '1 day' end as grant_until
     ) x
     where m.program_id = $1 and m.external_id like 'bench-%'
     on conflict (member_id) do update set earned_code = excluded.earned_code, earned_since = excluded.earned_since,
       grant_code = excluded.grant_code, grant_kind = excluded.grant_kind, grant_until = excluded.grant_until,
       tier_code = excluded.tier_code, tier_since = excluded.tier_since, updated_at = excluded.updated_at`,
    [programId],
  );
  await db.query('vacuum analyze member_tier');
}

/** Keeps the members' tiers as they are now, for restoreTiers to put back before each run. */
export async function snapshotTiers(db: Client, programId: string): Promise<void> {
  await db.query('drop table if exists bench_member_tier');
  await db.query('create table bench_member_tier as select * from member_tier where program_id = $1', [programId]);
  await db.query('vacuum analyze bench_member_tier');
}

/** Puts member_tier back as snapshotTiers saw it (the rows a run changed), outside any measured window. */
export async function restoreTiers(db: Client): Promise<number> {
  const { rowCount } = await db.query(
    `update member_tier mt set earned_code = s.earned_code, earned_since = s.earned_since, grant_code = s.grant_code,
       grant_kind = s.grant_kind, grant_until = s.grant_until, tier_code = s.tier_code, tier_since = s.tier_since, updated_at = s.updated_at
     from bench_member_tier s
     where s.member_id = mt.member_id
       and (mt.earned_code, mt.earned_since, mt.grant_code, mt.grant_kind, mt.grant_until, mt.tier_code, mt.tier_since)
         is distinct from (s.earned_code, s.earned_since, s.grant_code, s.grant_kind, s.grant_until, s.tier_code, s.tier_since)`,
  );
  await db.query('vacuum analyze member_tier');
  return rowCount ?? 0;
}

/**
 * The baseline: the requalify job's own statements (requalify-store.ts: end the grants, take
 * tiers down, record the history), run raw on one connection in one transaction — no service,
 * no outbox events, no job runner, no HTTP. Returns the number of changes recorded.
 */
export async function rawRequalify(db: Client, programId: string, timeZone: string, t: Date, version: number): Promise<number> {
  const { endGrantsStatement, downgradeStatement, insertHistorySetStatement } = await import('../src/services/tiers/requalify-store');
  const levels = TIER_STRUCTURE.levels;
  const array = (values: ReadonlyArray<string | number>) => `{${values.join(',')}}`;
  const levelParams = [array(levels.map((l) => `"${l.code}"`)), array(levels.map((l) => l.threshold)), array(levels.map((_, rank) => rank))];
  const lookback = new Date(t.getTime() - GRACE_DAYS * DAY_MS);
  await db.query('begin');
  try {
    const lapsed = await db.query(endGrantsStatement.text, [...levelParams, programId, t, t, t]);
    const down = await db.query(downgradeStatement.spend.text, [
      ...levelParams, programId, lookback, timeZone, 'rolling_months', TIER_STRUCTURE.windowMonths, lookback, t, 'to_earned',
    ]);
    const changes = [
      ...lapsed.rows.filter((r) => r.from_code !== r.to_code).map((r) => ({ ...r, reason: r.grant_kind === 'paid' ? 'membership_lapsed' : 'assignment_ended', detail: 'ended' })),
      ...down.rows.filter((r) => r.from_code !== r.to_code).map((r) => ({ ...r, reason: 'grace_ended', detail: 'not qualified' })),
    ].map((r) => ({ member_id: r.member_id, from_code: r.from_code, to_code: r.to_code, reason: r.reason, detail: r.detail }));
    if (changes.length > 0) await db.query(insertHistorySetStatement.text, [programId, version, t, JSON.stringify(changes)]);
    await db.query('commit');
    return changes.length;
  } catch (error) {
    await db.query('rollback').catch(() => undefined);
    throw error;
  }
}

export interface RequalifyContext {
  db: Client;
  databaseUrl: string;
  programId: string;
  /** An admin client without the short request timeout; closed here. */
  admin: GraphQLClient;
  tierVersion: number;
  rounds: number;
  members: number;
  meter?: CpuMeter;
  rows: Measurement[];
  want: (name: string) => boolean;
  log: (msg: string) => void;
  waitForOutbox: () => Promise<void>;
}

/**
 * requalify-tiers over every member: runJob over GraphQL against the job's statements run raw,
 * alternating, `rounds` runs each, member_tier restored before each. Returns the changes one run made.
 */
export async function requalifyRows(ctx: RequalifyContext): Promise<number | null> {
  const { program: settings } = await ctx.admin.request<{ program: { timeZone: string } }>('{ program { timeZone } }');
  // The state to requalify from: the seeded tiers and what the payOrder rows added since.
  await snapshotTiers(ctx.db, ctx.programId);
  const raw = new PgClient({ connectionString: ctx.databaseUrl, application_name: 'patron-bench-requalify' });
  await raw.connect();
  const patron = { times: [] as number[], cpu: [] as CpuDelta[], changes: [] as number[] };
  const sql = { times: [] as number[], cpu: [] as CpuDelta[], changes: [] as number[] };
  const timed = async (into: typeof patron, work: () => Promise<number>) => {
    const restored = await restoreTiers(ctx.db);
    await ctx.waitForOutbox();
    const before = await ctx.meter?.snapshot();
    const t0 = performance.now();
    const changes = await work();
    const ms = performance.now() - t0;
    const after = await ctx.meter?.snapshot();
    into.times.push(ms);
    into.changes.push(changes);
    if (before && after) into.cpu.push(CpuMeter.delta(before, after));
    ctx.log(`  ${into === patron ? 'requalify-tiers' : 'raw SQL'}: ${changes} changes in ${(ms / 1000).toFixed(2)} s (${restored} rows restored before)`);
  };
  for (let round = 0; round < ctx.rounds; round++) {
    // Alternating, the raw SQL first: neither side always runs on the warmer cache.
    if (ctx.want('requalify-tiers-sql 1')) {
      await timed(sql, async () => {
        const t = new Date();
        return rawRequalify(raw, ctx.programId, settings.timeZone, t, ctx.tierVersion);
      });
    }
    if (ctx.want('requalify-tiers 1')) {
      await timed(patron, async () => {
        const asOf = new Date();
        const { runJob } = await ctx.admin.request<{ runJob: { result: { changed: number } } }>(
          'mutation Run($asOf: DateTimeISO) { runJob(name: "requalify-tiers", asOf: $asOf) { result } }',
          { asOf: asOf.toISOString() },
        );
        return runJob.result.changed;
      });
    }
  }
  await raw.end();
  ctx.admin.close();
  const members = ctx.members;
  if (patron.times.length) ctx.rows.push(oneShot(`requalify-tiers (runJob) over ${members} members`, 'requalify', patron));
  if (sql.times.length) ctx.rows.push(oneShot(`requalify-tiers SQL run raw, ${members} members`, 'requalifySql', sql));
  for (const r of ctx.rows.filter((r) => r.op === 'requalify' || r.op === 'requalifySql')) {
    ctx.log(`  ${r.name}: median ${(r.p50Ms / 1000).toFixed(2)} s, max ${(r.p99Ms / 1000).toFixed(2)} s`);
  }
  if (patron.changes.length && sql.changes.length && patron.changes[0] !== sql.changes[0]) {
    ctx.log(`  ! the job made ${patron.changes[0]} changes, the raw SQL ${sql.changes[0]}`);
  }
  return patron.changes[0] ?? sql.changes[0] ?? null;
}
