/**
 * A closed-loop load generator: N workers each run one operation after another, for a warm-up
 * and then a fixed window; only operations that complete inside the window count. Every
 * measurement is bounded in time (window + a drain timeout) and in count (maxOps).
 */
import http from 'node:http';
import { CpuMeter, type CpuSnapshot } from './cpu';

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
}

export interface MeasureOptions {
  warmupMs: number;
  durationMs: number;
  /** Stops the window early once this many operations completed in it. */
  maxOps: number;
  meter?: CpuMeter;
}

export type Operation = (worker: number) => Promise<void>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measure(
  label: { name: string; op: string; accounts: string },
  clients: number,
  operation: Operation,
  opts: MeasureOptions,
): Promise<Measurement> {
  let phase: 'warmup' | 'window' | 'stopped' = 'warmup';
  let windowStart = 0;
  let windowEnd = 0;
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
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
        if (phase === 'window' && !firstError) firstError = String((error as Error)?.message ?? error).slice(0, 200);
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
  await sleep(opts.warmupMs);
  const cpuStart: CpuSnapshot | undefined = await opts.meter?.snapshot();
  phase = 'window';
  windowStart = performance.now();
  await Promise.race([sleep(opts.durationMs), earlyStop]);
  windowEnd = performance.now();
  phase = 'stopped';
  const cpuEnd: CpuSnapshot | undefined = await opts.meter?.snapshot();
  // In-flight operations finish (each has its own timeout); never wait more than 15 s.
  await Promise.race([Promise.allSettled(running), sleep(15_000)]);

  const seconds = (windowEnd - windowStart) / 1000;
  const sorted = latencies.subarray(0, ops).sort();
  const pct = (p: number) => (ops === 0 ? NaN : sorted[Math.min(ops - 1, Math.floor((p / 100) * ops))]);
  const cpu = cpuStart && cpuEnd ? CpuMeter.delta(cpuStart, cpuEnd) : null;
  const perOp = (ms: number | null | undefined) => (ms == null || ops === 0 ? null : round(ms / ops, 3));
  return {
    ...label,
    clients,
    seconds: round(seconds, 2),
    ops,
    opsPerSec: round(ops / seconds, 1),
    p50Ms: round(pct(50), 2),
    p99Ms: round(pct(99), 2),
    errors,
    cpuMsPerOp: { server: perOp(cpu?.serverMs), postgres: perOp(cpu?.postgresMs), loadGenerator: perOp(cpu?.benchMs) ?? NaN },
    otherCores: cpu?.otherCores == null ? null : round(cpu.otherCores, 2),
    ...(firstError ? { firstError } : {}),
  };
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
