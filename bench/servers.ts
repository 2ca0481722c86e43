/**
 * The processes the bench measures: Patron (bench/server-entry.ts) and the raw baselines
 * (bench/raw-read.ts, the raw `ws` broadcaster in bench/fanout.ts), each in a child process of
 * its own so none shares the load generator's event loop. A child says `{ ready, port }` over
 * IPC once listening, answers `{ cpu }` probes and exits on `{ stop }`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');

export interface Started {
  child: ChildProcess;
  port: number;
}

/** Forks a TypeScript entry and waits for its `{ ready, port }`. */
export async function forkReady(entry: string, env: NodeJS.ProcessEnv, opts: { profileDir?: string } = {}): Promise<Started> {
  // BENCH_NODE_FLAGS: V8 and Node flags for the measured processes only (e.g. --trace-gc, which NODE_OPTIONS refuses).
  const execArgv = ['-r', '@swc-node/register', ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
  if (opts.profileDir) {
    mkdirSync(opts.profileDir, { recursive: true });
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`);
  }
  const child = fork(path.resolve(ROOT, entry), [], { cwd: ROOT, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not start within 90 s`)), 90_000);
    child.once('message', (m: any) => {
      clearTimeout(timer);
      if (m?.ready) resolve(m.port);
      else reject(new Error(`unexpected message from ${entry}: ${JSON.stringify(m)}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with code ${code} before it was ready`));
    });
  });
  return { child, port };
}

export interface PatronServerOptions {
  databaseUrl: string;
  adminKey: string;
  profile: boolean;
}

/**
 * Starts Patron (bench/server-entry.ts, or BENCH_SERVER_ENTRY) on `databaseUrl`. The bench's
 * environment passes through, so PATRON_REDIS_URL, when set, reaches the server too.
 */
export async function startServer(opts: PatronServerOptions): Promise<{ child: ChildProcess; url: string }> {
  const env = process.env;
  const { child, port } = await forkReady(
    env.BENCH_SERVER_ENTRY ?? 'bench/server-entry.ts',
    {
      ...env,
      NODE_ENV: env.BENCH_NODE_ENV ?? 'production',
      DATABASE_URL: opts.databaseUrl,
      PATRON_ADMIN_KEY: opts.adminKey,
      PATRON_JOBS: 'off',
      // The per-key limiter runs, as in production, but never throttles the load.
      PATRON_REQUESTS_PER_KEY_PER_MINUTE: '100000000',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: '0',
      ...(env.BENCH_DB_POOL_MAX ? { PATRON_DB_POOL_MAX: env.BENCH_DB_POOL_MAX } : {}),
    },
    { profileDir: opts.profile ? path.join(ROOT, 'bench', 'profiles') : undefined },
  );
  return { child, url: `http://127.0.0.1:${port}/graphql` };
}

export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if (child.connected) child.send({ stop: true });
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/** For a child entry: report the port, answer CPU probes, stop on request or when the parent goes. */
export function serveChild(port: number, stop: () => Promise<void>): void {
  let stopping = false;
  const end = () => {
    if (stopping) return;
    stopping = true;
    void stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', end);
  process.on('disconnect', end);
  process.on('message', (m: any) => {
    if (m?.cpu) process.send?.({ cpu: process.cpuUsage(), id: m.id });
    if (m?.stop) end();
  });
  process.send?.({ ready: true, port });
}
