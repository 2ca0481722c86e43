import { Client } from 'pg';
import { AccrueDocument } from '../e2e/generated/graphql';
import type { GraphQLResponse } from './server';

/** Tools shared by the suites that break things on purpose: seeded plans, bursts, checks. */

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The run's seed: PATRON_FAULT_SEED replays a run; otherwise a fresh one, printed. */
export function faultSeed(): number {
  const given = process.env.PATRON_FAULT_SEED;
  const seed = given ? Number(given) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed)) throw new Error(`PATRON_FAULT_SEED must be an integer, got ${given}`);
  process.stdout.write(`fault injection seed: ${seed} (replay with PATRON_FAULT_SEED=${seed})\n`);
  return seed;
}

type Requester = { request<T, V>(doc: any, variables?: V, auth?: string | null): Promise<GraphQLResponse<T>> };

/** One accrual the test means to make exactly once. */
export interface PlannedAccrual {
  key: string;
  memberId: string;
  points: number;
}

export function planAccruals(random: () => number, prefix: string, memberIds: string[], count: number): PlannedAccrual[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `${prefix}-${i}`,
    memberId: memberIds[Math.floor(random() * memberIds.length)]!,
    points: 1 + Math.floor(random() * 100),
  }));
}

export type Outcome = { ok: true } | { ok: false; code: unknown; message: string };

/** Sends one planned accrual; a transport failure (the server died) is an outcome too. */
export async function sendAccrual(s: Requester, key: string, a: PlannedAccrual): Promise<Outcome> {
  try {
    const res = await s.request(AccrueDocument, { input: { member: { id: a.memberId }, points: a.points, idempotencyKey: a.key, delayDays: 0 } }, key);
    if (!res.errors?.length && res.data) return { ok: true };
    return { ok: false, code: res.errors?.[0]?.extensions?.code ?? `HTTP ${res.status}`, message: res.errors?.[0]?.message ?? '' };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return { ok: false, code: cause?.code ?? 'TRANSPORT', message: String(error) };
  }
}

/** Runs the accruals `concurrency` at a time; the outcomes in plan order. */
export async function burst(s: Requester, key: string, plan: PlannedAccrual[], concurrency = 16): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(plan.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < plan.length) {
        const i = next++;
        outcomes[i] = await sendAccrual(s, key, plan[i]!);
      }
    }),
  );
  return outcomes;
}

/** Sends every key again until it succeeds (bounded): a retrying client after the fault. */
export async function replayAll(s: Requester, key: string, plan: PlannedAccrual[], attempts = 20): Promise<void> {
  for (const a of plan) {
    let last: Outcome = { ok: false, code: 'never sent', message: '' };
    for (let i = 0; i < attempts && !last.ok; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      last = await sendAccrual(s, key, a);
    }
    if (!last.ok) throw new Error(`replaying ${a.key} never succeeded: ${JSON.stringify(last)}`);
  }
}

export async function withClient<T>(url: string, work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * What the database holds for the plan: for each key, how many entries carry it and their
 * amount; and for each member, whether the account's available balance is the sum planned.
 * Returns the differences, so a failing test names them.
 */
export async function ledgerDifferences(url: string, programId: string, plan: PlannedAccrual[]): Promise<string[]> {
  const { entries, accounts } = await withClient(url, async (c) => ({
    entries: (await c.query('select idempotency_key as key, count(*)::int as n, sum(amount)::int as points from ledger_entry where program_id = $1 and idempotency_key = any($2) group by 1', [programId, plan.map((a) => a.key)])).rows,
    accounts: (await c.query('select member_id, available::int from account where program_id = $1 and member_id is not null', [programId])).rows,
  }));
  const byKey = new Map(entries.map((r) => [r.key as string, r as { n: number; points: number }]));
  const differences: string[] = [];
  const expected = new Map<string, number>();
  for (const a of plan) {
    const got = byKey.get(a.key);
    if (!got || got.n !== 1 || got.points !== a.points) differences.push(`${a.key}: expected one entry of ${a.points}, got ${JSON.stringify(got ?? null)}`);
    expected.set(a.memberId, (expected.get(a.memberId) ?? 0) + a.points);
  }
  for (const row of accounts) {
    const want = expected.get(row.member_id) ?? 0;
    if (row.available !== want) differences.push(`member ${row.member_id}: available ${row.available}, planned ${want}`);
  }
  return differences;
}

/** Terminates every other session on the database (the server's pool, LISTEN, ORM); how many. */
export async function terminateBackends(url: string): Promise<number> {
  return withClient(url, async (c) => {
    const { rows } = await c.query(
      'select count(*) filter (where pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
    );
    return rows[0].n as number;
  });
}

export const VERIFY_LEDGER = 'query { verifyLedger { ok discrepancies { check } } }';
