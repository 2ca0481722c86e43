/**
 * `npm run bench`: Patron's write and read throughput next to a raw-SQL baseline, measured in one
 * run on one embedded PostgreSQL that this script starts (and removes) itself.
 *
 *   baseline   raw `pg`, no ORM, no HTTP: BEGIN; SELECT account FOR UPDATE; INSERT ledger_entry;
 *              INSERT lot; UPDATE account; COMMIT — on the real schema
 *   accrue     GraphQL mutation over HTTP (keep-alive), unique idempotency keys, a server API key
 *   redeem     the same for redemptions
 *   balance    query { account(member: {id}) { available } }
 *   raw-read   the same read by a raw node:http + pg handler in its own process (bench/raw-read.ts)
 *   typename   query { __typename } — the cost of the HTTP + GraphQL layers alone
 *   payOrder   GraphQL payOrder of pre-placed 3-line orders (placement is setup, not measured)
 *              against 10 ACTIVE order_paid rules created over the API, 5 of which match (bench/orders.ts)
 *   payOrder raw   the rows a paid order writes, with raw pg in plain statements, copied from an
 *              order Patron paid (bench/raw-pay-order.ts): what those rows allow, whoever writes them
 *   simulateEvent  the same order_paid event, 1 client, against those 10 rules (latency)
 *   referralTree   referralTree(depth: 10) over a tree of BENCH_TREE_MEMBERS (5 000) members, 1 client,
 *              against the same tree read by raw level-by-level SQL (referral-tree-sql)
 *   payOrder tiers the payOrder row again, same rules and same kind of orders, with a tier structure
 *              on (3 levels, multipliers, two past orders per member: bench/tiers.ts)
 *   requalify-tiers  runJob('requalify-tiers') over every member (a fifth of them move), against
 *              the job's own statements run raw in one transaction (requalify-tiers-sql);
 *              BENCH_REQUALIFY_ROUNDS (3) alternating runs each, member_tier restored before each
 *   fan-out    balanceChanged of one member to BENCH_FANOUT_SOCKETS (2 000) graphql-ws subscribers
 *              while BENCH_FANOUT_WRITERS (2) accrue to it; fan-out raw ws: a raw `ws` broadcast of
 *              the same message to as many sockets; fan-out two instances: the subscribers over two
 *              servers on one database (LISTEN/NOTIFY, or Redis when PATRON_REDIS_URL is set) (bench/fanout.ts)
 *   expiry-sql, expiry  BENCH_EXPIRY_LOTS (1 000 000) due lots over every account, swept by keyset
 *              raw SQL in batches of BENCH_EXPIRY_RAW_BATCH (5 000), and by runJob('expire-lots');
 *   accrue before / during expiry 8  accruals over due lots with no job, then while the job runs
 *              (each pair on freshly seeded lots: bench/expiry.ts)
 *
 * The server runs in a child process (bench/server-entry.ts) so it never shares the load
 * generator's event loop. Environment:
 *   BENCH_SECONDS (5)         measured window of each row
 *   BENCH_WARMUP_SECONDS (1)  warm-up before each window
 *   BENCH_ROUNDS (5)          rows a ratio compares are measured in turns (bench/interleave.ts):
 *                             this many slices of warm-up and window each; 1 runs them one after the other
 *   BENCH_SERVER_WARMUP_SECONDS (4)  mixed requests before the first HTTP row (JIT warm-up)
 *   BENCH_ACCOUNTS (100000)   seeded members; 10 of them are the hot set
 *   BENCH_TREE_MEMBERS (5000) members of the referral tree below its root
 *   BENCH_PG_PORT (54349)     port of the embedded PostgreSQL (pick a free one when several benches run)
 *   BENCH_DB_POOL_MAX         the server's PATRON_DB_POOL_MAX (else the server default)
 *   BENCH_ONLY                a regular expression: run only the rows whose name matches
 *   BENCH_PROFILE=1           write a V8 CPU profile of the server to bench/profiles/
 *   BENCH_PG_STATEMENTS=1     load pg_stat_statements (track = all, so statements inside functions
 *                             count too) and print each row's costliest statements after it
 *   BENCH_PG_STATEMENTS_SHOWN (12)  how many statements BENCH_PG_STATEMENTS lists per row
 *   BENCH_PG_FLAGS            more PostgreSQL settings, `name=value` separated by spaces (auto_explain, logging …)
 *   BENCH_PG_LOG              a file to append PostgreSQL's log to
 *   BENCH_SETUP_SQL           SQL run after the seed, before any row (try a schema change without a migration)
 *   BENCH_SERVER_ENTRY        another server entry to measure (default bench/server-entry.ts)
 *   BENCH_NODE_FLAGS          Node/V8 flags for the server processes (--trace-gc, --max-semi-space-size=…)
 *   BENCH_NODE_ENV            the server's NODE_ENV (default production)
 * Prints a table and the ratios against the targets (bench/targets.ts: PASS / BELOW), how long
 * each part took, writes bench/results.json (a per-run output, not committed), exits 0 (a report, not a test).
 */
import 'reflect-metadata';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { CpuMeter } from './cpu';
import { createDatabase, startBenchPostgres, type BenchPostgres } from './pg';
import { seed } from './seed';
import { TIER_STRUCTURE, holdTiers, requalifyRows, seedTierOrders } from './tiers';
import { GraphQLClient, measure, round, type Measurement, type MeasureOptions } from './load';
import { TARGETS, printRatios, printTable, ratios } from './targets';
import { ROOT, startServer as startPatron, stopServer } from './servers';
import { startRawRead } from './raw-read';
import { expiryRows } from './expiry';
import { patronFanOut, rawWsFanOut } from './fanout';
import { orderRows } from './orders';
import { createTwin, type TwinProgram } from './twin';
import { baseline } from './baseline';
import { interleave, type Contestant } from './interleave';
import { apiRows } from './api-rows';
import { autovacuumDuring, autovacuumPasses, printStatements, verifyLedger, waitForOutbox } from './observe';
import { Database } from '../src/db/database';
import { seedReferralTree } from '../test/support/referral-tree';

const env = process.env;
const SECONDS = Number(env.BENCH_SECONDS ?? 5);
const WARMUP_SECONDS = Number(env.BENCH_WARMUP_SECONDS ?? 1);
const SERVER_WARMUP_SECONDS = Number(env.BENCH_SERVER_WARMUP_SECONDS ?? 4);
const ROUNDS = Math.max(1, Math.floor(Number(env.BENCH_ROUNDS ?? 5)));
const ACCOUNTS = Number(env.BENCH_ACCOUNTS ?? 100_000);
const HOT = 10;
const PG_PORT = Number(env.BENCH_PG_PORT ?? 54349);
const ONLY = env.BENCH_ONLY ? new RegExp(env.BENCH_ONLY) : null;
const PROFILE = env.BENCH_PROFILE === '1';
const STATEMENTS_SHOWN = Number(env.BENCH_PG_STATEMENTS_SHOWN ?? 12);
const PG_STATEMENTS = env.BENCH_PG_STATEMENTS === '1';
const ADMIN_KEY = `ptn_adm_bench-${randomBytes(16).toString('hex')}`;

const TREE_MEMBERS = Number(env.BENCH_TREE_MEMBERS ?? 5000);
const REQUALIFY_ROUNDS = Number(env.BENCH_REQUALIFY_ROUNDS ?? 3);
const EXPIRY_LOTS = Number(env.BENCH_EXPIRY_LOTS ?? 1_000_000);
const EXPIRY_RAW_BATCH = Number(env.BENCH_EXPIRY_RAW_BATCH ?? 5000);
const FANOUT_SOCKETS = Number(env.BENCH_FANOUT_SOCKETS ?? 2000);
const FANOUT_WRITERS = Number(env.BENCH_FANOUT_WRITERS ?? 2);
const startServer = (databaseUrl: string) => startPatron({ databaseUrl, adminKey: ADMIN_KEY, profile: PROFILE });

const measureOptions: MeasureOptions = {
  warmupMs: WARMUP_SECONDS * 1000,
  durationMs: SECONDS * 1000,
  maxOps: 2_000_000,
};

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

async function main(): Promise<void> {
  const started = Date.now();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'patron-bench-pg-'));
  let pg: BenchPostgres | undefined;
  let server: ChildProcess | undefined;
  const cleanup = async () => {
    if (server) await stopServer(server).catch(() => undefined);
    server = undefined;
    if (pg) await pg.stop().catch(() => undefined);
    pg = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  try {
    log(`starting embedded PostgreSQL on port ${PG_PORT} in ${dataDir}`);
    const statementFlags = ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track=all'];
    const extraFlags = (env.BENCH_PG_FLAGS ?? '').split(/\s+/).filter(Boolean).flatMap((f) => ['-c', f]);
    pg = await startBenchPostgres(dataDir, PG_PORT, [...(PG_STATEMENTS ? statementFlags : []), ...extraFlags]);
    const databaseUrl = await createDatabase(pg.url, 'patron_bench');

    log('starting the server (child process; migrations run on start)');
    const started2 = await startServer(databaseUrl);
    server = started2.child;
    const operator = new GraphQLClient(started2.url, ADMIN_KEY, 2);
    const { program } = await operator.request<{ program: { id: string } }>('{ program { id } }');
    const { createApiKey } = await operator.request<{ createApiKey: { secret: string } }>(
      'mutation { createApiKey(input: { name: "bench", role: SERVER }) { secret } }',
    );
    operator.close();
    let postmasterPid: number | null = null;
    try {
      postmasterPid = Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      postmasterPid = null;
    }
    measureOptions.meter = new CpuMeter(server, postmasterPid);

    const db = new Client({ connectionString: databaseUrl });
    // Stopping PostgreSQL after a failure must not turn into an unhandled error that hides the failure.
    db.on('error', (error) => log(`bench connection: ${error.message}`));
    await db.connect();
    if (PG_STATEMENTS) await db.query('create extension if not exists pg_stat_statements');
    const [{ version, sync }] = (await db.query(`select current_setting('server_version') as version, current_setting('synchronous_commit') as sync`)).rows;
    log(`seeding ${ACCOUNTS} members (set-based SQL)`);
    const t0 = Date.now();
    const seeded = await seed(db, program.id, ACCOUNTS);
    log(`seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (env.BENCH_SETUP_SQL) {
      log(`running BENCH_SETUP_SQL: ${env.BENCH_SETUP_SQL}`);
      await db.query(env.BENCH_SETUP_SQL);
    }
    const hotMembers = seeded.memberIds.slice(0, HOT);
    const hotAccounts = seeded.accountIds.slice(0, HOT);

    const rows: Measurement[] = [];

    // Tiers live in a twin of the program (bench/twin.ts), made when a tier row runs, so that
    // payOrder with tiers and without can run in turns. Set up once: two past orders per member
    // in both programs, the twin's structure saved over the API (which requalifies every member:
    // timed, reported), then the tiers its members hold (bench/tiers.ts), so that the job has a
    // fifth of them to move.
    // Assigned by twinProgram (a closure): typed so, TypeScript does not take it for null after.
    let twin = null as TwinProgram | null;
    const twinProgram = async () => (twin ??= await createTwin(started2.url, ADMIN_KEY, db, ACCOUNTS, log));
    let tiersReady = false;
    let tierVersion = 0;
    let requalifyChanges: number | null = null;
    let tierSave: { seconds: number; changed: number; orders: number } | null = null;
    let tierOrders: number | null = null;
    const seedTiers = async () => {
      if (tierOrders !== null) return;
      log('tiers: seeding two paid orders per member in the program and its twin (set-based SQL)');
      await seedTierOrders(db, program.id);
      tierOrders = await seedTierOrders(db, (await twinProgram()).programId);
    };
    // Long operations (a whole program requalified) get a client without the 10 s request timeout.
    const slowAdmin = (key = ADMIN_KEY) => new GraphQLClient(started2.url, key, 1, 600_000);
    const setUpTiers = async () => {
      if (tiersReady) return;
      const { programId: twinId, adminKey: twinKey } = await twinProgram();
      const admin = slowAdmin(twinKey);
      await seedTiers();
      const orders = tierOrders!;
      const t0 = performance.now();
      const { saveTierStructure: saved } = await admin.request<{ saveTierStructure: { structure: { version: number }; changed: number } }>(
        'mutation Save($input: TierStructureInput!) { saveTierStructure(input: $input) { structure { version } changed } }',
        { input: TIER_STRUCTURE },
      );
      tierSave = { seconds: round((performance.now() - t0) / 1000, 2), changed: saved.changed, orders };
      log(`  saveTierStructure over ${ACCOUNTS} members (${orders} orders): ${saved.changed} changes in ${tierSave.seconds} s`);
      await holdTiers(db, twinId);
      await waitForOutbox(db, log);
      // What the save wrote (100 000 history rows and outbox events) is vacuumed now, not by
      // autovacuum inside the next measured window.
      await db.query('vacuum analyze member_tier, tier_history, outbox, outbox_sequence');
      tiersReady = true;
      tierVersion = saved.structure.version;
      admin.close();
    };
    // Placing orders and the warm-up batches write tens of thousands of rows; vacuumed before each
    // order row, autovacuum's passes over them stay out of its window (a dozen of them landed in
    // the five seconds of one row, their CPU counted as that row's).
    const settleOrders = async () => {
      await waitForOutbox(db, log);
      await db.query(`vacuum analyze shop_order, shop_order_line, shop_order_award, rule_award, earned_source, member_spend,
        tier_qualification, idempotency_record, outbox, outbox_sequence, outbox_unpublished, ledger_entry, lot, account`);
    };
    const want = (name: string) => !ONLY || ONLY.test(name);
    const record = (r: Measurement) => {
      rows.push(r);
      log(`  ${r.opsPerSec} ops/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, errors ${r.errors}`);
    };
    const run = async (name: string, m: () => Promise<Measurement>) => {
      if (!want(name)) return;
      log(`measuring ${name}`);
      if (PG_STATEMENTS) await db.query('select pg_stat_statements_reset()');
      const passesBefore = await autovacuumPasses(db);
      const r = await m();
      r.autovacuum = await autovacuumDuring(db, passesBefore);
      record(r);
      if (r.autovacuum.length > 0) log(`  autovacuum during the row (its CPU counts as PostgreSQL's): ${r.autovacuum.join(', ')}`);
      if (PG_STATEMENTS) await printStatements(db, r, STATEMENTS_SHOWN, log);
    };
    // Rows whose ratios compare them, measured in turns (bench/interleave.ts), the outbox emptied
    // between slices. pg_stat_statements cannot tell rows measured in turns apart: with
    // BENCH_PG_STATEMENTS (or BENCH_ROUNDS=1) each row runs alone, one after the other.
    const settle = () => waitForOutbox(db, log);
    const runInTurns = async (contestants: Contestant[]) => {
      const chosen = contestants.filter((c) => want(c.row));
      if (chosen.length === 0) return;
      if (PG_STATEMENTS || ROUNDS === 1 || chosen.length === 1) {
        for (const c of chosen) await run(c.row, async () => (await interleave([c], measureOptions, 1)).rows[0]!);
        return;
      }
      log(`measuring in turns, ${ROUNDS} rounds: ${chosen.map((c) => c.row).join(', ')}`);
      const passesBefore = await autovacuumPasses(db);
      const measured = await interleave(chosen, measureOptions, ROUNDS, settle);
      if (measured.rounds < ROUNDS) log(`  ! a row ran out of work: the group stopped after ${measured.rounds} of ${ROUNDS} rounds`);
      const autovacuum = await autovacuumDuring(db, passesBefore);
      for (const [i, r] of measured.rows.entries()) {
        log(`  ${chosen[i]!.row}:`);
        record({ ...r, autovacuum });
      }
      if (autovacuum.length > 0) log(`  autovacuum during these rows (its CPU counts as PostgreSQL's): ${autovacuum.join(', ')}`);
    };

    const runId = randomBytes(4).toString('hex');
    const api = apiRows({
      patron: { url: started2.url, apiKey: createApiKey.secret }, databaseUrl, programId: program.id,
      memberIds: seeded.memberIds, accountIds: seeded.accountIds, hotMembers, hotAccounts, runId,
    });
    if (SERVER_WARMUP_SECONDS > 0) {
      log(`warming the server up (${SERVER_WARMUP_SECONDS} s of mixed requests, not recorded)`);
      await api.warmUp(SERVER_WARMUP_SECONDS);
    }
    await runInTurns(api.writes());
    // The balance query against a raw node:http + pg handler doing the same read (its own process).
    const rawRead = want('raw-read 8') || want('raw-read 32') ? await startRawRead(databaseUrl, program.id) : null;
    const rawReadMeter = rawRead && { port: rawRead.port, meter: new CpuMeter(rawRead.child, postmasterPid) };
    for (const clients of [8, 32]) await runInTurns(api.reads(clients, rawReadMeter));
    if (rawRead) await stopServer(rawRead.child);

    // payOrder and simulateEvent against 10 order_paid rules (5 match, 5 do not); payOrder again
    // in the twin program, under its tier structure (same rules, same kind of orders).
    if (['payOrder 8', 'payOrder raw 8', 'baseline beside orders 8', 'simulateEvent 1', 'payOrder tiers 8'].some(want)) {
      await orderRows({
        url: started2.url, databaseUrl, programId: program.id, adminKey: ADMIN_KEY, serverKey: createApiKey.secret, memberIds: seeded.memberIds, simulateMemberId: seeded.memberIds[HOT]!,
        accrueRate: rows.find((r) => r.op === 'accrue' && r.accounts === 'uniform' && r.clients === 8)?.opsPerSec,
        seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, runId, measureOptions, log, run, runInTurns, want,
        twin: want('payOrder tiers 8') ? await twinProgram() : null, seedTiers, setUpTiers, settleOrders,
        baselineBeside: baseline('baseline beside orders 8', databaseUrl, 8, program.id, seeded.accountIds, 'uniform', { op: 'baselineOrders', name: 'beside payOrder' }),
      });
    }

    // requalify-tiers over every member: the job (runJob over GraphQL) against its own statements run raw.
    if (want('requalify-tiers 1') || want('requalify-tiers-sql 1')) {
      await setUpTiers();
      const { programId: twinId, adminKey: twinKey } = await twinProgram();
      requalifyChanges = await requalifyRows({
        db, databaseUrl, programId: twinId, admin: slowAdmin(twinKey), tierVersion, rounds: REQUALIFY_ROUNDS, members: ACCOUNTS,
        meter: measureOptions.meter, rows, want, log, waitForOutbox: () => waitForOutbox(db, log),
      });
    }

    // The referral tree: GraphQL referralTree(depth: 10) against the same levels read by raw SQL.
    if (want('referralTree 1') || want('referralTreeSql 1')) {
      const pool = new Database(databaseUrl, 2);
      const tree = await seedReferralTree(pool, program.id, TREE_MEMBERS);
      await pool.close();
      log(`referral tree: ${TREE_MEMBERS} members, per level ${tree.levels.join(' ')}`);
      const client = new GraphQLClient(started2.url, createApiKey.secret, 2);
      const TREE = `query Tree($id: ID!) { referralTree(memberId: $id, depth: 10) { size nodes { memberId externalId name level referrerId via } } }`;
      const check = await client.request<{ referralTree: { size: number } }>(TREE, { id: tree.rootId });
      if (check.referralTree.size !== TREE_MEMBERS) throw new Error(`referralTree returned ${check.referralTree.size} members`);
      await run('referralTree 1', () =>
        measure({ name: `referralTree depth 10, ${TREE_MEMBERS} members`, op: 'referralTree', accounts: '-' }, 1, async () => {
          await client.request(TREE, { id: tree.rootId });
        }, measureOptions),
      );
      client.close();
      const raw = new Client({ connectionString: databaseUrl });
      await raw.connect();
      await run('referralTreeSql 1', () =>
        measure({ name: `raw SQL level by level, ${TREE_MEMBERS} members`, op: 'referralTreeSql', accounts: '-' }, 1, async () => {
          await raw.query({ name: 'tree-root', text: 'select id, external_id, name from member where id = $1 and program_id = $2', values: [tree.rootId, program.id] });
          let level = [tree.rootId];
          for (let d = 1; d <= 10 && level.length > 0; d++) {
            const { rows: children } = await raw.query({
              name: 'tree-level',
              text: `select r.member_id, r.referrer_id, m.external_id, m.name, r.via, r.created_at from referral r join member m on m.id = r.member_id
                     where r.program_id = $1 and r.referrer_id = any($2::uuid[]) order by r.created_at, r.member_id`,
              values: [program.id, level],
            });
            level = children.map((c) => c.member_id);
          }
        }, measureOptions),
      );
      await raw.end();
    }

    // Fan-out of balanceChanged to BENCH_FANOUT_SOCKETS subscribers, against a raw ws broadcast
    // of the same message; then the subscribers spread over two instances on this database.
    if (want('fan-out') || want('fan-out raw ws') || want('fan-out two instances')) {
      const t0 = Date.now();
      const fan = { sockets: FANOUT_SOCKETS, writers: FANOUT_WRITERS, warmupMs: WARMUP_SECONDS * 1000, durationMs: SECONDS * 1000, log };
      const member = seeded.memberIds[HOT]!;
      const transport = env.PATRON_REDIS_URL ? 'Redis' : 'LISTEN/NOTIFY';
      let sample: string | null = null;
      if (want('fan-out') || want('fan-out raw ws')) {
        log(`measuring fan-out (${FANOUT_SOCKETS} subscribers, ${FANOUT_WRITERS} writers)`);
        const one = await patronFanOut([started2.url], createApiKey.secret, member, {
          ...fan, label: `balanceChanged fan-out to ${FANOUT_SOCKETS} subscribers`, op: 'fanOut', transport: '1 instance', meter: measureOptions.meter, runId,
        });
        sample = one.sample;
        if (want('fan-out')) rows.push(one.row);
      }
      if (want('fan-out raw ws') && sample) rows.push(await rawWsFanOut(sample, fan));
      if (want('fan-out two instances')) {
        const second = await startServer(databaseUrl);
        try {
          const two = await patronFanOut([started2.url, second.url], createApiKey.secret, member, {
            ...fan, label: `fan-out over 2 instances (${transport})`, op: 'fanOutTwo', transport: `2 instances, ${transport}`, meter: measureOptions.meter, runId,
          });
          rows.push(two.row);
        } finally {
          await stopServer(second.child);
        }
      }
      await waitForOutbox(db, log);
      log(`fan-out part took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }

    // Expiry of BENCH_EXPIRY_LOTS due lots over every account: keyset raw SQL, the job, and
    // accruals before and while the job runs (bench/expiry.ts).
    if (want('expiry-sql') || want('expiry') || want('accrue before expiry 8') || want('accrue during expiry 8')) {
      const t0 = Date.now();
      const admin = slowAdmin();
      rows.push(...(await expiryRows({
        db, databaseUrl, programId: program.id, lots: EXPIRY_LOTS, rawBatchSize: EXPIRY_RAW_BATCH,
        runJob: async (asOf) => {
          const { runJob } = await admin.request<{ runJob: { result: { lots: number; entries: number; batches: number } } }>(
            'mutation Run($asOf: DateTimeISO) { runJob(name: "expire-lots", asOf: $asOf) { result } }',
            { asOf: asOf.toISOString() },
          );
          return runJob.result;
        },
        accrue: async (label) => (await interleave([api.accrue({ ...label, accounts: 'uniform' })], measureOptions, 1)).rows[0]!,
        want, meter: measureOptions.meter, waitForOutbox: () => waitForOutbox(db, log), log,
      })));
      admin.close();
      log(`expiry part took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }

    const stopAt = Date.now();
    await stopServer(server);
    log(`server stopped in ${Date.now() - stopAt} ms (exit code ${server.exitCode}, signal ${server.signalCode})`);
    server = undefined;
    log('verifying the ledger (sum of entries = balances = lots)');
    const ledger = await verifyLedger(databaseUrl, program.id);
    const twinLedger = twin ? await verifyLedger(databaseUrl, twin.programId) : null;
    const [{ entries }] = (await db.query('select count(*)::int as entries from ledger_entry')).rows;
    // Updates that could not be HOT leave index entries behind; hot rows pay for them until vacuum.
    const tables = (
      await db.query(
        `select relname as table, n_tup_upd::int as updates, n_tup_hot_upd::int as hot_updates, n_dead_tup::int as dead_rows
         from pg_stat_user_tables where relname in ('account', 'lot', 'idempotency_record', 'shop_order', 'member_spend', 'tier_qualification', 'outbox_sequence') order by relname`,
      )
    ).rows;
    await db.end();

    const computed = ratios(rows);
    console.log('');
    console.log(
      `Patron bench — PostgreSQL ${version} (embedded, synchronous_commit=${sync}), Node ${process.version}, ` +
        `${os.cpus().length} CPUs, ${ACCOUNTS} accounts (hot set: ${HOT}), ${WARMUP_SECONDS} s warm-up + ${SECONDS} s per row`,
    );
    console.log('');
    printTable(rows);
    console.log('');
    printRatios(computed);
    const noise = rows.map((r) => r.otherCores).filter((v): v is number => v != null);
    const meanNoise = noise.length ? noise.reduce((a, b) => a + b, 0) / noise.length : null;
    if (meanNoise != null && meanNoise > 0.25) {
      console.log(
        `  Note: other processes kept ${meanNoise.toFixed(2)} of ${os.cpus().length} cores busy on average during the windows;` +
          ' ops/s and ratios move with that — CPU ms/op is the steadier figure.',
      );
    }
    if (tierSave) {
      const save = tierSave as { seconds: number; changed: number; orders: number };
      console.log(`  saveTierStructure over ${ACCOUNTS} members (${save.orders} seeded orders): ${save.changed} changes in ${save.seconds} s (set-up, once)`);
    }
    for (const r of rows.filter((r) => r.op === 'requalify' || r.op === 'requalifySql')) {
      console.log(`  ${r.name}: ${requalifyChanges ?? '?'} changes, median ${(r.p50Ms / 1000).toFixed(2)} s of ${r.ops} runs (slowest ${(r.p99Ms / 1000).toFixed(2)} s)`);
    }
    console.log('');
    console.log(
      `Ledger after the run: ${entries} entries; verifyLedger ${ledger.ok ? 'OK' : 'FAILED'} ` +
        `(${ledger.accountsChecked} accounts, ${ledger.discrepancies} discrepancies)` +
        (twinLedger ? `; the twin's ${twinLedger.ok ? 'OK' : 'FAILED'} (${twinLedger.accountsChecked} accounts, ${twinLedger.discrepancies} discrepancies)` : ''),
    );
    const results = {
      generatedAt: new Date().toISOString(),
      durationSeconds: round((Date.now() - started) / 1000, 1),
      environment: {
        node: process.version,
        cpus: os.cpus().length,
        memoryGb: round(os.totalmem() / 2 ** 30, 1),
        postgres: version,
        synchronousCommit: sync,
      },
      config: {
        seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, accounts: ACCOUNTS, hotAccounts: HOT, serverPoolMax: env.BENCH_DB_POOL_MAX ?? 'default',
        requalifyRounds: REQUALIFY_ROUNDS, expiryLots: EXPIRY_LOTS, expiryRawBatch: EXPIRY_RAW_BATCH,
        fanOutSockets: FANOUT_SOCKETS, fanOutWriters: FANOUT_WRITERS, fanOutTransport: env.PATRON_REDIS_URL ? 'Redis' : 'LISTEN/NOTIFY',
      },
      targets: TARGETS,
      measurements: rows,
      ratios: computed,
      ledger: { entries, ...ledger, twin: twinLedger },
      tables,
      tiers: { save: tierSave, requalifyChanges },
      meanOtherCores: meanNoise == null ? null : round(meanNoise, 2),
    };
    writeFileSync(path.join(ROOT, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');
    console.log(
      'Row updates (HOT / all): ' + tables.map((t: any) => `${t.table} ${t.hot_updates}/${t.updates}`).join(', '),
    );
    console.log(`Written bench/results.json (run took ${results.durationSeconds} s)`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
