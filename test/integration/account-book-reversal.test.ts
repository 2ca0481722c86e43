import { CauseType } from '../../src/entities/ledger-entry';
import { AccountBook } from '../../src/services/ledger';
import { LedgerAudit } from '../../src/services/ledger';
import { serviceHarness, type ServiceHarness } from '../support/services';

/** AccountBook's take-backs: whole and partial reversals, and the three ways to meet a shortfall. */

let h: ServiceHarness;
let seq = 0;
const key = () => `abr-${++seq}`;

beforeAll(async () => {
  h = await serviceHarness();
});
afterAll(() => h.close());

async function member() {
  return (await h.members.upsert(h.admin, { externalId: key() })).member.id;
}

async function expectBooksBalance() {
  expect((await new LedgerAudit(h.database).verifyLedger({ programId: h.programId })).discrepancies).toEqual([]);
}

test('reversing a partly spent accrual takes its remainder once and the spent part from other lots', async () => {
  const ref = { id: await member() };
  const a = await h.ledger.accrue(h.server, { member: ref, points: 100, lifetimeDays: 30, idempotencyKey: key() });
  await h.ledger.accrue(h.server, { member: ref, points: 50, lifetimeDays: 3, idempotencyKey: key() });
  await h.ledger.accrue(h.server, { member: ref, points: 100, lifetimeDays: 60, idempotencyKey: key() });
  await h.ledger.redeem(h.server, { member: ref, points: 60, idempotencyKey: key() }); // 50 from the 3-day lot, 10 from a
  const reversal = await h.ledger.reverseEntry(h.admin, { entryId: a.entry.id, idempotencyKey: key() });
  expect(reversal.entry.amount).toBe(-100);
  expect(reversal.account).toMatchObject({ available: 90, debt: 0 });
  await expectBooksBalance();
});

test('a shortfall is refused by default, or owed, or forgiven', async () => {
  const outcomes: Record<string, unknown> = {};
  for (const shortfall of ['refuse', 'debt', 'forgive'] as const) {
    const ref = { id: await member() };
    const earned = await h.ledger.accrue(h.server, { member: ref, points: 100, idempotencyKey: key() });
    await h.ledger.redeem(h.server, { member: ref, points: 70, idempotencyKey: key() });
    outcomes[shortfall] = await h.database.transaction(async (tx) => {
      const book = await AccountBook.open(tx, h.programId, ref, h.clock.now());
      const entry = await book.reverse(earned.entry, { type: CauseType.ADMIN, reason: 'test' }, { shortfall });
      return { amount: entry.amount, debtChange: entry.deltaDebt, available: book.state.available, debt: book.state.debt, reason: entry.reason };
    }).catch((error) => error.code);
  }
  expect(outcomes).toEqual({
    refuse: 'INSUFFICIENT_POINTS',
    debt: { amount: -100, debtChange: 70, available: 0, debt: 70, reason: 'test' },
    forgive: { amount: -30, debtChange: 0, available: 0, debt: 0, reason: 'test (70 already spent points forgiven)' },
  });
  await expectBooksBalance();
});

test('an entry reversed in part cannot then be reversed whole', async () => {
  const ref = { id: await member() };
  const earned = await h.ledger.accrue(h.server, { member: ref, points: 100, idempotencyKey: key() });
  const part = await h.database.transaction(async (tx) => {
    const book = await AccountBook.open(tx, h.programId, ref, h.clock.now());
    return book.reversePart(earned.entry, 40, { type: CauseType.ADMIN, reason: 'part' });
  });
  expect(part).toMatchObject({ amount: -40, partlyReversesEntryId: earned.entry.id, reversesEntryId: null });
  await expect(h.ledger.reverseEntry(h.admin, { entryId: earned.entry.id, idempotencyKey: key() })).rejects.toMatchObject({
    code: 'ALREADY_REVERSED',
    message: expect.stringContaining('Part of this entry'),
  });
  await expectBooksBalance();
});

test('taking back a partly expired accrual takes only what did not expire; the expired part stays earned and expired', async () => {
  const ref = { id: await member() };
  const short = await h.ledger.accrue(h.server, { member: ref, points: 100, lifetimeDays: 1, idempotencyKey: key() });
  await h.ledger.accrue(h.server, { member: ref, points: 50, lifetimeDays: 30, idempotencyKey: key() });
  await h.ledger.redeem(h.server, { member: ref, points: 30, idempotencyKey: key() }); // from the short lot
  h.clock.advance(2 * 86_400_000); // its other 70 expire
  try {
    const reversal = await h.ledger.reverseEntry(h.admin, { entryId: short.entry.id, idempotencyKey: key() });
    expect(reversal.entry.amount).toBe(-30);
    expect(reversal.account).toMatchObject({ available: 20, lifetimeEarned: 120, lifetimeRedeemed: 30, lifetimeExpired: 70 });
    await expectBooksBalance();
  } finally {
    h.clock.advance(-2 * 86_400_000);
  }
});
