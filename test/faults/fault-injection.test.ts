import { createMember, createProgram, ok, sleep, type ProgramFixture } from '../e2e/helpers';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { armFault, installFaultTrigger } from '../support/fault-trigger';
import {
  burst,
  faultSeed,
  ledgerDifferences,
  planAccruals,
  replayAll,
  seededRandom,
  terminateBackends,
  VERIFY_LEDGER,
  type Outcome,
  type PlannedAccrual,
} from '../support/faults';
import { spawnServer, type ServerProcess } from '../support/server-process';

/**
 * Faults injected into a real server process on a real PostgreSQL, each followed by a client
 * that replays every idempotency key: afterwards every key has exactly one entry, balances are
 * the planned sums and verifyLedger is clean. What is injected, to whom and when comes from one
 * seed, printed at the start; PATRON_FAULT_SEED=<seed> replays the same plan (timings differ).
 */
const seed = faultSeed();
const random = seededRandom(seed);

let db: TestDatabase;
let server: ServerProcess;
let shop: ProgramFixture;
let members: string[];
/** Every accrual planned so far: the books must hold exactly these. */
const planned: PlannedAccrual[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  await installFaultTrigger(db.url);
  server = await spawnServer({ DATABASE_URL: db.url, PATRON_DB_POOL_MAX: '10' });
  shop = await createProgram(server);
  members = [];
  for (let i = 0; i < 6; i++) members.push((await createMember(server, shop.serverKey)).id);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

/** Replays every key planned so far, then checks the books; failures name the seed. */
async function replayAndCheck(): Promise<void> {
  await replayAll(server, shop.serverKey, planned);
  const differences = await ledgerDifferences(db.url, shop.programId, planned);
  const verification = ok(await server.request<any, any>(VERIFY_LEDGER, undefined, shop.adminKey)).verifyLedger;
  expect({ seed, differences, verification }).toEqual({ seed, differences: [], verification: { ok: true, discrepancies: [] } });
}

/** Outcomes other than success, by code. */
function failureCodes(outcomes: Outcome[]): Record<string, number> {
  const codes: Record<string, number> = {};
  for (const o of outcomes) if (!o.ok) codes[String(o.code)] = (codes[String(o.code)] ?? 0) + 1;
  return codes;
}

describe(`fault injection (seed ${seed})`, () => {
  test('serialization failures and deadlocks during a burst: retried or SERVICE_UNAVAILABLE, then exactly once', async () => {
    for (const code of ['40001', '40P01']) {
      // Enough injected failures that some requests run out of attempts, others get through.
      const failures = 10 + Math.floor(random() * 40);
      const plan = planAccruals(random, `conflict-${code}-${seed}`, members, 60);
      planned.push(...plan);
      await armFault(db.url, { code, failures });
      const outcomes = await burst(server, shop.serverKey, plan, 12);
      await armFault(db.url, { code: null });
      expect({ seed, code, failures, unexpected: Object.keys(failureCodes(outcomes)).filter((c) => c !== 'SERVICE_UNAVAILABLE') }).toEqual({ seed, code, failures, unexpected: [] });
      await replayAndCheck();
    }
  }, 60_000);

  test('database connections terminated under load: SERVICE_UNAVAILABLE, the process lives, then exactly once', async () => {
    const plan = planAccruals(random, `cut-${seed}`, members, 120);
    planned.push(...plan);
    const intervalMs = 5 + Math.floor(random() * 30);
    let stop = false;
    const cutter = (async () => {
      while (!stop) {
        await terminateBackends(db.url);
        await sleep(intervalMs);
      }
    })();
    const outcomes = await burst(server, shop.serverKey, plan, 16).finally(async () => {
      stop = true;
      await cutter;
    });
    expect({ seed, intervalMs, alive: server.alive(), unexpected: Object.keys(failureCodes(outcomes)).filter((c) => c !== 'SERVICE_UNAVAILABLE') }).toEqual({
      seed, intervalMs, alive: true, unexpected: [],
    });
    await replayAndCheck();
  }, 60_000);

  test('connections the database dropped under the ORM: the server logs it as JSON lines, never plain text', async () => {
    const isJson = (line: string) => {
      try {
        return typeof JSON.parse(line) === 'object';
      } catch {
        return false;
      }
    };
    const from = server.output.length;
    // The ORM's pool (programs, keys, rules) finds its connections dead on their next use.
    for (let round = 0; round < 3; round++) {
      await terminateBackends(db.url);
      for (let i = 0; i < 3; i++) await server.request('{ rulesConnection(first: 1) { nodes { id } } }', undefined, shop.adminKey);
    }
    const lines = server.output.slice(from).filter((line) => line.trim() !== '');
    expect(lines.filter((line) => !isJson(line))).toEqual([]);
    // knex's own warning about the dropped connection is among them, as the ORM module's line.
    expect(lines.map((line) => JSON.parse(line)).filter((l) => l.module === 'orm' && /Connection Error/.test(l.msg))).not.toEqual([]);
  }, 60_000);

  test('the server killed with SIGKILL mid-burst and restarted on the same database: exactly once', async () => {
    const plan = planAccruals(random, `kill-${seed}`, members, 200);
    planned.push(...plan);
    const killAfter = 20 + Math.floor(random() * 120);
    let answered = 0;
    const killing = {
      request: <T, V>(doc: any, variables?: V, key?: string | null) =>
        server.request<T, V>(doc, variables, key).finally(() => ++answered === killAfter && server.child.kill('SIGKILL')),
    };
    const outcomes = await burst(killing, shop.serverKey, plan, 16);
    expect({ seed, killAfter, exit: await server.exited, cutShort: outcomes.some((o) => !o.ok) }).toEqual({
      seed, killAfter, exit: { code: null, signal: 'SIGKILL' }, cutShort: true,
    });

    server = await spawnServer({ DATABASE_URL: db.url, PATRON_DB_POOL_MAX: '10' });
    await replayAndCheck();
  }, 90_000);
});
