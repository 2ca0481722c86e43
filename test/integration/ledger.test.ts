import { DAY_MS } from '../../src/services/shared';
import { serviceHarness, type ServiceHarness } from '../support/services';

let h: ServiceHarness;
let seq = 0;
const key = () => `k-${++seq}`;

beforeAll(async () => {
  h = await serviceHarness();
});
afterAll(() => h.close());

async function newMember(externalId: string) {
  const { member } = await h.members.upsert(h.admin, { externalId });
  return member;
}

async function verify() {
  const [{ bad }] = await h.orm.em.fork().execute(`
    select count(*)::int as bad from account a where
      a.available <> coalesce((select sum(delta_available) from ledger_entry e where e.account_id = a.id), 0)
   or a.pending <> coalesce((select sum(delta_pending) from ledger_entry e where e.account_id = a.id), 0)
   or a.reserved <> coalesce((select sum(delta_reserved) from ledger_entry e where e.account_id = a.id), 0)
   or a.available <> coalesce((select sum(remaining) from lot l where l.account_id = a.id and l.activated_at is not null), 0)
   or a.pending <> coalesce((select sum(remaining) from lot l where l.account_id = a.id and l.activated_at is null), 0)`);
  expect(bad).toBe(0);
}

test('accrue, redeem nearest-expiry first, expire on touch', async () => {
  const m = await newMember('ledger-1');
  const ref = { id: m.id };
  await h.ledger.accrue(h.server, { member: ref, points: 100, lifetimeDays: 30, idempotencyKey: key() });
  const soon = await h.ledger.accrue(h.server, { member: ref, points: 50, lifetimeDays: 3, idempotencyKey: key() });
  expect(soon.account.available).toBe(150);
  const spent = await h.ledger.redeem(h.server, { member: ref, points: 60, idempotencyKey: key() });
  expect(spent.account.available).toBe(90);
  const [lot] = await h.orm.em.fork().execute('select remaining from lot where id = ?', [soon.entry.lotId]);
  expect(Number(lot.remaining)).toBe(0);
  h.clock.advance(31 * DAY_MS);
  await expect(h.ledger.redeem(h.server, { member: ref, points: 1, idempotencyKey: key() })).rejects.toMatchObject({
    code: 'INSUFFICIENT_POINTS',
  });
  await verify();
});

test('authorize, partial capture releases the rest, reverse capture', async () => {
  const m = await newMember('ledger-2');
  const ref = { id: m.id };
  await h.ledger.accrue(h.server, { member: ref, points: 1000, idempotencyKey: key() });
  const auth = await h.ledger.authorizeRedemption(h.server, { member: ref, points: 300, idempotencyKey: key() });
  expect(auth.account).toMatchObject({ available: 700, reserved: 300 });
  const cap = await h.ledger.captureRedemption(h.server, { authorizationId: auth.authorization.id, points: 200, idempotencyKey: key() });
  expect(cap.account).toMatchObject({ available: 800, reserved: 0, lifetimeRedeemed: 200 });
  expect(cap.authorization.status).toBe('captured');
  const rev = await h.ledger.reverseEntry(h.admin, { entryId: cap.entry.id, idempotencyKey: key() });
  expect(rev.account.available).toBe(1000);
  await expect(h.ledger.reverseEntry(h.admin, { entryId: cap.entry.id, idempotencyKey: key() })).rejects.toMatchObject({
    code: 'ALREADY_REVERSED',
  });
  await verify();
});

test('idempotency: replay returns the first result, other input conflicts', async () => {
  const m = await newMember('ledger-3');
  const input = { member: { id: m.id }, points: 10, idempotencyKey: 'same-key' };
  const first = await h.ledger.accrue(h.server, input);
  const again = await h.ledger.accrue(h.server, input);
  expect(JSON.stringify(again)).toBe(JSON.stringify(first));
  await expect(h.ledger.accrue(h.server, { ...input, points: 11 })).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
});

test('pending points activate at availableAt', async () => {
  const m = await newMember('ledger-4');
  const r = await h.ledger.accrue(h.server, { member: { id: m.id }, points: 40, delayDays: 14, idempotencyKey: key() });
  expect(r.account).toMatchObject({ available: 0, pending: 40 });
  h.clock.advance(15 * DAY_MS);
  const r2 = await h.ledger.accrue(h.server, { member: { id: m.id }, points: 1, idempotencyKey: key() });
  expect(r2.account).toMatchObject({ available: 41, pending: 0 });
  await verify();
});

test('a member id that is not a uuid is simply not found, never a database error', async () => {
  await expect(h.ledger.accrue(h.server, { member: { id: 'not-a-uuid' }, points: 1, idempotencyKey: key() })).rejects.toMatchObject({
    code: 'NOT_FOUND',
  });
  expect(await h.members.find(h.admin, { id: 'not-a-uuid' })).toBeNull();
});
