import { AccountBook } from '../../src/services/ledger';
import { serviceHarness, type ServiceHarness } from '../support/services';

/**
 * lockOrder sends an order's read right behind its member's account lock, in one round trip,
 * and relies on the lock going out first: AccountBook.open must send it before it first awaits.
 * A statement sent after the call therefore runs holding the lock. (A row lock gives the
 * transaction an id: that is what the probe looks for.)
 */
let h: ServiceHarness;

beforeAll(async () => {
  h = await serviceHarness();
});
afterAll(() => h.close());

const holdsALock = `select exists (select 1 from pg_locks where locktype = 'transactionid' and pid = pg_backend_pid()) as locked`;

test.each([
  ['its id', (m: { id: string; externalId: string }) => ({ id: m.id })],
  ['its external id', (m: { id: string; externalId: string }) => ({ externalId: m.externalId })],
])('a statement sent right after AccountBook.open (member by %s) runs under the account lock', async (_by, ref) => {
  const { member } = await h.members.upsert(h.server, { externalId: `lock-then-read-${Math.random()}` });
  const seen = await h.database.transaction(async (tx) => {
    const [before] = await tx.execute<{ locked: boolean }>(holdsALock);
    const opened = AccountBook.open(tx, h.programId, ref({ id: member.id, externalId: member.externalId! }), h.clock.now());
    const [behind] = await tx.execute<{ locked: boolean }>(holdsALock);
    const book = await opened;
    return { before: before.locked, behind: behind.locked, member: book.state.memberId };
  });
  expect(seen).toEqual({ before: false, behind: true, member: member.id });
});
