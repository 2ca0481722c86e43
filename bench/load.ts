/**
 * A closed-loop load generator: N workers each run one operation after another, for a warm-up
 * and then a fixed window; only operations that complete inside the window count. Every
 * measurement is bounded in time (window + a drain timeout) and in count (maxOps).
 */
import http from 'node:http';
import { CpuMeter, type CpuDelta, type CpuSnapshot } from './cpu';

export interface Measurement {
  name: string;
  /** What the ratio lines refer to: e.g. "accrue", "baseline". */
  op: string;
  /** uniform | hot | - */
  accounts: string;
  clients: number;
  seconds: number;
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** CPU ms per completed operation, by party (null where it could not be read). */
  cpuMsPerOp: { server: number | null; postgres: number | null; loadGenerator: number };
  /** Cores that other processes on the machine kept busy during the window (noise). */
  otherCores: number | null;
  firstError?: string;
  /**
   * Autovacuum passes (vacuum or analyze, by table) that finished during the row — or during the
   * group of rows measured in turns with it — or were running when it ended: their CPU counts as
   * PostgreSQL's, so a row they overlap reads dearer.
   */
  autovacuum?: string[];
}

export interface MeasureOptions {
  warmupMs: number;
  durationMs: number;
  /** Stops the window early once this many operations completed in it. */
  maxOps: number;
  meter?: CpuMeter;
}

export type Operation = (worker: number) => Promise<void>;

/**
 * Thrown by an operation that has nothing left to do (the pre-placed orders ran out): the run
 * ends there, its window closing at that moment.
 */
export class Exhausted extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** One turn of the event loop: timers (the end of the window) get to run. */
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/** One measured window of a closed loop: `measure` makes a row of one, `interleave` of several. */
export interface Slice {
  ops: number;
  errors: number;
  ms: number;
  /** Latencies of the completed operations, ms. */
  latencies: Float64Array;
  cpu: CpuDelta | null;
  firstError?: string;
  /** The operation ran out of work (`Exhausted`): no further window of it can run. */
  exhausted: boolean;
}

/** Runs `operation` on `clients` workers for a warm-up, then measures one window. */
export async function runSlice(clients: number, operation: Operation, opts: MeasureOptions): Promise<Slice> {
  let phase: 'warmup' | 'window' | 'stopped' = 'warmup';
  let windowStart = 0;
  let windowEnd = 0;
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  let exhausted = false;
  const latencies = new Float64Array(Math.min(opts.maxOps, 5_000_000));
  let stopEarly: () => void = () => undefined;
  const earlyStop = new Promise<void>((r) => (stopEarly = r));

  const worker = async (w: number) => {
    while (phase !== 'stopped') {
      const t0 = performance.now();
      let failed = false;
      try {
        await operation(w);
      } catch (error) {
        failed = true;
        if (error instanceof Exhausted) {
          if (!firstError) firstError = error.message;
          exhausted = true;
          stopEarly();
          return;
        }
        if (phase === 'window' && !firstError) firstError = String((error as Error)?.message ?? error).slice(0, 200);
        // An operation that rejects at once never leaves the microtask queue: without this the
        // loop would spin, the timer that ends the window would never fire, and the run would hang.
        await nextTurn();
      }
      const t1 = performance.now();
      // Counted only when it both started and ended inside the window.
      if (phase === 'window' && t0 >= windowStart) {
        if (failed) errors++;
        else if (ops < latencies.length) {
          latencies[ops++] = t1 - t0;
          if (ops >= opts.maxOps) stopEarly();
        }
      }
    }
  };

  const running = Array.from({ length: clients }, (_, w) => worker(w));
  await Promise.race([sleep(opts.warmupMs), earlyStop]);
  const cpuStart: CpuSnapshot | undefined = await opts.meter?.snapshot();
  phase = 'window';
  windowStart = performance.now();
  await Promise.race([sleep(opts.durationMs), earlyStop]);
  windowEnd = performance.now();
  phase = 'stopped';
  const cpuEnd: CpuSnapshot | undefined = await opts.meter?.snapshot();
  // In-flight operations finish (each has its own timeout); never wait more than 15 s, and leave
  // no timer behind (a run of short slices would keep the process alive for it).
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(running), new Promise((r) => (drainTimer = setTimeout(r, 15_000)))]);
  clearTimeout(drainTimer);
  return {
    ops,
    errors,
    ms: windowEnd - windowStart,
    latencies: latencies.slice(0, ops),
    cpu: cpuStart && cpuEnd ? CpuMeter.delta(cpuStart, cpuEnd) : null,
    exhausted,
    ...(firstError ? { firstError } : {}),
  };
}

/** A row from its windows: operations, time and CPU summed, percentiles over every latency. */
export function toMeasurement(label: { name: string; op: string; accounts: string }, clients: number, slices: Slice[]): Measurement {
  const ops = slices.reduce((n, s) => n + s.ops, 0);
  const ms = slices.reduce((n, s) => n + s.ms, 0);
  const sorted = new Float64Array(ops);
  let at = 0;
  for (const s of slices) {
    sorted.set(s.latencies, at);
    at += s.latencies.length;
  }
  sorted.sort();
  const pct = (p: number) => (ops === 0 ? NaN : sorted[Math.min(ops - 1, Math.floor((p / 100) * ops))]!);
  // A party's CPU is known only when every window could read it.
  const total = (f: (d: CpuDelta) => number | null): number | null =>
    slices.every((s) => s.cpu && f(s.cpu) != null) ? slices.reduce((n, s) => n + f(s.cpu!)!, 0) : null;
  const perOp = (v: number | null) => (v == null || ops === 0 ? null : round(v / ops, 3));
  const otherCoreMs = total((d) => (d.otherCores == null ? null : d.otherCores * d.wallMs));
  const wallMs = total((d) => d.wallMs);
  const firstError = slices.find((s) => s.firstError)?.firstError;
  return {
    ...label,
    clients,
    seconds: round(ms / 1000, 2),
    ops,
    opsPerSec: round(ops / (ms / 1000), 1),
    p50Ms: round(pct(50), 2),
    p99Ms: round(pct(99), 2),
    errors: slices.reduce((n, s) => n + s.errors, 0),
    cpuMsPerOp: { server: perOp(total((d) => d.serverMs)), postgres: perOp(total((d) => d.postgresMs)), loadGenerator: perOp(total((d) => d.benchMs)) ?? NaN },
    otherCores: otherCoreMs == null || !wallMs ? null : round(otherCoreMs / wallMs, 2),
    ...(firstError ? { firstError } : {}),
  };
}

/** One row: a warm-up, then one window. */
export async function measure(
  label: { name: string; op: string; accounts: string },
  clients: number,
  operation: Operation,
  opts: MeasureOptions,
): Promise<Measurement> {
  return toMeasurement(label, clients, [await runSlice(clients, operation, opts)]);
}

export const round = (n: number, digits: number) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : n);

/** A GraphQL-over-HTTP client on a keep-alive agent: one socket per worker, reused. */
export class GraphQLClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly path: string;

  constructor(
    url: string,
    private readonly apiKey: string,
    maxSockets: number,
    private readonly timeoutMs = 10_000,
  ) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.path = u.pathname;
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
  }

  /** Resolves with `data`; rejects on a transport error, a non-200 status or GraphQL errors. */
  request<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const body = JSON.stringify(variables ? { query, variables } : { query });
    return new Promise<T>((resolve, reject) => {
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          path: this.path,
          method: 'POST',
          agent: this.agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            authorization: `Bearer ${this.apiKey}`,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let json: any;
            try {
              json = JSON.parse(text);
            } catch {
              reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
              return;
            }
            if (json.errors?.length) {
              const e = json.errors[0];
              reject(new Error(`${e.extensions?.code ?? 'ERROR'}: ${e.message}`));
            } else if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
            else resolve(json.data as T);
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`timeout after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * A row of one-shot runs (the requalify job): "ops/s" is 1 ÷ the median run's seconds, so the
 * ratios read like the others; p50 is the median run, p99 the slowest.
 */
export function oneShot(name: string, op: string, runs: { times: number[]; cpu: CpuDelta[] }): Measurement {
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

/**
 * A row of one run that did `units` of work (lots swept, messages delivered) in `ms`: ops/s is
 * units per second, CPU per unit; `clients` is what ran it (1 for a job).
 */
export function workRow(label: { name: string; op: string; accounts: string; clients?: number }, units: number, ms: number, cpu: CpuDelta | null): Measurement {
  const per = (v: number | null | undefined) => (v == null || units === 0 ? null : round(v / units, 4));
  return {
    name: label.name,
    op: label.op,
    accounts: label.accounts,
    clients: label.clients ?? 1,
    seconds: round(ms / 1000, 2),
    ops: units,
    opsPerSec: round(units / (ms / 1000), 1),
    p50Ms: NaN,
    p99Ms: NaN,
    errors: 0,
    cpuMsPerOp: { server: per(cpu?.serverMs), postgres: per(cpu?.postgresMs), loadGenerator: per(cpu?.benchMs) ?? NaN },
    otherCores: cpu?.otherCores == null ? null : round(cpu.otherCores, 2),
  };
}
