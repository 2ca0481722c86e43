import { armFault, installFaultTrigger } from '../support/fault-trigger';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/**
 * A program's currency is fixed once it has an order, also against an order being placed while
 * the currency changes: the order read the program's currency before it wrote anything that
 * locks the program's row.
 */
let h: RulesHarness;

beforeAll(async () => {
  h = await rulesHarness();
  await installFaultTrigger(h.db.url);
});
afterAll(() => h.close());

const outcome = (p: Promise<unknown>) => p.then(() => 'done', (e: { code?: string }) => String(e.code));

it('a change asked while an order is being placed waits for it, and is refused', async () => {
  const { program } = await h.services.programs.createProgram(h.admin, { name: 'racing shop' });
  const server = { ...h.server, programId: program.id };
  const { member } = await h.services.members.upsert(server, { externalId: 'racer' });
  await h.services.ledger.accrue(server, { member: { id: member.id }, points: 100, delayDays: 0, idempotencyKey: 'racer-points' });

  // The order's hold (a ledger entry, written after the program was read) sleeps before it is written.
  await armFault(h.db.url, { sleepMs: 1500 });
  const placing = outcome(h.services.orders.placeOrder(server, {
    orderId: 'race-1', member: { id: member.id }, points: 10, idempotencyKey: 'race-1',
    lines: [{ sku: 'A', unitPriceMinor: 10_000, quantity: 1 }],
  }));
  await new Promise((resolve) => setTimeout(resolve, 400));
  const changing = outcome(h.services.programs.updateProgramSettings(server, { currency: 'USD' }));
  expect(await Promise.all([placing, changing])).toEqual(['done', 'INVALID_STATE']);
  await armFault(h.db.url, {});

  expect((await h.services.programs.getProgram(server)).currency).toBe('RUB');
  expect((await h.services.orders.getOrder(server, 'race-1'))!.currency).toBe('RUB');
});
