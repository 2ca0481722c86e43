/**
 * `npm run bench`: Patron's write and read throughput next to a raw-SQL baseline, measured in one
 * run on one embedded PostgreSQL that this script starts (and removes) itself.
 *
 *   baseline   raw `pg`, no ORM, no HTTP: BEGIN; SELECT account FOR UPDATE; INSERT ledger_entry;
 *              INSERT lot; UPDATE account; COMMIT — on the real schema
 *   accrue     GraphQL mutation over HTTP (keep-alive), unique idempotency keys, a server API key
 *   redeem     the same for redemptions
 *   balance    query { account(member: {id}) { available } }
 *   typename   query { __typename } — the cost of the HTTP + GraphQL layers alone
 *   payOrder   GraphQL payOrder of pre-placed 3-line orders (placement is setup, not measured)
 *              against 10 ACTIVE order_paid rules created over the API, 5 of which match
 *   simulateEvent  the same order_paid event, 1 client, against those 10 rules (latency)
 *   referralTree   referralTree(depth: 10) over a tree of BENCH_TREE_MEMBERS (5 000) members, 1 client,
 *              against the same tree read by raw level-by-level SQL (referral-tree-sql)
 *   payOrder tiers the payOrder row again, same rules and same kind of orders, with a tier structure
 *              on (3 levels, multipliers, two past orders per member: bench/tiers.ts)
 *   requalify-tiers  runJob('requalify-tiers') over every member (a fifth of them move), against
 *              the job's own statements run raw in one transaction (requalify-tiers-sql);
 *              BENCH_REQUALIFY_ROUNDS (3) alternating runs each, member_tier restored before each
 *
 * The server runs in a child process (bench/server-entry.ts) so it never shares the load
 * generator's event loop. Environment:
 *   BENCH_SECONDS (5)         measured window of each row
 *   BENCH_WARMUP_SECONDS (1)  warm-up before each window
 *   BENCH_SERVER_WARMUP_SECONDS (4)  mixed requests before the first HTTP row (JIT warm-up)
 *   BENCH_ACCOUNTS (100000)   seeded members; 10 of them are the hot set
 *   BENCH_TREE_MEMBERS (5000) members of the referral tree below its root
 *   BENCH_PG_PORT (54349)     port of the embedded PostgreSQL (pick a free one when several benches run)
 *   BENCH_DB_POOL_MAX         the server's PATRON_DB_POOL_MAX (else the server default)
 *   BENCH_ONLY                a regular expression: run only the rows whose name matches
 *   BENCH_PROFILE=1           write a V8 CPU profile of the server to bench/profiles/
 *   BENCH_SERVER_ENTRY        another server entry to measure (default bench/server-entry.ts)
 *   BENCH_NODE_ENV            the server's NODE_ENV (default production)
 * Prints a table and the ratios, writes bench/results.json, exits 0 (a report, not a test).
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { CpuMeter, type CpuDelta } from './cpu';
import { createDatabase, startBenchPostgres, type BenchPostgres } from './pg';
import { seed } from './seed';
import { TIER_STRUCTURE, holdTiers, rawRequalify, restoreTiers, seedTierOrders, snapshotTiers } from './tiers';
import { GraphQLClient, measure, round, type Measurement, type MeasureOptions } from './load';
import { Database } from '../src/db/database';
import { seedReferralTree } from '../test/support/referral-tree';

const env = process.env;
const SECONDS = Number(env.BENCH_SECONDS ?? 5);
const WARMUP_SECONDS = Number(env.BENCH_WARMUP_SECONDS ?? 1);
const SERVER_WARMUP_SECONDS = Number(env.BENCH_SERVER_WARMUP_SECONDS ?? 4);
const ACCOUNTS = Number(env.BENCH_ACCOUNTS ?? 100_000);
const HOT = 10;
const PG_PORT = Number(env.BENCH_PG_PORT ?? 54349);
const ONLY = env.BENCH_ONLY ? new RegExp(env.BENCH_ONLY) : null;
const PROFILE = env.BENCH_PROFILE === '1';
const ADMIN_KEY = `ptn_adm_bench-${randomBytes(16).toString('hex')}`;
const ROOT = path.resolve(__dirname, '..');

const TREE_MEMBERS = Number(env.BENCH_TREE_MEMBERS ?? 5000);
const REQUALIFY_ROUNDS = Number(env.BENCH_REQUALIFY_ROUNDS ?? 3);
const TARGETS = {
  mutationVsBaseline: 0.65, hotVsUniform: 0.8, balanceVsTypename: 0.6, payOrderVsBaseline: 0.5, referralTreeVsRaw: 1 / 3,
  payOrderTiersVsWithout: 0.9, requalifyVsRawSql: 0.5,
};

const measureOptions: MeasureOptions = {
  warmupMs: WARMUP_SECONDS * 1000,
  durationMs: SECONDS * 1000,
  maxOps: 2_000_000,
};

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

/** Starts bench/server-entry.ts in a child process and waits for its port. */
async function startServer(databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const execArgv = ['-r', '@swc-node/register'];
  if (PROFILE) {
    const dir = path.join(ROOT, 'bench', 'profiles');
    mkdirSync(dir, { recursive: true });
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
  }
  const child = fork(path.resolve(ROOT, env.BENCH_SERVER_ENTRY ?? 'bench/server-entry.ts'), [], {
    cwd: ROOT,
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...env,
      NODE_ENV: env.BENCH_NODE_ENV ?? 'production',
      DATABASE_URL: databaseUrl,
      PATRON_ADMIN_KEY: ADMIN_KEY,
      PATRON_JOBS: 'off',
      // The per-key limiter runs, as in production, but never throttles the load.
      PATRON_REQUESTS_PER_KEY_PER_MINUTE: '100000000',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: '0',
      ...(env.BENCH_DB_POOL_MAX ? { PATRON_DB_POOL_MAX: env.BENCH_DB_POOL_MAX } : {}),
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start within 90 s')), 90_000);
    child.once('message', (m: any) => {
      clearTimeout(timer);
      if (m?.ready) resolve(m.port);
      else reject(new Error(`unexpected message from the server: ${JSON.stringify(m)}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with code ${code} before it was ready`));
    });
  });
  return { child, url: `http://127.0.0.1:${port}/graphql` };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if (child.connected) child.send({ stop: true });
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;

/** The baseline: the same rows Patron's accrual writes, with raw SQL on one connection per client. */
async function baseline(databaseUrl: string, clients: number, programId: string, accounts: string[], label: string) {
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new Client({ connectionString: databaseUrl, application_name: 'patron-bench-baseline' });
      await c.connect();
      return c;
    }),
  );
  try {
    return await measure({ name: `baseline (raw pg) ${label}`, op: 'baseline', accounts: label }, clients, async (w) => {
      const c = conns[w]!;
      const accountId = pick(accounts);
      const now = new Date();
      await c.query('BEGIN');
      try {
        const { rows: [a] } = await c.query(
          'select id, available, pending, reserved, lifetime_earned from account where id = $1 for update',
          [accountId],
        );
        const available = Number(a.available) + 1;
        const { rows: [e] } = await c.query(
          `insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
             available_after, pending_after, reserved_after, cause_type, cause_id, reason, idempotency_key, created_at)
           values ($1, $2, 'accrual', 1, 1, 0, 0, $3, $4, $5, 'api', 'bench', null, $6, $7) returning id`,
          [programId, accountId, available, a.pending, a.reserved, `bl-${w}-${now.getTime()}-${Math.random()}`, now],
        );
        await c.query(
          `insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at)
           values ($1, $2, $3, 1, 1, $4, $4, null, $4)`,
          [programId, accountId, e.id, now],
        );
        await c.query(
          `update account set available = $1, lifetime_earned = $2, entry_count = entry_count + 1, updated_at = $3 where id = $4`,
          [available, Number(a.lifetime_earned) + 1, now, accountId],
        );
        await c.query('COMMIT');
      } catch (error) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }, measureOptions);
  } finally {
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
  }
}

const ACCRUE = `mutation Accrue($input: AccrueInput!) {
  accrue(input: $input) { entry { id amount balanceAfter } account { available pending } }
}`;
const REDEEM = `mutation Redeem($input: RedeemInput!) {
  redeem(input: $input) { entry { id amount balanceAfter } account { available pending } }
}`;
const BALANCE = `query Balance($id: ID!) { account(member: { id: $id }) { available } }`;
const TYPENAME = `{ __typename }`;

/** Waits until the relay has published every committed outbox event (a big run leaves thousands behind it). */
async function waitForOutbox(db: Client, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [{ n }] = (await db.query('select count(*)::int as n from outbox where published_at is null')).rows;
    if (n === 0) return;
    if (Date.now() > until) {
      log(`  ! ${n} outbox events still unpublished after ${timeoutMs / 1000} s`);
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A row of one-shot runs (the requalify job): "ops/s" is 1 ÷ the median run's seconds, so the
 * ratios read like the others; p50 is the median run, p99 the slowest.
 */
function oneShot(name: string, op: string, runs: { times: number[]; cpu: CpuDelta[] }): Measurement {
  const sorted = [...runs.times].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const sum = (f: (d: CpuDelta) => number | null) => (runs.cpu.length === runs.times.length ? runs.cpu.reduce((s, d) => s + (f(d) ?? NaN), 0) : NaN);
  const perRun = (ms: number) => (Number.isFinite(ms) ? round(ms / runs.times.length, 1) : null);
  const other = runs.cpu.map((d) => d.otherCores).filter((v): v is number => v != null);
  return {
    name,
    op,
    accounts: '-',
    clients: 1,
    seconds: round(runs.times.reduce((a, b) => a + b, 0) / 1000, 2),
    ops: runs.times.length,
    opsPerSec: round(1000 / median, 3),
    p50Ms: round(median, 1),
    p99Ms: round(sorted[sorted.length - 1]!, 1),
    errors: 0,
    cpuMsPerOp: { server: perRun(sum((d) => d.serverMs)), postgres: perRun(sum((d) => d.postgresMs)), loadGenerator: perRun(sum((d) => d.benchMs)) ?? NaN },
    otherCores: other.length ? round(other.reduce((a, b) => a + b, 0) / other.length, 2) : null,
  };
}

function fmt(n: number, width: number, digits = 0): string {
  return (Number.isFinite(n) ? n.toFixed(digits) : '-').padStart(width);
}

function printTable(rows: Measurement[]): void {
  const nameWidth = Math.max(28, ...rows.map((r) => r.name.length));
  const header =
    `${'name'.padEnd(nameWidth)}  clients     ops/s   p50 ms   p99 ms  errors` +
    `  │ CPU ms/op: server  postgres  loadgen │ other cores`;
  console.log(header);
  console.log('-'.repeat(header.length));
  const n = (v: number | null) => (v == null ? NaN : v);
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(nameWidth)}  ${fmt(r.clients, 7)}  ${fmt(r.opsPerSec, 8)}  ${fmt(r.p50Ms, 7, 2)}  ${fmt(r.p99Ms, 7, 2)}  ${fmt(r.errors, 6)}` +
        `  │ ${fmt(n(r.cpuMsPerOp.server), 17, 3)} ${fmt(n(r.cpuMsPerOp.postgres), 9, 3)} ${fmt(r.cpuMsPerOp.loadGenerator, 8, 3)} │ ${fmt(n(r.otherCores), 11, 2)}`,
    );
  }
  console.log(
    'CPU ms/op: CPU time spent per completed operation by the server process, by PostgreSQL (all backends),\n' +
      'and by this load generator; other cores: CPU kept busy by unrelated processes during the window (noise).',
  );
  for (const r of rows.filter((r) => r.firstError)) console.log(`  ! ${r.name} x${r.clients}: first error: ${r.firstError}`);
}

interface Ratio {
  name: string;
  value: number;
  target: number | null;
  status: 'PASS' | 'BELOW' | 'INFO' | 'N/A';
}

function ratios(rows: Measurement[]): Ratio[] {
  const find = (op: string, accounts: string, clients: number) =>
    rows.find((r) => r.op === op && r.accounts === accounts && r.clients === clients);
  const out: Ratio[] = [];
  const add = (name: string, a: Measurement | undefined, b: Measurement | undefined, target: number | null) => {
    if (!a || !b) return;
    const value = b.opsPerSec > 0 ? round(a.opsPerSec / b.opsPerSec, 3) : NaN;
    const status = target == null ? 'INFO' : !Number.isFinite(value) ? 'N/A' : value >= target ? 'PASS' : 'BELOW';
    out.push({ name, value, target, status });
  };
  for (const op of ['accrue', 'redeem']) {
    for (const accounts of ['uniform', 'hot']) {
      add(`${op} ÷ baseline, ${accounts}, 8 clients`, find(op, accounts, 8), find('baseline', accounts, 8), TARGETS.mutationVsBaseline);
    }
    add(`${op} (32 clients) ÷ baseline (8), uniform`, find(op, 'uniform', 32), find('baseline', 'uniform', 8), null);
  }
  add('baseline hot ÷ uniform, 8 clients', find('baseline', 'hot', 8), find('baseline', 'uniform', 8), null);
  for (const op of ['accrue', 'redeem']) {
    for (const clients of [8, 32]) {
      add(`${op} hot ÷ uniform, ${clients} clients`, find(op, 'hot', clients), find(op, 'uniform', clients), TARGETS.hotVsUniform);
    }
  }
  for (const clients of [8, 32]) {
    add(`balance ÷ __typename, ${clients} clients`, find('balance', 'uniform', clients), find('typename', '-', clients), TARGETS.balanceVsTypename);
  }
  add('payOrder ÷ baseline (raw-SQL accrual, uniform, 8 clients)', find('payOrder', 'uniform', 8), find('baseline', 'uniform', 8), TARGETS.payOrderVsBaseline);
  add('referralTree depth 10 ÷ raw level-by-level SQL, 1 client', find('referralTree', '-', 1), find('referralTreeSql', '-', 1), TARGETS.referralTreeVsRaw);
  add('payOrder with tiers ÷ without (same rules and orders, 8 clients)', find('payOrderTiers', 'uniform', 8), find('payOrder', 'uniform', 8), TARGETS.payOrderTiersVsWithout);
  add('requalify-tiers: raw SQL seconds ÷ the job\'s (median run)', find('requalify', '-', 1), find('requalifySql', '-', 1), TARGETS.requalifyVsRawSql);
  return out;
}

const CREATE_RULE = `mutation CreateRule($input: CreateRuleInput!) { createRule(input: $input) { id } }`;
const PLACE_ORDER = `mutation PlaceOrder($input: PlaceOrderInput!) { placeOrder(input: $input) { order { status } } }`;
const PAY_ORDER = `mutation PayOrder($input: PayOrderInput!) {
  payOrder(input: $input) { order { status } account { available pending } }
}`;
const SIMULATE = `query Simulate($input: SimulateEventInput!) {
  simulateEvent(input: $input) { memberPoints referrerPoints rules { rule { name } matched reason { code message } awards { points } } }
}`;

/** The benchmark order: 3 lines, total 2 300.00, paid by card online through the web. */
const ORDER_LINES = [
  { sku: 'RUN-SHOES', category: 'shoes', unitPriceMinor: 120_000, quantity: 1 },
  { sku: 'SOCKS', category: 'apparel', unitPriceMinor: 30_000, quantity: 2 },
  { sku: 'BOTTLE', category: 'accessories', unitPriceMinor: 50_000, quantity: 1 },
];
const ORDER_TOTAL = ORDER_LINES.reduce((sum, l) => sum + l.unitPriceMinor * l.quantity, 0);
const ORDER_CHANNEL = 'web';
const ORDER_PAYMENT = 'card_online';

/**
 * 10 ACTIVE order_paid rules: the first 5 match the benchmark order, the last 5 do not (another
 * category / payment method / channel, a tag the seeded members lack, an hour window that
 * excludes now and the next 6 hours in the program time zone).
 */
function benchRules(timeZone: string) {
  const hour = Number(new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(new Date()));
  const from = (hour + 6) % 24;
  const to = (hour + 9) % 24;
  const fixed = (points: number) => [{ code: 'fixedPoints', args: { points } }];
  return [
    { name: 'bench: 5 % back', definition: { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }] } },
    { name: 'bench: big order', definition: { trigger: 'order_paid', condition: { condition: 'orderTotal', args: { min: 100_000 } }, actions: fixed(100) } },
    { name: 'bench: shoes', definition: { trigger: 'order_paid', condition: { condition: 'orderHasLine', args: { categories: ['shoes'] } }, actions: fixed(50) } },
    { name: 'bench: card online', definition: { trigger: 'order_paid', condition: { condition: 'paymentMethod', args: { methods: [ORDER_PAYMENT] } }, actions: fixed(20) } },
    { name: 'bench: web', definition: { trigger: 'order_paid', condition: { condition: 'channel', args: { channels: [ORDER_CHANNEL] } }, actions: fixed(10) } },
    { name: 'bench: bikes (no match)', definition: { trigger: 'order_paid', condition: { condition: 'orderHasLine', args: { categories: ['bikes'] } }, actions: fixed(500) } },
    { name: 'bench: cash (no match)', definition: { trigger: 'order_paid', condition: { condition: 'paymentMethod', args: { methods: ['cash'] } }, actions: fixed(500) } },
    { name: 'bench: pos (no match)', definition: { trigger: 'order_paid', condition: { condition: 'channel', args: { channels: ['pos'] } }, actions: fixed(500) } },
    { name: 'bench: vip (no match)', definition: { trigger: 'order_paid', condition: { condition: 'memberTags', args: { tags: ['vip'] } }, actions: fixed(500) } },
    { name: `bench: hours ${from}-${to} (no match)`, definition: { trigger: 'order_paid', condition: { condition: 'hourOfDay', args: { from, to } }, actions: fixed(500) } },
  ];
}

async function verifyLedger(databaseUrl: string, programId: string) {
  // Loaded only now: the domain stays out of the load generator's process while it measures.
  const { Database } = await import('../src/db/database');
  const { LedgerAudit } = await import('../src/services/ledger/ledger-audit');
  const db = new Database(databaseUrl, 2);
  try {
    const result = await new LedgerAudit(db).verifyLedger({ programId: programId });
    return { ok: result.ok, accountsChecked: result.accountsChecked, discrepancies: result.discrepancies.length, sample: result.discrepancies.slice(0, 5) };
  } finally {
    await db.close();
  }
}

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
    pg = await startBenchPostgres(dataDir, PG_PORT);
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
    const [{ version, sync }] = (await db.query(`select current_setting('server_version') as version, current_setting('synchronous_commit') as sync`)).rows;
    log(`seeding ${ACCOUNTS} members (set-based SQL)`);
    const t0 = Date.now();
    const seeded = await seed(db, program.id, ACCOUNTS);
    log(`seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const hotMembers = seeded.memberIds.slice(0, HOT);
    const hotAccounts = seeded.accountIds.slice(0, HOT);

    const rows: Measurement[] = [];

    // Tiers, set up once for the rows that need them: two past orders per member, the structure
    // saved over the API (which requalifies every member: timed, reported), then the tiers the
    // members hold (bench/tiers.ts), so that the job has a fifth of them to move.
    let tiersReady = false;
    let tierVersion = 0;
    let requalifyChanges: number | null = null;
    let tierSave: { seconds: number; changed: number; orders: number } | null = null;
    let tierOrders: number | null = null;
    const seedTiers = async () => {
      if (tierOrders !== null) return;
      log('tiers: seeding two paid orders per member (set-based SQL)');
      tierOrders = await seedTierOrders(db, program.id);
    };
    // Long operations (a whole program requalified) get a client without the 10 s request timeout.
    const slowAdmin = () => new GraphQLClient(started2.url, ADMIN_KEY, 1, 600_000);
    const setUpTiers = async () => {
      const admin = slowAdmin();
      await seedTiers();
      const orders = tierOrders!;
      const t0 = performance.now();
      const { saveTierStructure: saved } = await admin.request<{ saveTierStructure: { structure: { version: number }; changed: number } }>(
        'mutation Save($input: TierStructureInput!) { saveTierStructure(input: $input) { structure { version } changed } }',
        { input: TIER_STRUCTURE },
      );
      tierSave = { seconds: round((performance.now() - t0) / 1000, 2), changed: saved.changed, orders };
      log(`  saveTierStructure over ${ACCOUNTS} members (${orders} orders): ${saved.changed} changes in ${tierSave.seconds} s`);
      await holdTiers(db, program.id);
      await waitForOutbox(db);
      // What the save wrote (100 000 history rows and outbox events) is vacuumed now, not by
      // autovacuum inside the next measured window.
      await db.query('vacuum analyze member_tier, tier_history, outbox, outbox_sequence');
      tiersReady = true;
      tierVersion = saved.structure.version;
      admin.close();
    };
    const want = (name: string) => !ONLY || ONLY.test(name);
    const run = async (name: string, m: () => Promise<Measurement>) => {
      if (!want(name)) return;
      log(`measuring ${name}`);
      const r = await m();
      rows.push(r);
      log(`  ${r.opsPerSec} ops/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, errors ${r.errors}`);
    };

    await run('baseline uniform 8', () => baseline(databaseUrl, 8, program.id, seeded.accountIds, 'uniform'));
    await run('baseline hot 8', () => baseline(databaseUrl, 8, program.id, hotAccounts, 'hot'));

    const runId = randomBytes(4).toString('hex');
    let seq = 0;
    // The server's code paths get JIT-compiled before the first measured row, so that the first
    // row is not the one that pays for it: a few seconds of every request kind, not recorded.
    if (SERVER_WARMUP_SECONDS > 0) {
      log(`warming the server up (${SERVER_WARMUP_SECONDS} s of mixed requests, not recorded)`);
      const client = new GraphQLClient(started2.url, createApiKey.secret, 8);
      const until = Date.now() + SERVER_WARMUP_SECONDS * 1000;
      const kinds = [
        () => client.request(ACCRUE, { input: { member: { id: pick(seeded.memberIds) }, points: 1, idempotencyKey: `warm-${runId}-${++seq}` } }),
        () => client.request(REDEEM, { input: { member: { id: pick(seeded.memberIds) }, points: 1, idempotencyKey: `warm-${runId}-${++seq}` } }),
        () => client.request(BALANCE, { id: pick(seeded.memberIds) }),
        () => client.request(TYPENAME),
      ];
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = w; Date.now() < until; i++) await kinds[i % kinds.length]!().catch(() => undefined);
        }),
      );
      client.close();
    }
    for (const op of ['accrue', 'redeem'] as const) {
      for (const clients of [8, 32]) {
        for (const [accounts, members] of [['uniform', seeded.memberIds], ['hot', hotMembers]] as const) {
          await run(`${op} ${accounts} ${clients}`, async () => {
            const client = new GraphQLClient(started2.url, createApiKey.secret, clients);
            try {
              return await measure({ name: `${op} (GraphQL) ${accounts}`, op, accounts }, clients, async () => {
                const input = { member: { id: pick(members as string[]) }, points: 1, idempotencyKey: `bench-${runId}-${++seq}` };
                await client.request(op === 'accrue' ? ACCRUE : REDEEM, { input });
              }, measureOptions);
            } finally {
              client.close();
            }
          });
        }
      }
    }
    for (const clients of [8, 32]) {
      await run(`balance ${clients}`, async () => {
        const client = new GraphQLClient(started2.url, createApiKey.secret, clients);
        try {
          return await measure({ name: 'balance query account{available}', op: 'balance', accounts: 'uniform' }, clients, async () => {
            await client.request(BALANCE, { id: pick(seeded.memberIds) });
          }, measureOptions);
        } finally {
          client.close();
        }
      });
      await run(`typename ${clients}`, async () => {
        const client = new GraphQLClient(started2.url, createApiKey.secret, clients);
        try {
          return await measure({ name: 'query { __typename }', op: 'typename', accounts: '-' }, clients, () => client.request(TYPENAME), measureOptions);
        } finally {
          client.close();
        }
      });
    }

    // payOrder and simulateEvent against 10 order_paid rules (5 match, 5 do not); payOrder again
    // with a tier structure on (same rules, same kind of orders); the requalify-tiers job.
    const wantTiers = want('payOrder tiers 8') || want('requalify-tiers 1') || want('requalify-tiers-sql 1');
    if (want('payOrder 8') || want('simulateEvent 1') || want('payOrder tiers 8')) {
      const admin = new GraphQLClient(started2.url, ADMIN_KEY, 1);
      const { program: settings } = await admin.request<{ program: { timeZone: string } }>('{ program { timeZone } }');
      const rules = benchRules(settings.timeZone);
      for (const rule of rules) await admin.request(CREATE_RULE, { input: { ...rule, status: 'ACTIVE' } });
      log(`created ${rules.length} ACTIVE order_paid rules (time zone ${settings.timeZone})`);
      const simulateInput = {
        type: 'order_paid',
        member: { id: seeded.memberIds[HOT]! },
        order: {
          totalMinor: ORDER_TOTAL,
          channel: ORDER_CHANNEL,
          paymentMethod: ORDER_PAYMENT,
          lines: ORDER_LINES.map((l) => ({ ...l, eligibleMoneyMinor: l.unitPriceMinor * l.quantity })),
        },
      };
      const { simulateEvent: sim } = await admin.request<{ simulateEvent: { memberPoints: number; rules: Array<{ rule: { name: string }; matched: boolean; reason: { message: string } | null }> } }>(
        SIMULATE,
        { input: simulateInput },
      );
      const benchSim = sim.rules.filter((r) => r.rule.name.startsWith('bench: '));
      const matched = benchSim.filter((r) => r.matched);
      log(`simulateEvent check: ${matched.length} of ${benchSim.length} rules match (${sim.memberPoints} points): ${matched.map((r) => r.rule.name).join(', ')}`);
      for (const r of benchSim.filter((r) => !r.matched)) log(`  no match: ${r.rule.name} — ${r.reason?.message}`);
      if (matched.length !== 5) log(`  ! expected exactly 5 matching rules, got ${matched.length}`);
      console.log(`simulateEvent check before measuring: ${matched.length} of ${benchSim.length} order_paid rules match (expected 5), ${sim.memberPoints} points`);

      // Enough pre-placed orders for warm-up + window: 1.5 × the accrual rate, at least 2 000.
      // Both batches (tiers off, tiers on) are placed before either is paid: the same orders.
      const accrueRate = rows.find((r) => r.op === 'accrue' && r.accounts === 'uniform' && r.clients === 8)?.opsPerSec;
      const count = accrueRate ? Math.max(2_000, Math.ceil(accrueRate * (SECONDS + WARMUP_SECONDS) * 1.5)) : 3_000;
      const placeOrders = async (batch: string): Promise<string[]> => {
        const placer = new GraphQLClient(started2.url, createApiKey.secret, 16);
        const orderIds: string[] = [];
        const t1 = Date.now();
        let next = 0;
        let placeErrors = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < count) {
              const orderId = `bench-${runId}-${batch}-order-${next++}`;
              try {
                await placer.request(PLACE_ORDER, {
                  input: {
                    orderId,
                    member: { id: pick(seeded.memberIds) },
                    lines: ORDER_LINES,
                    points: 0,
                    channel: ORDER_CHANNEL,
                    paymentMethod: ORDER_PAYMENT,
                    idempotencyKey: `bench-${runId}-place-${orderId}`,
                  },
                });
                orderIds.push(orderId);
              } catch (error) {
                if (placeErrors++ === 0) log(`  ! placeOrder failed: ${(error as Error).message}`);
              }
            }
          }),
        );
        placer.close();
        log(`placed ${orderIds.length} orders (3 lines each, ${batch}) in ${((Date.now() - t1) / 1000).toFixed(1)} s, ${placeErrors} errors (setup, not measured)`);
        return orderIds;
      };
      const payOrders = async (name: string, op: string, orderIds: string[]): Promise<Measurement> => {
        const client = new GraphQLClient(started2.url, createApiKey.secret, 8);
        let taken = 0;
        try {
          const m = await measure({ name, op, accounts: 'uniform' }, 8, async () => {
            const orderId = orderIds[taken++];
            if (!orderId) throw new Error('ran out of pre-placed orders');
            await client.request(PAY_ORDER, { input: { orderId, idempotencyKey: `bench-${runId}-pay-${orderId}` } });
          }, measureOptions);
          log(`  paid ${Math.min(taken, orderIds.length)} of ${orderIds.length} pre-placed orders (warm-up + window)`);
          return m;
        } finally {
          client.close();
        }
      };
      // The past orders exist for both rows: with tiers off and on only the structure differs.
      if (wantTiers) await seedTiers();
      const withoutTiers = want('payOrder 8') ? await placeOrders('plain') : [];
      const withTiers = want('payOrder tiers 8') ? await placeOrders('tiers') : [];

      await run('payOrder 8', () => payOrders('payOrder (GraphQL) 10 rules, 5 match', 'payOrder', withoutTiers));
      await run('simulateEvent 1', () =>
        measure({ name: 'simulateEvent order_paid, 10 rules', op: 'simulate', accounts: '-' }, 1, async () => {
          await admin.request(SIMULATE, { input: simulateInput });
        }, measureOptions),
      );
      if (wantTiers) await setUpTiers();
      await run('payOrder tiers 8', () => payOrders('payOrder (GraphQL) 10 rules, 3 tiers', 'payOrderTiers', withTiers));
      admin.close();
    }

    // requalify-tiers over every member: the job (runJob over GraphQL) against its own statements run raw.
    if (want('requalify-tiers 1') || want('requalify-tiers-sql 1')) {
      const admin = slowAdmin();
      if (!tiersReady) await setUpTiers();
      const { program: settings } = await admin.request<{ program: { timeZone: string } }>('{ program { timeZone } }');
      // The state to requalify from: the seeded tiers and what the payOrder rows added since.
      await snapshotTiers(db, program.id);
      const raw = new Client({ connectionString: databaseUrl, application_name: 'patron-bench-requalify' });
      await raw.connect();
      const patron = { times: [] as number[], cpu: [] as CpuDelta[], changes: [] as number[] };
      const sql = { times: [] as number[], cpu: [] as CpuDelta[], changes: [] as number[] };
      const timed = async (into: typeof patron, work: () => Promise<number>) => {
        const restored = await restoreTiers(db);
        await waitForOutbox(db);
        const before = await measureOptions.meter?.snapshot();
        const t0 = performance.now();
        const changes = await work();
        const ms = performance.now() - t0;
        const after = await measureOptions.meter?.snapshot();
        into.times.push(ms);
        into.changes.push(changes);
        if (before && after) into.cpu.push(CpuMeter.delta(before, after));
        log(`  ${into === patron ? 'requalify-tiers' : 'raw SQL'}: ${changes} changes in ${(ms / 1000).toFixed(2)} s (${restored} rows restored before)`);
      };
      for (let round = 0; round < REQUALIFY_ROUNDS; round++) {
        // Alternating, the raw SQL first: neither side always runs on the warmer cache.
        if (want('requalify-tiers-sql 1')) {
          await timed(sql, async () => {
            const t = new Date();
            return rawRequalify(raw, program.id, settings.timeZone, t, tierVersion);
          });
        }
        if (want('requalify-tiers 1')) {
          await timed(patron, async () => {
            const asOf = new Date();
            const { runJob } = await admin.request<{ runJob: { result: { changed: number } } }>(
              'mutation Run($asOf: DateTimeISO) { runJob(name: "requalify-tiers", asOf: $asOf) { result } }',
              { asOf: asOf.toISOString() },
            );
            return runJob.result.changed;
          });
        }
      }
      await raw.end();
      admin.close();
      const members = ACCOUNTS;
      if (patron.times.length) rows.push(oneShot(`requalify-tiers (runJob) over ${members} members`, 'requalify', patron));
      if (sql.times.length) rows.push(oneShot(`requalify-tiers SQL run raw, ${members} members`, 'requalifySql', sql));
      for (const r of rows.filter((r) => r.op === 'requalify' || r.op === 'requalifySql')) {
        log(`  ${r.name}: median ${(r.p50Ms / 1000).toFixed(2)} s, max ${(r.p99Ms / 1000).toFixed(2)} s`);
      }
      if (patron.changes.length && sql.changes.length && patron.changes[0] !== sql.changes[0]) {
        log(`  ! the job made ${patron.changes[0]} changes, the raw SQL ${sql.changes[0]}`);
      }
      requalifyChanges = patron.changes[0] ?? sql.changes[0] ?? null;
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

    const stopAt = Date.now();
    await stopServer(server);
    log(`server stopped in ${Date.now() - stopAt} ms (exit code ${server.exitCode}, signal ${server.signalCode})`);
    server = undefined;
    log('verifying the ledger (sum of entries = balances = lots)');
    const ledger = await verifyLedger(databaseUrl, program.id);
    const [{ entries }] = (await db.query('select count(*)::int as entries from ledger_entry')).rows;
    // Updates that could not be HOT leave index entries behind; hot rows pay for them until vacuum.
    const tables = (
      await db.query(
        `select relname as table, n_tup_upd::int as updates, n_tup_hot_upd::int as hot_updates, n_dead_tup::int as dead_rows
         from pg_stat_user_tables where relname in ('account', 'lot', 'idempotency_record') order by relname`,
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
    console.log('Ratios');
    for (const r of computed) {
      const target = r.target == null ? '' : `target ≥ ${r.target.toFixed(2)}`;
      console.log(`  ${r.name.padEnd(58)} ${fmt(r.value, 6, 3)}  ${target.padEnd(14)} ${r.status === 'INFO' ? '' : r.status}`);
    }
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
        `(${ledger.accountsChecked} accounts, ${ledger.discrepancies} discrepancies)`,
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
        requalifyRounds: REQUALIFY_ROUNDS,
      },
      targets: TARGETS,
      measurements: rows,
      ratios: computed,
      ledger: { entries, ...ledger },
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
