/**
 * The targets `npm run bench` holds Patron to, each a ratio of two rows measured in the same run,
 * and the table it prints. A target prints PASS or BELOW; a ratio without a target is shown for
 * information. All of it goes to bench/results.json.
 */
import type { Measurement } from './load';
import { round } from './load';

export const TARGETS = {
  /** accrue and redeem over GraphQL ÷ the raw-SQL accrual, 8 clients, uniform and hot accounts */
  mutationVsBaseline: 0.65,
  /** hot (10 accounts) ÷ uniform (100 000 accounts), same operation and clients */
  hotVsUniform: 0.8,
  /** the balance query ÷ a raw node:http + pg handler doing the same read */
  balanceVsRawRead: 0.6,
  /** payOrder (3 lines, 10 rules, 5 matching) ÷ the raw-SQL accrual */
  payOrderVsBaseline: 0.4,
  referralTreeVsRaw: 1 / 3,
  payOrderTiersVsWithout: 0.9,
  requalifyVsRawSql: 0.5,
  /** lots per second: the expire-lots job ÷ keyset-batched raw SQL over the same due lots */
  expiryVsRawSql: 0.6,
  /** accruals per second while the expire-lots job runs ÷ just before it */
  accrualsDuringExpiry: 0.7,
  /** deliveries per second: a balanceChanged fan-out ÷ a raw `ws` broadcast to as many sockets */
  fanOutVsRawWs: 0.3,
};

export interface Ratio {
  name: string;
  value: number;
  target: number | null;
  status: 'PASS' | 'BELOW' | 'INFO' | 'N/A';
}

export function ratios(rows: Measurement[]): Ratio[] {
  const find = (op: string, accounts: string, clients?: number) =>
    rows.find((r) => r.op === op && r.accounts === accounts && (clients === undefined || r.clients === clients));
  const out: Ratio[] = [];
  const add = (name: string, a: Measurement | undefined, b: Measurement | undefined, target: number | null) => {
    if (!a || !b) return;
    const value = b.opsPerSec > 0 ? round(a.opsPerSec / b.opsPerSec, 3) : NaN;
    const status = target == null ? 'INFO' : !Number.isFinite(value) ? 'N/A' : value >= target ? 'PASS' : 'BELOW';
    out.push({ name, value, target, status });
  };
  for (const op of ['accrue', 'redeem']) {
    for (const accounts of ['uniform', 'hot']) {
      add(`${op} ÷ raw-SQL accrual, ${accounts}, 8 clients`, find(op, accounts, 8), find('baseline', accounts, 8), TARGETS.mutationVsBaseline);
    }
    add(`${op} (32 clients) ÷ raw-SQL accrual (8), uniform`, find(op, 'uniform', 32), find('baseline', 'uniform', 8), null);
  }
  add('raw-SQL accrual hot ÷ uniform, 8 clients', find('baseline', 'hot', 8), find('baseline', 'uniform', 8), null);
  for (const op of ['accrue', 'redeem']) {
    for (const clients of [8, 32]) {
      add(`${op} hot ÷ uniform, ${clients} clients`, find(op, 'hot', clients), find(op, 'uniform', clients), TARGETS.hotVsUniform);
    }
  }
  for (const clients of [8, 32]) {
    add(`balance ÷ raw node:http + pg read, ${clients} clients`, find('balance', 'uniform', clients), find('rawRead', 'uniform', clients), TARGETS.balanceVsRawRead);
    add(`balance ÷ { __typename }, ${clients} clients`, find('balance', 'uniform', clients), find('typename', '-', clients), null);
  }
  // The raw accrual measured in turns with the order rows, where it was (else the first one; the
  // ratio's name says which).
  const beside = find('baselineOrders', 'uniform', 8);
  const orderBaseline = beside ?? find('baseline', 'uniform', 8);
  const which = beside ? 'beside it' : 'of the write rows';
  add(`payOrder ÷ raw-SQL accrual ${which} (uniform, 8 clients)`, find('payOrder', 'uniform', 8), orderBaseline, TARGETS.payOrderVsBaseline);
  // What a paid order's rows allow, whoever writes them: the ceiling of the ratio above.
  add(`raw-SQL payOrder (the same rows) ÷ raw-SQL accrual ${which}`, find('payOrderRaw', 'uniform', 8), orderBaseline, null);
  add('payOrder ÷ raw-SQL payOrder (the same rows)', find('payOrder', 'uniform', 8), find('payOrderRaw', 'uniform', 8), null);
  add('referralTree depth 10 ÷ raw level-by-level SQL, 1 client', find('referralTree', '-', 1), find('referralTreeSql', '-', 1), TARGETS.referralTreeVsRaw);
  add('payOrder with tiers (its twin program) ÷ without, in turns (8 clients)', find('payOrderTiers', 'uniform', 8), find('payOrder', 'uniform', 8), TARGETS.payOrderTiersVsWithout);
  add('requalify-tiers: raw SQL seconds ÷ the job\'s (median run)', find('requalify', '-', 1), find('requalifySql', '-', 1), TARGETS.requalifyVsRawSql);
  add('expire-lots job ÷ keyset raw SQL (lots per second)', find('expiry', '-'), find('expirySql', '-'), TARGETS.expiryVsRawSql);
  add('accruals while expire-lots runs ÷ without, 8 clients', find('accrueDuringExpiry', 'uniform', 8), find('accrueBeforeExpiry', 'uniform', 8), TARGETS.accrualsDuringExpiry);
  const fanOut = rows.find((r) => r.op === 'fanOut');
  const rawWs = rows.find((r) => r.op === 'fanOutRawWs');
  add('balanceChanged fan-out ÷ raw ws broadcast (deliveries/s)', fanOut, rawWs, TARGETS.fanOutVsRawWs);
  for (const two of rows.filter((r) => r.op === 'fanOutTwo')) add(`${two.accounts} ÷ raw ws broadcast`, two, rawWs, null);
  return out;
}

function fmt(n: number, width: number, digits = 0): string {
  return (Number.isFinite(n) ? n.toFixed(digits) : '-').padStart(width);
}

export function printTable(rows: Measurement[]): void {
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
      'and by this load generator; other cores: CPU kept busy by unrelated processes during the window (noise).\n' +
      'Expiry rows count lots (ops/s = lots per second), fan-out rows count deliveries to subscribers.',
  );
  for (const r of rows.filter((r) => r.firstError)) console.log(`  ! ${r.name} x${r.clients}: first error: ${r.firstError}`);
}

export function printRatios(computed: Ratio[]): void {
  console.log('Ratios');
  for (const r of computed) {
    const target = r.target == null ? '' : `target ≥ ${r.target.toFixed(2)}`;
    console.log(`  ${r.name.padEnd(64)} ${fmt(r.value, 6, 3)}  ${target.padEnd(14)} ${r.status === 'INFO' ? '' : r.status}`);
  }
}
