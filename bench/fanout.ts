/**
 * Fan-out: `balanceChanged` of one member with BENCH_FANOUT_SOCKETS (2 000) subscribers, each
 * on a WebSocket of its own (graphql-ws), while writers accrue points to that member in a
 * closed loop; deliveries per second are the messages the subscribers received in the window.
 *
 * The baseline is a raw `ws` server (this file run as a child process) that broadcasts the same
 * message — a copy of one Patron delivered — to as many sockets, each POST /publish answered once
 * every socket has taken its copy, driven by as many writers. The same subscriber code counts both.
 * A third row spreads the subscribers over two Patron instances on one database, the writers on
 * the first: what crosses between instances (LISTEN/NOTIFY, or Redis when PATRON_REDIS_URL is set).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { CpuMeter } from './cpu';
import { CpuMeter as Meter } from './cpu';
import { GraphQLClient, workRow, type Measurement } from './load';
import { forkReady, type Started } from './servers';

const SUBSCRIPTION = `subscription Fan($id: ID!) { balanceChanged(memberId: $id) { available entry { id amount } } }`;
const ACCRUE = `mutation Accrue($input: AccrueInput!) { accrue(input: $input) { entry { id } } }`;

export interface FanOutOptions {
  sockets: number;
  writers: number;
  warmupMs: number;
  durationMs: number;
  log: (msg: string) => void;
}

/** Sockets that count what they receive; `first` keeps one message as the raw baseline's payload. */
class Subscribers {
  readonly sockets: WebSocket[] = [];
  received = 0;
  first: string | null = null;

  /** Opens `count` sockets, round-robin over `urls`, each set up by `init` before it counts. */
  async open(urls: string[], count: number, protocol: string | undefined, init: (ws: WebSocket) => Promise<void>): Promise<void> {
    let next = 0;
    const openOne = async (i: number) => {
      const ws = new WebSocket(urls[i % urls.length]!, protocol);
      ws.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      this.sockets.push(ws);
      await init(ws);
      ws.on('message', (data) => {
        this.received++;
        if (this.first === null) this.first = data.toString();
      });
    };
    // A few dozen handshakes at a time: the server's authentication is measured elsewhere.
    await Promise.all(Array.from({ length: 50 }, async () => {
      while (next < count) await openOne(next++);
    }));
  }

  close(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  /** Waits until the count stops moving for `quietMs` (or `maxMs` passes). */
  async settle(quietMs = 1000, maxMs = 60_000): Promise<void> {
    const until = Date.now() + maxMs;
    let last = -1;
    while (Date.now() < until && this.received !== last) {
      last = this.received;
      await new Promise((r) => setTimeout(r, quietMs));
    }
  }
}

/** graphql-ws: connection_init with the key, wait for the ack, subscribe. */
function graphqlWsInit(apiKey: string, memberId: string) {
  return (ws: WebSocket) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connection_ack within 30 s')), 30_000);
      ws.once('message', (data) => {
        clearTimeout(timer);
        const message = JSON.parse(data.toString());
        if (message.type !== 'connection_ack') return reject(new Error(`expected connection_ack, got ${data.toString().slice(0, 200)}`));
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { id: memberId } } }));
        resolve();
      });
      ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${apiKey}` } }));
    });
}

/** Runs `write` in `writers` closed loops for the warm-up and the window; counts deliveries in the window. */
async function window(
  label: { name: string; op: string; accounts: string },
  subscribers: Subscribers,
  opts: FanOutOptions,
  meter: CpuMeter | undefined,
  write: () => Promise<void>,
): Promise<Measurement> {
  let running = true;
  let writes = 0;
  let errors = 0;
  let firstError: string | undefined;
  const loops = Array.from({ length: opts.writers }, async () => {
    while (running) {
      try {
        await write();
        writes++;
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
        await new Promise((r) => setImmediate(r));
      }
    }
  });
  await new Promise((r) => setTimeout(r, opts.warmupMs));
  const before = await meter?.snapshot();
  const [received0, writes0, t0] = [subscribers.received, writes, performance.now()];
  await new Promise((r) => setTimeout(r, opts.durationMs));
  const [received1, writes1, t1] = [subscribers.received, writes, performance.now()];
  const after = await meter?.snapshot();
  running = false;
  await Promise.allSettled(loops);
  await subscribers.settle();
  const row = workRow({ ...label, clients: opts.sockets }, received1 - received0, t1 - t0, before && after ? Meter.delta(before, after) : null);
  opts.log(`  ${label.name}: ${writes1 - writes0} writes, ${received1 - received0} deliveries in the window (${row.opsPerSec}/s), ${errors} write errors`);
  return { ...row, errors, ...(firstError ? { firstError } : {}) };
}

/** The Patron rows: one instance, and (when `secondUrl` is given) subscribers split over two. */
export async function patronFanOut(
  urls: string[],
  apiKey: string,
  memberId: string,
  opts: FanOutOptions & { label: string; op: string; transport: string; meter?: CpuMeter; runId: string },
): Promise<{ row: Measurement; sample: string | null }> {
  const subscribers = new Subscribers();
  const t0 = Date.now();
  const wsUrls = urls.map((u) => u.replace(/^http/, 'ws'));
  await subscribers.open(wsUrls, opts.sockets, 'graphql-transport-ws', graphqlWsInit(apiKey, memberId));
  opts.log(`  ${opts.sockets} subscribers on ${urls.length} instance(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const client = new GraphQLClient(urls[0]!, apiKey, opts.writers);
  let seq = 0;
  const write = () => client.request(ACCRUE, { input: { member: { id: memberId }, points: 1, idempotencyKey: `fan-${opts.runId}-${opts.op}-${++seq}` } });
  try {
    // Every subscription is live before the clock starts: one event reaches them all.
    await write();
    const until = Date.now() + 30_000;
    while (subscribers.received < opts.sockets && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    if (subscribers.received < opts.sockets) opts.log(`  ! only ${subscribers.received} of ${opts.sockets} subscribers got the first event`);
    const row = await window({ name: opts.label, op: opts.op, accounts: opts.transport }, subscribers, opts, opts.meter, write);
    return { row, sample: subscribers.first };
  } finally {
    client.close();
    subscribers.close();
  }
}

/** The baseline row: the raw `ws` broadcaster (a child process) sending `message` to as many sockets. */
export async function rawWsFanOut(message: string, opts: FanOutOptions): Promise<Measurement> {
  const started: Started = await forkReady('bench/fanout.ts', { ...process.env });
  const meter = new Meter(started.child, null);
  const subscribers = new Subscribers();
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.writers });
  try {
    await subscribers.open([`ws://127.0.0.1:${started.port}/`], opts.sockets, undefined, async () => undefined);
    const publish = () =>
      new Promise<void>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: started.port, path: '/publish', method: 'POST', agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(message);
      });
    return await window({ name: `raw ws broadcast to ${opts.sockets} sockets`, op: 'fanOutRawWs', accounts: '-' }, subscribers, opts, meter, publish);
  } finally {
    agent.destroy();
    subscribers.close();
    started.child.kill('SIGTERM');
  }
}

/** The raw broadcaster: POST /publish sends the body to every socket, answering once all took it. */
async function main(): Promise<void> {
  const { serveChild } = await import('./servers');
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      let pending = wss.clients.size;
      if (pending === 0) return void res.writeHead(204).end();
      const done = () => {
        if (--pending === 0) res.writeHead(204).end();
      };
      for (const ws of wss.clients) ws.send(text, done);
    });
  });
  const wss = new WebSocketServer({ server });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serveChild((server.address() as AddressInfo).port, async () => {
    for (const ws of wss.clients) ws.terminate();
    server.close();
  });
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
