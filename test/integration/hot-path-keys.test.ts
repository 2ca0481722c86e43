import { Client } from 'pg';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/**
 * Accruals, redemptions, paid orders and tracked events lock no row that all of them share. A
 * foreign-key check locks the row it finds (FOR KEY SHARE): checking the program's row, or a
 * rule's version, made every concurrent write lock the same row. Here another connection holds
 * those rows FOR UPDATE, which a key-share lock waits for: the writes must finish without ever
 * waiting on it.
 */
let h: RulesHarness;
let locker: Client;

beforeAll(async () => {
  h = await rulesHarness(new Date('2026-04-01T09:00:00Z'));
  locker = new Client({ connectionString: h.db.url });
  await locker.connect();
});
afterAll(async () => {
  await locker.end();
  await h.close();
});

/**
 * Runs `write` while `locker` holds its locks: 'done' once it finished, 'waited' as soon as a
 * backend waits for the locker (then the locker lets go, so the write can end).
 */
async function whileHeld(write: () => Promise<unknown>): Promise<'done' | 'waited'> {
  const watcher = new Client({ connectionString: h.db.url });
  await watcher.connect();
  let finished = false;
  const running = write().finally(() => (finished = true));
  try {
    const lockerPid = (await locker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    for (;;) {
      if (finished) return 'done';
      const { rows } = await watcher.query<{ waiting: boolean }>(
        'select exists (select 1 from pg_stat_activity where $1 = any(pg_blocking_pids(pid))) as waiting',
        [lockerPid],
      );
      if (rows[0]!.waiting) return 'waited';
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await locker.query('rollback');
    await running.catch(() => undefined);
    await watcher.end();
  }
}

test("paying an order that earns by rules, and accruing, never wait for the program's row or the rules' versions", async () => {
  const memberId = await h.member(`hot-keys-${Math.random()}`);
  const rules = await Promise.all([
    h.rule('hot keys: 5 %', { trigger: 'order_paid', actions: [{ code: 'percentOfAmount', args: { percent: 5 } }] }),
    h.rule('hot keys: 10 points', { trigger: 'order_paid', actions: [{ code: 'fixedPoints', args: { points: 10 } }] }),
  ]);
  const orderId = `hot-keys-${Math.random()}`;
  await h.services.orders.placeOrder(h.server, {
    orderId, member: { id: memberId }, lines: [{ sku: 'BALL', unitPriceMinor: 10_000, quantity: 2 }], idempotencyKey: `place-${orderId}`,
  });

  const holdSharedRows = async () => {
    await locker.query('begin');
    await locker.query('select 1 from program where id = $1 for update', [h.programId]);
    await locker.query('select 1 from rule_version where id = any($1::uuid[]) for update', [rules.map((r) => r.versionId)]);
  };
  await holdSharedRows();
  const paid = await whileHeld(() => h.services.orders.payOrder(h.server, { orderId, idempotencyKey: `pay-${orderId}` }));
  await holdSharedRows();
  const accrued = await whileHeld(() => h.services.ledger.accrue(h.server, { member: { id: memberId }, points: 3, idempotencyKey: `accrue-${orderId}` }));
  expect({ paid, accrued }).toEqual({ paid: 'done', accrued: 'done' });

  // What the checks guarded still holds: the awards name the versions and the entry they are in.
  const awards = await h.count(
    `select count(*) from rule_award a join rule_version v on v.id = a.rule_version_id join ledger_entry e on e.id = a.entry_id
     join shop_order_award oa on oa.entry_id = e.id join shop_order o on o.id = oa.order_id
     where o.order_id = ? and a.source_member_id = ?`,
    [orderId, memberId],
  );
  expect(awards).toBe(2);
  // 5 % of 200.00 and 10 points for the order, 3 accrued.
  expect(await h.balance(memberId)).toEqual({ available: 10 + 10 + 3, pending: 0 });
});

test("tracking an event that earns by a rule never waits for the program's row or the rule's version", async () => {
  const memberId = await h.member(`hot-keys-event-${Math.random()}`);
  const rule = await h.rule('hot keys: survey', { trigger: 'hot_keys_survey', actions: [{ code: 'fixedPoints', args: { points: 7 } }] });
  await locker.query('begin');
  await locker.query('select 1 from program where id = $1 for update', [h.programId]);
  await locker.query('select 1 from rule_version where id = $1 for update', [rule.versionId]);
  const tracked = await whileHeld(() =>
    h.services.events.trackEvent(h.server, { type: 'hot_keys_survey', member: { id: memberId }, payload: { score: 9 }, idempotencyKey: `event-${memberId}` }),
  );
  expect({ tracked, balance: await h.balance(memberId) }).toEqual({ tracked: 'done', balance: { available: 7, pending: 0 } });
});

test('a rule version cannot be deleted or truncated: ledger entries and awards name it', async () => {
  const rule = await h.rule('hot keys: kept', { trigger: 'order_paid', actions: [{ code: 'fixedPoints', args: { points: 1 } }] });
  const deleted = await locker.query('delete from rule_version where id = $1', [rule.versionId]).catch((error: Error & { code?: string }) => error);
  expect(deleted).toMatchObject({ code: '42501', message: 'rule versions are kept: ledger entries and rule awards name them' });
  const truncated = await locker.query('truncate rule_version cascade').catch((error: Error & { code?: string }) => error);
  expect(truncated).toMatchObject({ code: '42501', message: 'rule versions are kept: ledger entries and rule awards name them' });
  expect(await h.count('select count(*) from rule_version where id = ?', [rule.versionId])).toBe(1);
});
