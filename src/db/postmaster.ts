import { execFileSync } from 'node:child_process';
import { readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';

/**
 * A PostgreSQL left behind by a server killed with -9 keeps its port and its pid file, and a
 * new start on the same data folder fails. These helpers find that postmaster — only if it is
 * a postgres process serving this very folder — and stop it, or clear a pid file that no
 * longer names one.
 */

/** Alive and not a zombie (a dead child nobody reaped still answers signal 0). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc (macOS): signal 0 is all we have
  }
}

/** The command line of a process, or '' when it cannot be read. */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    try {
      return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    } catch {
      return '';
    }
  }
}

export type StaleOutcome = { kind: 'none' } | { kind: 'cleared'; pid: number } | { kind: 'stopped'; pid: number };

/**
 * Makes `databaseDir` startable again: a postmaster of this folder still running is stopped
 * (fast shutdown, then immediate), and a pid file naming a dead or unrelated process is removed.
 */
export async function recoverStalePostmaster(databaseDir: string, timeoutMs = 20_000): Promise<StaleOutcome> {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return { kind: 'none' };
  }
  const pid = Number(lines[0]);
  const ours =
    Number.isInteger(pid) && pid > 0 && processAlive(pid) &&
    path.resolve(lines[1] ?? '') === path.resolve(databaseDir) &&
    /(^|\/)postgres\s/.test(commandLine(pid) + ' ');
  if (!ours) {
    // PostgreSQL itself ignores a dead pid, but refuses one the system gave to another program.
    unlinkSync(pidFile);
    return { kind: 'cleared', pid };
  }
  for (const [signal, waitMs] of [['SIGINT', timeoutMs], ['SIGQUIT', 5000]] as const) {
    process.kill(pid, signal);
    const deadline = Date.now() + waitMs;
    while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (!processAlive(pid)) return { kind: 'stopped', pid };
  }
  throw new Error(`A PostgreSQL (pid ${pid}) still runs on ${databaseDir} and did not stop; stop it, then start again`);
}
