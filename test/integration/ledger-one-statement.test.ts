/**
 * The one-statement writes (accrue, redeem, adjust through the `ledger_write` function) against
 * the general path (AccountBook in a transaction): the same random sequence of operations runs on
 * two databases, one with each path, and everything they wrote must be the same — entries, lots,
 * allocations, balances, outbox events and the stored responses byte for byte — as must what each
 * call answered. Unusual cases (pending lots coming due, expiry, holds, a frozen member, not enough
 * points, replays, conflicts) are in the mix, so the hand-over to the general path is exercised.
 *
 * Replay a failure with the seed and path fast-check prints: FC_SEED=… FC_PATH=… npx jest <this file>.
 */
import fc from 'fast-check';
import type { PoolClient } from 'pg';
import { Database } from '../../src/db/database';
import { MemberStatus } from '../../src/entities/member';
import { PatronError } from '../../src/errors';
import { LedgerAudit, LedgerService } from '../../src/services/ledger';
import { storeAnswer, takeTurn } from '../../src/services/shared/idempotency-store';
import { DAY_MS, DomainHooks, type RequestContext } from '../../src/services/shared';
import { testContext } from '../support/context';
import { serviceHarness, type ServiceHarness } from '../support/services';

type Ref = { externalId: string } | { email: string };
type Op =
  | { type: 'accrue'; member: number; points: number; delayDays?: number; lifetimeDays?: number; expiresInDays?: number }
  | { type: 'redeem'; member: number; points: number }
  | { type: 'adjust'; member: number; points: number; lifetimeDays?: number }
  | { type: 'authorize'; member: number; points: number }
  | { type: 'freeze'; member: number; frozen: boolean }
  | { type: 'wait'; hours: number }
  | { type: 'replay'; of: number }
  | { type: 'conflict'; of: number };

const MEMBERS = 3;
const member = fc.integer({ min: 0, max: MEMBERS - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record(
      {
        type: fc.constant('accrue' as const),
        member,
        points: fc.integer({ min: 1, max: 300 }),
        delayDays: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 2 })),
        lifetimeDays: fc.integer({ min: 1, max: 5 }),
        expiresInDays: fc.integer({ min: -1, max: 4 }),
      },
      { requiredKeys: ['type', 'member', 'points'] },
    ).map((op) => (op.expiresInDays != null ? { ...op, delayDays: undefined, lifetimeDays: undefined } : op)),
  },
  { weight: 5, arbitrary: fc.record({ type: fc.constant('redeem' as const), member, points: fc.integer({ min: 1, max: 200 }) }) },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        type: fc.constant('adjust' as const),
        member,
        points: fc.integer({ min: -150, max: 200 }).filter((p) => p !== 0),
        lifetimeDays: fc.integer({ min: 1, max: 5 }),
      },
      { requiredKeys: ['type', 'member', 'points'] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('authorize' as const), member, points: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('freeze' as const), member, frozen: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('wait' as const), hours: fc.integer({ min: 1, max: 60 }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('replay' as const), of: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('conflict' as const), of: fc.nat() }) },
);

/** Renames uuids to U1, U2 … in the order first seen, so two databases' rows compare. */
class Uuids {
  private readonly names = new Map<string, string>();
  name(text: string): string {
    return text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (u) => {
      if (!this.names.has(u)) this.names.set(u, `U${this.names.size + 1}`);
      return this.names.get(u)!;
    });
  }
}

interface Side {
  h: ServiceHarness;
  ledger: LedgerService;
  uuids: Uuids;
  programId: string;
  server: RequestContext;
  admin: RequestContext;
  members: string[];
}

let fast: ServiceHarness;
let general: ServiceHarness;
let generalLedger: LedgerService;
const start = new Date('2026-03-01T10:00:00.000Z');

beforeAll(async () => {
  [fast, general] = await Promise.all([serviceHarness(start), serviceHarness(start)]);
  generalLedger = new LedgerService(general.database, general.clock, { oneStatementWrites: false });
});
afterAll(async () => {
  await Promise.all([fast?.close(), general?.close()]);
});

async function newSide(h: ServiceHarness, ledger: LedgerService, run: number): Promise<Side> {
  const { program } = await h.programs.createProgram(h.admin, {
    name: `one-statement-${run}`,
    defaultLifetimeDays: 3,
    pendingDays: 1,
    authorizationTtlSeconds: 3600,
  });
  const uuids = new Uuids();
  uuids.name(program.id);
  const members: string[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    const { member: m } = await h.members.upsert(testContext(program.id, 'server'), { externalId: `m${i}`, email: `m${i}@example.com` });
    uuids.name(m.id);
    members.push(m.id);
  }
  return {
    h, ledger, uuids, programId: program.id, members,
    server: testContext(program.id, 'server', 'shop'),
    admin: testContext(program.id, 'admin', 'back-office'),
  };
}

const refOf = (i: number, step: number): Ref => (step % 2 === 0 ? { externalId: `m${i}` } : { email: `m${i}@example.com` });

/** The input of a write op (its idempotency key from the step it was first made at). */
function inputOf(op: Op, step: number, key: string, now: Date): { kind: 'accrue' | 'redeem' | 'adjust' | 'authorize'; input: any } | null {
  switch (op.type) {
    case 'accrue':
      return {
        kind: 'accrue',
        input: {
          member: refOf(op.member, step), points: op.points, idempotencyKey: key, reason: step % 3 === 0 ? `step "${step}"\n✓` : null,
          delayDays: op.delayDays, lifetimeDays: op.lifetimeDays,
          expiresAt: op.expiresInDays != null ? new Date(now.getTime() + op.expiresInDays * DAY_MS) : undefined,
        },
      };
    case 'redeem':
      return { kind: 'redeem', input: { member: refOf(op.member, step), points: op.points, idempotencyKey: key } };
    case 'adjust':
      return { kind: 'adjust', input: { member: refOf(op.member, step), points: op.points, reason: 'correction', lifetimeDays: op.lifetimeDays, idempotencyKey: key } };
    case 'authorize':
      return { kind: 'authorize', input: { member: refOf(op.member, step), points: op.points, idempotencyKey: key } };
    default:
      return null;
  }
}

async function call(side: Side, kind: 'accrue' | 'redeem' | 'adjust' | 'authorize', input: any): Promise<string> {
  try {
    const ctx = kind === 'adjust' ? side.admin : side.server;
    const result = kind === 'authorize' ? await side.ledger.authorizeRedemption(ctx, input) : await side.ledger[kind](ctx, input);
    return side.uuids.name(JSON.stringify(result));
  } catch (error) {
    if (error instanceof PatronError) return `error ${error.code}`;
    throw error;
  }
}

/** Runs the ops on one side; returns what each answered. */
async function runOps(side: Side, ops: Op[], run: number): Promise<string[]> {
  const answers: string[] = [];
  const made: Array<{ kind: 'accrue' | 'redeem' | 'adjust' | 'authorize'; input: any }> = [];
  for (const [step, op] of ops.entries()) {
    const now = side.h.clock.now();
    if (op.type === 'wait') {
      side.h.clock.advance(op.hours * 3600_000);
      continue;
    }
    if (op.type === 'freeze') {
      await side.h.members.setStatus(side.admin, { id: side.members[op.member] }, op.frozen ? MemberStatus.FROZEN : MemberStatus.ACTIVE);
      continue;
    }
    if (op.type === 'replay' || op.type === 'conflict') {
      const earlier = made[op.of % Math.max(made.length, 1)];
      if (!earlier) continue;
      const input = op.type === 'replay' ? earlier.input : { ...earlier.input, points: earlier.input.points + 1 };
      answers.push(`${step} ${op.type}: ${await call(side, earlier.kind, input)}`);
      continue;
    }
    const write = inputOf(op, step, `run${run}-step${step}`, now)!;
    made.push(write);
    answers.push(`${step} ${write.kind}: ${await call(side, write.kind, write.input)}`);
  }
  return answers;
}

/** Everything the program's writes left in the database, with uuids renamed and no wall-clock times. */
async function dump(side: Side): Promise<Record<string, string>> {
  const q = (sql: string) => side.h.database.execute(sql, [side.programId]).then((rows) => side.uuids.name(JSON.stringify(rows)));
  return {
    accounts: await q(`select m.external_id, a.available, a.pending, a.reserved, a.debt, a.lifetime_earned, a.lifetime_redeemed,
      a.lifetime_expired, a.entry_count, a.updated_at from account a join member m on m.id = a.member_id
      where a.program_id = $1 order by m.external_id`),
    entries: await q(`select e.*, m.external_id from ledger_entry e join account a on a.id = e.account_id join member m on m.id = a.member_id
      where e.program_id = $1 order by e.id`),
    lots: await q('select * from lot where program_id = $1 order by id'),
    allocations: await q(`select la.* from lot_allocation la join ledger_entry e on e.id = la.entry_id where e.program_id = $1
      order by la.entry_id, la.lot_id`),
    outbox: await q(`select o.type, o.topic, m.external_id, o.sequence, o.payload from outbox o join member m on m.id = o.member_id
      where o.program_id = $1 and o.type = 'ledger.entry_posted' order by m.external_id, o.sequence`),
    sequences: await q(`select m.external_id, s.topic, s.last_sequence from outbox_sequence s join member m on m.id = s.member_id
      where m.program_id = $1 order by m.external_id, s.topic`),
    responses: await q(`select key, operation, request_hash, response::text as response from idempotency_record
      where program_id = $1 order by key`),
  };
}

let runs = 0;

test('the one-statement writes leave the same books, events and stored responses as the general path', async () => {
  const transactions = jest.spyOn(fast.database, 'transaction');
  const runAlone = jest.spyOn(fast.database, 'runAlone');
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
      const run = ++runs;
      // Both clocks jump well past anything an earlier run left due.
      fast.clock.advance(30 * DAY_MS);
      general.clock.advance(30 * DAY_MS);
      const a = await newSide(fast, fast.ledger, run);
      const b = await newSide(general, generalLedger, run);
      const answersA = await runOps(a, ops, run);
      const answersB = await runOps(b, ops, run);
      expect(answersA).toEqual(answersB);
      expect(await dump(a)).toEqual(await dump(b));
      for (const side of [a, b]) {
        const verification = await new LedgerAudit(side.h.database).verifyLedger({ programId: side.programId });
        expect(verification.discrepancies).toEqual([]);
      }
    }),
    { numRuns: 25, seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined, path: process.env.FC_PATH },
  );
  const oneStatementWrites = runAlone.mock.calls.length;
  transactions.mockRestore();
  runAlone.mockRestore();
  // The fast side really took the one-statement path for most writes.
  expect(oneStatementWrites).toBeGreaterThan(50);
  expect(transactions.mock.calls.length).toBeLessThan(oneStatementWrites);
}, 240_000);

describe('one statement', () => {
  let side: Side;
  beforeAll(async () => {
    side = await newSide(fast, fast.ledger, 1000);
  });

  test('an accrual, a redemption and an adjustment are one round trip each, with no transaction', async () => {
    const transactions = jest.spyOn(fast.database, 'transaction');
    const queries = jest.spyOn(fast.database.pool, 'query');
    try {
      const ref = { externalId: 'm0' };
      const accrued = await fast.ledger.accrue(side.server, { member: ref, points: 100, delayDays: 0, idempotencyKey: 'rt-accrue' });
      const redeemed = await fast.ledger.redeem(side.server, { member: ref, points: 30, idempotencyKey: 'rt-redeem' });
      const adjusted = await fast.ledger.adjust(side.admin, { member: ref, points: -5, reason: 'fix', idempotencyKey: 'rt-adjust' });
      expect([accrued.account.available, redeemed.account.available, adjusted.account.available]).toEqual([100, 70, 65]);
      expect(transactions).not.toHaveBeenCalled();
      expect(queries).toHaveBeenCalledTimes(3);
    } finally {
      transactions.mockRestore();
      queries.mockRestore();
    }
  });

  test('a response stored by either path replays the same through the other', async () => {
    const ref = { externalId: 'm1' };
    const viaGeneral = new LedgerService(fast.database, fast.clock, { oneStatementWrites: false });
    const first = await fast.ledger.accrue(side.server, { member: ref, points: 50, delayDays: 0, idempotencyKey: 'cross-1' });
    expect(await viaGeneral.accrue(side.server, { member: ref, points: 50, delayDays: 0, idempotencyKey: 'cross-1' })).toEqual(first);
    const second = await viaGeneral.redeem(side.server, { member: ref, points: 20, idempotencyKey: 'cross-2' });
    expect(await fast.ledger.redeem(side.server, { member: ref, points: 20, idempotencyKey: 'cross-2' })).toEqual(second);
    await expect(fast.ledger.redeem(side.server, { member: ref, points: 21, idempotencyKey: 'cross-2' })).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
      details: { key: 'cross-2', firstOperation: 'redeem' },
    });
    await expect(fast.ledger.accrue(side.server, { member: ref, points: 20, idempotencyKey: 'cross-2' })).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
    });
    expect((await fast.ledger.redeem(side.server, { member: ref, points: 1, idempotencyKey: 'cross-3' })).account.available).toBe(29);
  });

  test('one key sent at once: for one member every call answers the first write; across members one writes, the rest conflict', async () => {
    const race = await newSide(fast, fast.ledger, 1001);
    await fast.ledger.accrue(race.server, { member: { externalId: 'm0' }, points: 100, delayDays: 0, idempotencyKey: 'race-fund' });
    const same = await Promise.all(
      Array.from({ length: 12 }, () => fast.ledger.redeem(race.server, { member: { externalId: 'm0' }, points: 7, idempotencyKey: 'race-same' })),
    );
    expect(new Set(same.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(same[0]!.account.available).toBe(93);
    // Different members with one key take turns on the key's lock (no account lock is shared):
    // the first writes, the later ones find its key and conflict.
    for (let round = 0; round < 5; round++) {
      const key = `race-across-${round}`;
      const outcomes = await Promise.allSettled(
        race.members.map((id) => fast.ledger.accrue(race.server, { member: { id }, points: 3, delayDays: 0, idempotencyKey: key })),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
      const { rows } = await fast.database.pool.query(
        'select count(*)::int as n from ledger_entry where program_id = $1 and idempotency_key = $2', [race.programId, key]);
      expect(rows[0].n).toBe(1);
    }
    const { rows: [stored] } = await fast.database.pool.query(
      'select response is not null as answered from idempotency_record where program_id = $1 and key = $2', [race.programId, 'race-same']);
    expect(stored.answered).toBe(true);
    expect((await new LedgerAudit(fast.database).verifyLedger({ programId: race.programId })).discrepancies).toEqual([]);
  });

  describe('a key the general path has claimed and not yet committed', () => {
    let turn: Side;
    let other: PoolClient;
    beforeAll(async () => {
      turn = await newSide(fast, fast.ledger, 1002);
    });
    beforeEach(async () => {
      other = await fast.database.pool.connect();
      await other.query('begin');
    });
    afterEach(async () => {
      await other.query('rollback').catch(() => undefined);
      other.release();
    });

    /** The general path's first statement for a key, in a transaction left open on another connection. */
    const claimElsewhere = (key: string) => other.query(takeTurn.text, [turn.programId, key]);
    /** Its last: the key stored with its answer. */
    const answerElsewhere = (key: string, operation: string) =>
      other.query(storeAnswer.text, [turn.programId, key, operation, 'another-request', '{}']);

    /** Resolves once a `ledger_write` call of this database is waiting for a key's turn. */
    async function writeWaiting(): Promise<void> {
      for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
        const { rows } = await fast.database.pool.query(
          `select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'
             and wait_event = 'advisory' and query like '%ledger_write(%' and pid <> pg_backend_pid()`,
        );
        if (rows.length > 0) return;
      }
      throw new Error("ledger_write never waited for the key's turn");
    }

    test('the one-statement write waits for it, then conflicts when it commits', async () => {
      await claimElsewhere('turn-commit');
      // Its failure is taken as it comes: it may arrive before the commit below is answered.
      const write = fast.ledger
        .accrue(turn.server, { member: { externalId: 'm0' }, points: 5, delayDays: 0, idempotencyKey: 'turn-commit' })
        .then(() => 'written', (error: unknown) => error);
      await writeWaiting();
      // What the general path does next: lock the member's account. The write is waiting for the
      // key's turn, not holding the account, so this does not wait. (When the write held the
      // account and waited for the key, this waited for it: a deadlock, broken after a second.)
      await other.query(`set local lock_timeout = '300ms'`);
      await other.query('select 1 from account where member_id = $1 for update', [turn.members[0]]);
      await answerElsewhere('turn-commit', 'redeem');
      await other.query('commit');
      expect(await write).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', details: { key: 'turn-commit', firstOperation: 'redeem' } });
      const { rows } = await fast.database.pool.query(
        'select count(*)::int as n from ledger_entry where program_id = $1 and idempotency_key = $2', [turn.programId, 'turn-commit']);
      expect(rows[0].n).toBe(0);
    });

    // The key freed, the write goes ahead (this held before the key's lock too; it guards the lock's release).
    test('the one-statement write waits for it, then writes when it rolls back', async () => {
      await claimElsewhere('turn-rollback');
      const write = fast.ledger.accrue(turn.server, { member: { externalId: 'm1' }, points: 5, delayDays: 0, idempotencyKey: 'turn-rollback' });
      await writeWaiting();
      await other.query('rollback');
      expect((await write).account.available).toBe(5);
      const { rows: [record] } = await fast.database.pool.query(
        'select operation, response is not null as answered from idempotency_record where program_id = $1 and key = $2', [turn.programId, 'turn-rollback']);
      expect(record).toEqual({ operation: 'accrue', answered: true });
    });
  });

  test('a hook on posted entries sends the writes through the general path, so it sees each entry', async () => {
    const seen: number[] = [];
    const hooks = new DomainHooks();
    hooks.on('ledger.entry_posted', async (_tx, e) => {
      seen.push(e.payload.entry.id);
    });
    const db = new Database(fast.db.url, 2);
    try {
      db.setDispatcher(hooks.dispatch);
      const withHook = new LedgerService(db, fast.clock);
      withHook.subscribe(hooks);
      const result = await withHook.accrue(side.server, { member: { externalId: 'm2' }, points: 7, delayDays: 0, idempotencyKey: 'hooked' });
      expect(seen).toEqual([result.entry.id]);
    } finally {
      await db.close();
    }
  });
});
