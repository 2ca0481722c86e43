import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { processAlive } from '../../src/db/postmaster';
import { VERIFY_LEDGER } from '../support/faults';
import { spawnServer, type ServerProcess } from '../support/server-process';
import { accrue, createMember, createProgram, ok, sleep, waitFor, type ProgramFixture } from './helpers';

/**
 * `npm start` in embedded mode (no DATABASE_URL) as an operator meets it: the server killed
 * with -9, its PostgreSQL killed under it, a port already taken. Two ports are this suite's
 * own, below Linux's ephemeral range (32768–60999), where a port bound in the middle of a run
 * can be taken by one of the run's own outgoing connections: 20 000 + the run's test PostgreSQL
 * port modulo 10 000, + 23 and + 24 (24 362–24 363 by default), so runs with their own
 * PATRON_TEST_PG_PORT on one machine do not meet.
 */
const PG_PORT = 20_000 + (Number(process.env.PATRON_TEST_PG_PORT ?? 54339) % 10_000) + 23;
let dataDir: string;
let server: ServerProcess | undefined;
let shop: ProgramFixture;
let memberId: string;

const env = () => ({ PATRON_DATA_DIR: dataDir, PATRON_EMBEDDED_PG_PORT: String(PG_PORT) });
const postmasterPid = () => Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);

beforeAll(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'patron-embedded-'));
  // As root, PostgreSQL runs as another OS user, which must reach its folder.
  chmodSync(dataDir, 0o755);
});
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('after kill -9 of the server, a new start on the same data folder stops the orphaned PostgreSQL and starts', async () => {
  server = await spawnServer(env(), 120_000);
  shop = await createProgram(server);
  memberId = (await createMember(server, shop.serverKey)).id;
  await accrue(server, shop.serverKey, memberId, 40, 'before-kill');
  const orphan = postmasterPid();

  server.child.kill('SIGKILL');
  await server.exited;
  // The orphan keeps the port and its pid file: the situation a new start must recover from.
  expect(processAlive(orphan)).toBe(true);

  server = await spawnServer(env(), 120_000);
  expect(processAlive(orphan)).toBe(false);
  expect(postmasterPid()).not.toBe(orphan);
  expect(server.output.join('\n')).toMatch(/stale embedded PostgreSQL/);
  // Same data: the key replays, nothing doubled.
  const again = await accrue(server, shop.serverKey, memberId, 40, 'before-kill');
  expect(again.account.available).toBe(40);
  expect(ok(await server.request<any, any>(VERIFY_LEDGER, undefined, shop.adminKey)).verifyLedger.ok).toBe(true);
}, 180_000);

test('an embedded PostgreSQL killed under a running server is restarted, and the server carries on', async () => {
  const killed = postmasterPid();
  process.kill(killed, 'SIGKILL');
  // Requests meanwhile fail with the retryable code, never a crash…
  const during = await server!.request<any, any>('query { program { id } }', undefined, shop.adminKey);
  if (during.errors) expect(during.errors[0]!.extensions?.code).toBe('SERVICE_UNAVAILABLE');
  // …and the database comes back by itself. Backends outlive a killed postmaster for a moment
  // (until they notice it is gone), so a health check can still pass on the old server: wait for
  // a new postmaster as well.
  const healthy = async () => (await fetch(`${server!.origin}/healthz`)).status === 200;
  const restarted = () => {
    try {
      return postmasterPid() !== killed;
    } catch {
      return false; // the pid file is rewritten as the new server starts
    }
  };
  const deadline = Date.now() + 60_000;
  while (!restarted() || !(await healthy())) {
    expect(server!.alive()).toBe(true);
    if (Date.now() > deadline) throw new Error(`not healthy again:\n${server!.output.slice(-20).join('\n')}`);
    await sleep(250);
  }
  expect(postmasterPid()).not.toBe(killed);
  expect(server!.output.join('\n')).toMatch(/embedded PostgreSQL restarted/);
  const after = await accrue(server!, shop.serverKey, memberId, 2, 'after-restart');
  expect(after.account.available).toBe(42);
  expect(ok(await server!.request<any, any>(VERIFY_LEDGER, undefined, shop.adminKey)).verifyLedger.ok).toBe(true);
}, 120_000);

test('SIGTERM stops the server and its embedded PostgreSQL', async () => {
  const pid = postmasterPid();
  expect(await server!.stop()).toEqual({ code: 0, signal: null });
  server = undefined;
  expect(await waitFor(() => !processAlive(pid), 10_000)).toBe(true);
  expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
}, 60_000);

test('a pid file naming a live process that is not this PostgreSQL is cleared', async () => {
  // A backend of the test PostgreSQL stands for a pid since given to another program of the
  // same OS user (PostgreSQL would refuse to start over it).
  const other = new Client({ connectionString: process.env.PATRON_TEST_SERVER_URL });
  await other.connect();
  try {
    const { rows } = await other.query('select pg_backend_pid() as pid');
    writeFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), `${rows[0].pid}\n${path.join(dataDir, 'pg')}\n0\n${PG_PORT}\n`);
    server = await spawnServer(env(), 120_000);
    expect(server.output.join('\n')).toMatch(/removed a stale postmaster.pid/);
    expect(ok(await server.request<any, any>(VERIFY_LEDGER, undefined, shop.adminKey)).verifyLedger.ok).toBe(true);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    server = undefined;
  } finally {
    await other.end();
  }
}, 120_000);

test('a start that cannot get its port says so plainly and exits 1', async () => {
  const squatter = net.createServer();
  // On every address, as PostgreSQL listens on both 127.0.0.1 and ::1.
  await new Promise<void>((resolve) => squatter.listen(PG_PORT + 1, resolve));
  try {
    const failed = await spawnServer({ ...env(), PATRON_EMBEDDED_PG_PORT: String(PG_PORT + 1) }, 60_000).then(
      () => { throw new Error('the server started on a taken port'); },
      (error: Error) => error.message,
    );
    expect(failed).toMatch(/"code":1/);
    expect(failed).toMatch(/embedded PostgreSQL did not start/);
    expect(failed).toMatch(new RegExp(`port ${PG_PORT + 1}\\): .*could not create any TCP/IP sockets`));
    expect(failed).not.toMatch(/^undefined$/m);
  } finally {
    squatter.close();
  }
}, 90_000);
