import http from 'node:http';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { OPERATOR_KEY } from '../support/server';
import { spawnServer, type ServerProcess } from '../support/server-process';

/** SIGTERM while keep-alive clients are busy: every request gets an answer or was never sent. */
let db: TestDatabase;
let server: ServerProcess | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await server?.stop();
  await db.drop();
});

type Result = { status: number; connection?: string } | { error: string; connectedBeforeSignal: boolean };

/** One POST; on failure, whether its connection was open before SIGTERM (a request in flight). */
function post(agent: http.Agent, url: URL, body: string, signalledAt: () => number): Promise<Result> {
  return new Promise((resolve) => {
    let connectedAt = Infinity;
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_KEY}`, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message, connectedBeforeSignal: connectedAt < signalledAt() }));
      },
    );
    req.on('socket', (socket) => {
      if (!socket.connecting) connectedAt = 0;
      else socket.once('connect', () => (connectedAt = performance.now()));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message, connectedBeforeSignal: connectedAt < signalledAt() }));
    req.end(body);
  });
}

test('3 000 requests over 32 keep-alive connections, SIGTERM after the first 300: none is reset', async () => {
  server = await spawnServer({ DATABASE_URL: db.url });
  const url = new URL(server.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const body = JSON.stringify({ query: '{ program { id name } }' });
  let answered = 0;
  let signalledAt = Infinity;
  const results = await Promise.all(
    Array.from({ length: 3000 }, async () => {
      const result = await post(agent, url, body, () => signalledAt);
      if (++answered === 300) {
        signalledAt = performance.now();
        server!.child.kill('SIGTERM');
      }
      return result;
    }),
  );
  agent.destroy();
  const exit = await server.exited;
  server = undefined;

  const tally = new Map<string, number>();
  for (const r of results) {
    const key = 'status' in r ? String(r.status) : `${r.error} ${r.connectedBeforeSignal ? 'in flight' : 'after SIGTERM'}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
  }
  // A request sent on a connection the server had accepted is answered in full: never
  // ECONNRESET or "socket hang up", which leave the client unsure whether it ran. Connections
  // opened after SIGTERM are refused; one the kernel had queued but the server not yet
  // accepted is reset when the listener closes (its request never reached the server).
  expect(Object.fromEntries([...tally].filter(([k]) => k !== '200' && !k.endsWith('after SIGTERM')))).toEqual({});
  expect(tally.get('200')).toBeGreaterThanOrEqual(300);
  // Responses written while draining told the client to stop reusing the connection.
  expect(results.some((r) => 'status' in r && r.connection === 'close')).toBe(true);
  expect(exit).toEqual({ code: 0, signal: null });
}, 60_000);
