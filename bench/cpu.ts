/**
 * CPU time by party, so a row says where its time went (and whether something else on the
 * machine was competing): the server process (asked over IPC), PostgreSQL (the postmaster and
 * its backends, from /proc), this load generator, and the whole machine (/proc/stat).
 * Linux only; elsewhere the PostgreSQL and machine figures are null.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // CLK_TCK = 100 on Linux

export interface CpuSnapshot {
  /** ms of CPU */
  server: number | null;
  postgres: number | null;
  bench: number;
  /** ms of busy CPU on the whole machine (all cores), and wall ms */
  machineBusy: number | null;
  wall: number;
}

export interface CpuDelta {
  serverMs: number | null;
  postgresMs: number | null;
  benchMs: number;
  /** Busy CPU of everything else on the machine during the window, in cores. */
  otherCores: number | null;
  wallMs: number;
}

function statFields(pid: number | string): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The postmaster's own time, what its exited backends used, and its live backends. */
export function postgresCpuMs(postmasterPid: number | null): number | null {
  if (!postmasterPid) return null;
  const pm = statFields(postmasterPid);
  if (!pm) return null;
  // After the name: [0] state, [1] ppid, ... [11] utime, [12] stime, [13] cutime, [14] cstime
  let ticks = Number(pm[11]) + Number(pm[12]) + Number(pm[13]) + Number(pm[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(entry);
    if (f && Number(f[1]) === postmasterPid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * TICK_MS;
}

function machineBusyMs(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [, ...values] = line.trim().split(/\s+/);
    const n = values.map(Number);
    // user nice system idle iowait irq softirq steal
    const busy = n[0]! + n[1]! + n[2]! + n[5]! + n[6]! + (n[7] ?? 0);
    return busy * TICK_MS;
  } catch {
    return null;
  }
}

let nextId = 0;
function serverCpuMs(server: ChildProcess | null): Promise<number | null> {
  if (!server || !server.connected) return Promise.resolve(null);
  const id = ++nextId;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.off('message', onMessage);
      resolve(null);
    }, 2000);
    const onMessage = (m: any) => {
      if (m?.id !== id || !m.cpu) return;
      clearTimeout(timer);
      server.off('message', onMessage);
      resolve((m.cpu.user + m.cpu.system) / 1000);
    };
    server.on('message', onMessage);
    server.send({ cpu: true, id });
  });
}

export class CpuMeter {
  constructor(
    private readonly server: ChildProcess | null,
    private readonly postmasterPid: number | null,
  ) {}

  async snapshot(): Promise<CpuSnapshot> {
    const server = await serverCpuMs(this.server);
    const u = process.cpuUsage();
    return {
      server,
      postgres: postgresCpuMs(this.postmasterPid),
      bench: (u.user + u.system) / 1000,
      machineBusy: machineBusyMs(),
      wall: performance.now(),
    };
  }

  static delta(a: CpuSnapshot, b: CpuSnapshot): CpuDelta {
    const d = (x: number | null, y: number | null) => (x == null || y == null ? null : y - x);
    const serverMs = d(a.server, b.server);
    const postgresMs = d(a.postgres, b.postgres);
    const benchMs = b.bench - a.bench;
    const wallMs = b.wall - a.wall;
    const busy = d(a.machineBusy, b.machineBusy);
    const ours = (serverMs ?? 0) + (postgresMs ?? 0) + benchMs;
    return {
      serverMs,
      postgresMs,
      benchMs,
      otherCores: busy == null ? null : Math.max(0, busy - ours) / wallMs,
      wallMs,
    };
  }
}
