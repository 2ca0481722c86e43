/**
 * Server CPU per subscription delivery: SOCKETS WebSocket subscribers of one member's
 * balanceChanged (same document), EVENTS accruals, the server's CPU (bench/server-entry.ts in a
 * child process, asked over IPC) divided by the deliveries. The accruals alone are measured
 * first, with nobody subscribed, and subtracted. FANOUT_INSTANCES=2 runs two servers on one
 * database (events cross over LISTEN/NOTIFY, or Redis with PATRON_REDIS_URL).
 *
 *   node -r @swc-node/register scripts/measure-fanout.ts
 *   FANOUT_SOCKETS=2000 FANOUT_EVENTS=40 FANOUT_INSTANCES=2 FANOUT_PG_PORT=55591 PATRON_REDIS_URL=redis://127.0.0.1:6379 …
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createDatabase, startBenchPostgres } from '../bench/pg';

const ROOT = path.resolve(__dirname, '..');
const SOCKETS = Number(process.env.FANOUT_SOCKETS ?? 2000);
const EVENTS = Number(process.env.FANOUT_EVENTS ?? 40);
const PG_PORT = Number(process.env.FANOUT_PG_PORT ?? 55591);
/** Servers on one database; the sockets are spread over them and the CPU figures add theirs up. */
const INSTANCES = Number(process.env.FANOUT_INSTANCES ?? 1);
const ADMIN_KEY = 'ptn_adm_fanout-measure-key-0123456789abcdef';

const SUBSCRIPTION = `subscription BalanceChanged($memberId: ID!) {
  balanceChanged(memberId: $memberId) { memberId available pending reserved sequence entry { id kind amount balanceAfter idempotencyKey } }
}`;

async function startServer(databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(path.join(ROOT, 'bench/server-entry.ts'), [], {
    cwd: ROOT,
    // FANOUT_CPU_PROF=<dir>: the server writes a V8 CPU profile there when it stops.
    execArgv: ['-r', '@swc-node/register', ...(process.env.FANOUT_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.FANOUT_CPU_PROF}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      PATRON_ADMIN_KEY: ADMIN_KEY,
      PATRON_JOBS: 'off',
      PATRON_REQUESTS_PER_KEY_PER_MINUTE: '0',
      PATRON_AUTH_FAILURES_PER_MINUTE: '0',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: '0',
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: any) => (m?.ready ? resolve(m.port) : reject(new Error(JSON.stringify(m)))));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}/graphql` };
}

let probeId = 0;
function serverCpuMs(child: ChildProcess): Promise<number> {
  const id = ++probeId;
  return new Promise((resolve) => {
    const onMessage = (m: any) => {
      if (m?.cpu && m.id === id) {
        child.off('message', onMessage);
        resolve((m.cpu.user + m.cpu.system) / 1000);
      }
    };
    child.on('message', onMessage);
    child.send({ cpu: true, id });
  });
}

async function gql<T = any>(url: string, key: string, query: string, variables?: object): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data as T;
}

let accrual = 0;
const accrue = (url: string, key: string, memberId: string) =>
  gql(url, key, 'mutation($input: AccrueInput!) { accrue(input: $input) { entry { id } } }', {
    input: { member: { id: memberId }, points: 1, idempotencyKey: `fanout-${process.pid}-${++accrual}`, delayDays: 0 },
  });

/** A socket that subscribed and counts the events it received. */
async function subscriber(wsUrl: string, key: string, memberId: string): Promise<{ received: () => number; close: () => void }> {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${key}` } })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { memberId } } }));
        resolve();
      } else if (message.type === 'next') {
        if (message.payload.errors) reject(new Error(JSON.stringify(message.payload.errors)));
        received++;
      } else if (message.type === 'error') reject(new Error(JSON.stringify(message.payload)));
    });
    socket.on('error', reject);
  });
  return { received: () => received, close: () => socket.close() };
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  const pg = await startBenchPostgres(mkdtempSync(path.join(os.tmpdir(), 'patron-fanout-')), PG_PORT);
  const databaseUrl = await createDatabase(pg.url, 'fanout');
  const servers: Array<{ child: ChildProcess; url: string }> = [];
  try {
    // One at a time: the first applies the migrations.
    for (let i = 0; i < INSTANCES; i++) servers.push(await startServer(databaseUrl));
    const writer = servers[0]!.url;
    const cpuMs = async () => (await Promise.all(servers.map((server) => serverCpuMs(server.child)))).reduce((a, b) => a + b, 0);
    const created = await gql(writer, ADMIN_KEY, 'mutation($input: CreateProgramInput!) { createProgram(input: $input) { adminKey { secret } } }', { input: { name: 'fanout' } });
    const adminKey = created.createProgram.adminKey.secret;
    const key = (await gql(writer, adminKey, 'mutation { createApiKey(input: { name: "shop", role: SERVER }) { secret } }')).createApiKey.secret;
    const memberId = (await gql(writer, key, 'mutation { upsertMember(input: { externalId: "fanout" }) { member { id } } }')).upsertMember.member.id;

    // The accruals alone (warm-up, then measured).
    for (let i = 0; i < 20; i++) await accrue(writer, key, memberId);
    let before = await cpuMs();
    for (let i = 0; i < EVENTS; i++) await accrue(writer, key, memberId);
    await new Promise((r) => setTimeout(r, 200));
    const writesMs = (await cpuMs()) - before;

    // Sockets spread over the instances in turn; the writes all go to the first.
    const sockets: Array<{ received: () => number; close: () => void }> = [];
    for (let i = 0; i < SOCKETS; i += 100) {
      const batch = Array.from({ length: Math.min(100, SOCKETS - i) }, (_, j) => subscriber(servers[(i + j) % INSTANCES]!.url.replace('http://', 'ws://'), key, memberId));
      sockets.push(...(await Promise.all(batch)));
    }
    // Every socket provably subscribed: a probe event reached all of them (and warmed up the path).
    for (let i = 0; i < 5; i++) await accrue(writer, key, memberId);
    await until(() => sockets.every((s) => s.received() >= 1), 60_000);
    await new Promise((r) => setTimeout(r, 500));
    const base = sockets.map((s) => s.received());

    before = await cpuMs();
    const started = Date.now();
    for (let i = 0; i < EVENTS; i++) await accrue(writer, key, memberId);
    await until(() => sockets.every((s, i) => s.received() - base[i]! >= EVENTS), 120_000);
    const wallMs = Date.now() - started;
    const totalMs = (await cpuMs()) - before;
    const deliveries = SOCKETS * EVENTS;
    const perDeliveryUs = ((totalMs - writesMs) * 1000) / deliveries;
    console.log(
      JSON.stringify({
        instances: INSTANCES,
        sockets: SOCKETS,
        events: EVENTS,
        deliveries,
        serverCpuMs: Math.round(totalMs),
        writesOnlyCpuMs: Math.round(writesMs),
        serverCpuUsPerDelivery: Number(perDeliveryUs.toFixed(1)),
        deliveriesPerSecond: Math.round(deliveries / (wallMs / 1000)),
        transport: process.env.PATRON_REDIS_URL ? 'redis' : 'postgres',
      }),
    );
    for (const s of sockets) s.close();
  } finally {
    for (const server of servers) {
      server.child.send({ stop: true });
      await new Promise((r) => server.child.once('exit', r));
    }
    await pg.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
