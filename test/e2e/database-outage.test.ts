import { createTestDatabase, type TestDatabase } from '../support/database';
import { burst, ledgerDifferences, planAccruals, replayAll, seededRandom, terminateBackends, VERIFY_LEDGER, type Outcome } from '../support/faults';
import { spawnServer, type ServerProcess } from '../support/server-process';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { AccrueDocument } from './generated/graphql';
import { createMember, createProgram, ok, sleep, type ProgramFixture } from './helpers';

/** A real server process on the suite's database (through a proxy that can take it away). */
let db: TestDatabase;
let proxy: TcpProxy;
let server: ServerProcess;
let shop: ProgramFixture;
let members: string[];

beforeAll(async () => {
  db = await createTestDatabase();
  proxy = await startTcpProxy(db.url);
  server = await spawnServer({ DATABASE_URL: proxy.url, PATRON_DB_POOL_MAX: '8' });
  shop = await createProgram(server);
  members = [];
  for (let i = 0; i < 4; i++) members.push((await createMember(server, shop.serverKey)).id);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await proxy?.close();
  await db?.drop();
});

test('terminating the backends during 16 concurrent accruals fails some with SERVICE_UNAVAILABLE; the process lives, nothing is lost or doubled', async () => {
  const plan = planAccruals(seededRandom(6), 'outage', members, 160);
  let cuts = 0;
  let stop = false;
  // Cuts every session of the database every few milliseconds while the burst runs.
  const cutter = (async () => {
    while (!stop) {
      cuts += await terminateBackends(db.url);
      await sleep(15);
    }
  })();
  let outcomes: Outcome[];
  try {
    outcomes = await burst(server, shop.serverKey, plan, 16);
  } finally {
    stop = true;
    await cutter;
  }
  expect(cuts).toBeGreaterThan(0);
  expectAlive(server);
  const failures = outcomes.filter((o) => !o.ok);
  expect(failures.length).toBeGreaterThan(0);
  // One stable, retryable code for every request that met a dropped connection.
  expect(new Set(failures.map((o) => (o.ok ? null : o.code)))).toEqual(new Set(['SERVICE_UNAVAILABLE']));

  // The pool has recovered: a retrying client gets every key through, each exactly once.
  await replayAll(server, shop.serverKey, plan);
  expect(await ledgerDifferences(db.url, shop.programId, plan)).toEqual([]);
  expect(ok(await server.request<any, any>(VERIFY_LEDGER, undefined, shop.adminKey)).verifyLedger).toEqual({ ok: true, discrepancies: [] });
  expectAlive(server);
});

test('GET /healthz is 200 with the database, 503 with a small JSON body while it is away, and 200 again after', async () => {
  const health = async () => {
    const res = await fetch(`${server.origin}/healthz`);
    return { status: res.status, body: await res.json() };
  };
  expect(await health()).toEqual({ status: 200, body: { status: 'ok' } });
  await proxy.down();
  try {
    expect(await health()).toEqual({ status: 503, body: { status: 'unavailable', retryable: true } });
    const res = await server.request<any, any>('query { program { id } }', undefined, shop.adminKey);
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    // A key the server has not seen cannot be checked: the whole request is 503.
    const unchecked = await server.request<any, any>('query { program { id } }', undefined, 'ptn_adm_never-seen-key-0000000000000000');
    expect({ status: unchecked.status, extensions: unchecked.errors?.[0]?.extensions }).toEqual({ status: 503, extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true } });
    const write = await server.request<any, any>(AccrueDocument, { input: { member: { id: members[0]! }, points: 5, idempotencyKey: 'while-away', delayDays: 0 } }, shop.serverKey);
    expect(write.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    expectAlive(server);
  } finally {
    await proxy.up();
  }
  // The pool reconnects by itself.
  expect(await health()).toEqual({ status: 200, body: { status: 'ok' } });
  expectAlive(server);
});

/** Alive, or the last lines it wrote before it died. */
function expectAlive(s: ServerProcess): void {
  expect({ alive: s.alive(), lastWords: s.alive() ? [] : s.output.slice(-40) }).toEqual({ alive: true, lastWords: [] });
}
