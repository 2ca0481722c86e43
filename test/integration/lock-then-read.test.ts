import { Database } from '../../src/db/database';
import { statement } from '../../src/db/statement';
import { AccountBook } from '../../src/services/ledger';
import { Books, lockOrder } from '../../src/services/orders/order-books';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';
import { startTcpProxy } from '../support/tcp-proxy';

/**
 * Order actions send an order's read right behind its member's account lock, in one round
 * trip, and rely on the lock going out first: AccountBook.open and openFound (and Books, and
 * lockOrder with them) must send the lock before they first await. A statement sent after the call therefore
 * runs holding the lock. (A row lock gives the transaction an id: that is what the probe reads.)
 */
let h: RulesHarness;

beforeAll(async () => {
  h = await rulesHarness(new Date('2026-04-01T09:00:00Z'));
});
afterAll(() => h.close());

const HOLDS_A_LOCK = `exists (select 1 from pg_locks where locktype = 'transactionid' and pid = pg_backend_pid())`;
/** lockOrder's `read`, probing instead of reading: does the transaction hold a lock when it runs? */
const lockProbe = statement<[programId: string, orderId: string], { locked: boolean; order_id: string }>(
  'lock_then_read_test.probe',
  `select ${HOLDS_A_LOCK} as locked, o.order_id from shop_order o where o.program_id = ? and o.order_id = ?`,
);

test.each([
  ['its id', (m: { id: string; externalId: string }) => ({ id: m.id })],
  ['its external id', (m: { id: string; externalId: string }) => ({ externalId: m.externalId })],
])('a statement sent right after AccountBook.open (member by %s) runs under the account lock', async (_by, ref) => {
  const externalId = `lock-then-read-${Math.random()}`;
  const memberId = await h.member(externalId);
  const seen = await h.database.transaction(async (tx) => {
    const [before] = await tx.execute<{ locked: boolean }>(`select ${HOLDS_A_LOCK} as locked`);
    const opened = AccountBook.open(tx, h.programId, ref({ id: memberId, externalId }), h.clock.now());
    const [behind] = await tx.execute<{ locked: boolean }>(`select ${HOLDS_A_LOCK} as locked`);
    const book = await opened;
    return { before: before.locked, behind: behind.locked, member: book.state.memberId };
  });
  expect(seen).toEqual({ before: false, behind: true, member: memberId });
});

test("lockOrder reads the order under its member's account lock, and an unknown order is NOT_FOUND", async () => {
  const memberId = await h.member(`lock-order-${Math.random()}`);
  const orderId = `lock-order-${Math.random()}`;
  await h.services.orders.placeOrder(h.server, {
    orderId, member: { id: memberId }, lines: [{ sku: 'BALL', unitPriceMinor: 10_000, quantity: 1 }], idempotencyKey: `place-${orderId}`,
  });
  const read = await h.database.transaction(async (tx) => {
    const { row, book } = await lockOrder(tx, new Books(tx, h.programId, h.clock.now()), h.programId, orderId, lockProbe);
    return { locked: row.locked, orderId: row.order_id, member: book.state.memberId };
  });
  expect(read).toEqual({ locked: true, orderId, member: memberId });
  const unknown = await h.database
    .transaction((tx) => lockOrder(tx, new Books(tx, h.programId, h.clock.now()), h.programId, 'no-such-order', lockProbe))
    .catch((error: { code?: string; message?: string; details?: unknown }) => ({ code: error.code, message: error.message, details: error.details }));
  expect(unknown).toEqual({ code: 'NOT_FOUND', message: 'Order not found', details: { orderId: 'no-such-order' } });
});

test("lockOrder finds the order's member inside the lock statement: BEGIN, the lock and the read are one round trip", async () => {
  const memberId = await h.member(`lock-order-trips-${Math.random()}`);
  const orderId = `lock-order-trips-${Math.random()}`;
  await h.services.orders.placeOrder(h.server, {
    orderId, member: { id: memberId }, lines: [{ sku: 'BALL', unitPriceMinor: 10_000, quantity: 1 }], idempotencyKey: `place-${orderId}`,
  });
  const counter = await startTcpProxy(h.db.url);
  const counted = new Database(counter.url, 1);
  const lockAndRead = () =>
    counted.transaction(async (tx) => {
      const { row, book } = await lockOrder(tx, new Books(tx, h.programId, h.clock.now()), h.programId, orderId, lockProbe);
      return { locked: row.locked, member: book.state.memberId };
    });
  try {
    await lockAndRead(); // connected, statements prepared
    counter.resetRoundTrips();
    const read = await lockAndRead();
    // The second round trip is COMMIT's.
    expect({ ...read, roundTrips: counter.roundTrips() }).toEqual({ locked: true, member: memberId, roundTrips: 2 });
  } finally {
    await counted.close();
    await counter.close();
  }
});
