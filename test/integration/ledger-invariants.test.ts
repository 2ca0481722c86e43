import { DAY_MS } from '../../src/services/shared';
import { LedgerAudit } from '../../src/services/ledger';
import { LedgerJobs } from '../../src/services/ledger';
import { serviceHarness, type ServiceHarness } from '../support/services';

let h: ServiceHarness;
let seq = 0;
const key = () => `inv-${++seq}`;

beforeAll(async () => {
  h = await serviceHarness();
});
afterAll(() => h.close());

async function newMember(externalId: string) {
  return (await h.members.upsert(h.admin, { externalId })).member.id;
}

async function expectBooksBalance() {
  const verification = await new LedgerAudit(h.database).verifyLedger({ programId: h.programId });
  expect(verification.discrepancies).toEqual([]);
  expect(verification.ok).toBe(true);
}

describe('the database guards the books itself', () => {
  let entryId: number;
  let accountId: string;

  beforeAll(async () => {
    const memberId = await newMember('guarded');
    await h.ledger.accrue(h.server, { member: { id: memberId }, points: 100, idempotencyKey: key() });
    const spent = await h.ledger.redeem(h.server, { member: { id: memberId }, points: 40, idempotencyKey: key() });
    entryId = spent.entry.id;
    accountId = spent.entry.accountId;
  });

  test.each([
    ['update ledger_entry', 'update ledger_entry set amount = amount where id = $1'],
    ['delete ledger_entry', 'delete from ledger_entry where id = $1'],
    ['update lot_allocation', 'update lot_allocation set amount = amount where entry_id = $1'],
    ['delete lot_allocation', 'delete from lot_allocation where entry_id = $1'],
  ])('%s is refused', async (_name, sql) => {
    await expect(h.orm.em.fork().execute(sql.replace('$1', '?'), [entryId])).rejects.toThrow(/append-only/);
    const [{ n }] = await h.orm.em.fork().execute(
      'select (select count(*) from ledger_entry where id = ?) + (select count(*) from lot_allocation where entry_id = ?) as n',
      [entryId, entryId],
    );
    expect(Number(n)).toBeGreaterThanOrEqual(2);
  });

  test('truncate ledger_entry is refused', async () => {
    await expect(h.orm.em.fork().execute('truncate ledger_entry cascade')).rejects.toThrow(/append-only/);
  });

  test.each(['available', 'pending', 'reserved'])('a negative %s balance is refused', async (column) => {
    await expect(
      h.orm.em.fork().execute(`update account set ${column} = -1 where id = ?`, [accountId]),
    ).rejects.toThrow(/check constraint/);
  });

  test('a lot cannot hold more than its amount or less than nothing', async () => {
    await expect(h.orm.em.fork().execute('update lot set remaining = -1 where account_id = ?', [accountId])).rejects.toThrow(
      /lot_remaining_within_amount/,
    );
    await expect(
      h.orm.em.fork().execute('update lot set remaining = amount + 1 where account_id = ?', [accountId]),
    ).rejects.toThrow(/lot_remaining_within_amount/);
  });

  test('an entry whose amount is not the sum of its deltas is refused', async () => {
    await expect(
      h.orm.em.fork().execute(
        `insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
           available_after, pending_after, reserved_after, cause_type, created_at)
         values (?, ?, 'adjustment', 5, 4, 0, 0, 64, 0, 0, 'admin', now())`,
        [h.programId, accountId],
      ),
    ).rejects.toThrow(/ledger_entry_amount_is_sum_of_deltas/);
    await expectBooksBalance();
  });
});

test('200 concurrent redemptions of 10 on a balance of 1 000: exactly 100 succeed', async () => {
  const memberId = await newMember('contended');
  await h.ledger.accrue(h.server, { member: { id: memberId }, points: 600, lifetimeDays: 30, idempotencyKey: key() });
  await h.ledger.accrue(h.server, { member: { id: memberId }, points: 400, idempotencyKey: key() });

  const outcomes = await Promise.allSettled(
    Array.from({ length: 200 }, (_, i) =>
      h.ledger.redeem(h.server, { member: { id: memberId }, points: 10, idempotencyKey: `contended-${i}` }),
    ),
  );
  const succeeded = outcomes.filter((o) => o.status === 'fulfilled');
  const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  expect(succeeded).toHaveLength(100);
  expect(failed).toHaveLength(100);
  for (const f of failed) expect(f.reason).toMatchObject({ code: 'INSUFFICIENT_POINTS' });

  // Every success saw a distinct balance: no two spent the same points.
  const after = succeeded.map((o) => (o as PromiseFulfilledResult<any>).value.account.available).sort((a, b) => a - b);
  expect(after).toEqual(Array.from({ length: 100 }, (_, i) => i * 10));
  const [account] = await h.orm.em.fork().execute('select available, reserved, pending, lifetime_redeemed from account where member_id = ?', [memberId]);
  expect(account).toMatchObject({ available: 0, reserved: 0, pending: 0, lifetime_redeemed: 1000 });
  const [{ redemptions }] = await h.orm.em.fork().execute(
    `select count(*)::int as redemptions from ledger_entry e join account a on a.id = e.account_id
     where a.member_id = ? and e.kind = 'redemption'`,
    [memberId],
  );
  expect(redemptions).toBe(100);
  await expectBooksBalance();
});

test('50 parallel accruals with one idempotency key write one entry, all return the same result', async () => {
  const memberId = await newMember('replayed');
  const input = { member: { id: memberId }, points: 25, reason: 'welcome', idempotencyKey: 'one-key-for-all' };
  const results = await Promise.all(Array.from({ length: 50 }, () => h.ledger.accrue(h.server, input)));
  const first = JSON.stringify(results[0]);
  for (const r of results) expect(JSON.stringify(r)).toBe(first);
  const [{ entries }] = await h.orm.em.fork().execute(
    `select count(*)::int as entries from ledger_entry e join account a on a.id = e.account_id where a.member_id = ?`,
    [memberId],
  );
  expect(entries).toBe(1);
  const [account] = await h.orm.em.fork().execute('select available from account where member_id = ?', [memberId]);
  expect(account.available).toBe(25);
  await expectBooksBalance();
});

test('jobs and storefront writes on the same accounts at once keep the books balanced', async () => {
  const members = await Promise.all(Array.from({ length: 6 }, (_, i) => newMember(`busy-${i}`)));
  for (const id of members) {
    await h.ledger.accrue(h.server, { member: { id }, points: 100, lifetimeDays: 1, idempotencyKey: key() });
    await h.ledger.accrue(h.server, { member: { id }, points: 100, delayDays: 1, lifetimeDays: 30, idempotencyKey: key() });
    await h.ledger.accrue(h.server, { member: { id }, points: 100, lifetimeDays: 30, idempotencyKey: key() });
  }
  h.clock.advance(2 * DAY_MS);
  const jobs = new LedgerJobs(h.database, h.ledger, { batchSize: 2 });
  const asOf = h.clock.now();
  const writes = members.flatMap((id) =>
    Array.from({ length: 5 }, () => h.ledger.redeem(h.server, { member: { id }, points: 30, idempotencyKey: key() })),
  );
  const outcomes = await Promise.allSettled([jobs.expireLots(asOf), jobs.activatePendingLots(asOf), ...writes]);
  const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  // 200 spendable per member: 6 of 30 fit, so all 5 succeed; nothing else may fail.
  expect(rejected.map((r) => r.reason)).toEqual([]);
  for (const id of members) {
    const [account] = await h.orm.em.fork().execute('select available, pending, lifetime_expired from account where member_id = ?', [id]);
    expect(account).toMatchObject({ available: 50, pending: 0, lifetime_expired: 100 });
  }
  await expectBooksBalance();
});
