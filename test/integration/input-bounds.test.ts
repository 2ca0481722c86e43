import { RuleStatus } from '../../src/entities/rule';
import { MAX_ACCOUNT_POINTS } from '../../src/entities/account';
import { MemberField } from '../../src/services/members';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/**
 * The input bounds hold below GraphQL too: a seed script, an import or a job calling the
 * services gets the same BAD_USER_INPUT, and nothing is written.
 */
let h: RulesHarness;
let seq = 0;
const key = () => `service-bounds-${++seq}`;

beforeAll(async () => {
  h = await rulesHarness();
});
afterAll(() => h.close());

const entriesOf = (memberId: string) =>
  h.count('select count(*) from ledger_entry e join account a on a.id = e.account_id where a.member_id = ?', [memberId]);

describe('services refuse what the edge refuses', () => {
  it('a field upsertMember cannot clear; an empty text beside clear is no value', async () => {
    const { member } = await h.services.members.upsert(h.server, { externalId: 'clears', email: 'clears@example.com', name: 'Clara' });
    for (const clear of [['tags'], ['email}', 'name'], ['EMAIL']]) {
      await expect(h.services.members.upsert(h.server, { externalId: 'clears', clear: clear as MemberField[] }))
        .rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'clear' } });
    }
    expect(await h.services.members.get(h.server, { id: member.id })).toMatchObject({ email: 'clears@example.com', name: 'Clara' });
    const { member: cleared } = await h.services.members.upsert(h.server, { externalId: 'clears', email: '', clear: [MemberField.EMAIL] });
    expect(cleared).toMatchObject({ email: null, name: 'Clara' });
  });

  it('a blank idempotency key', async () => {
    const memberId = await h.member('blank-key');
    for (const idempotencyKey of ['', ' ', ' \t\n ']) {
      await expect(h.services.ledger.accrue(h.server, { member: { id: memberId }, points: 5, idempotencyKey }))
        .rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'idempotencyKey' } });
    }
    expect(await entriesOf(memberId)).toBe(0);
  });

  it('a rule award that would take an account past the points bound rolls back whole, and the event can be retried', async () => {
    const memberId = await h.member('at-bound');
    for (let i = 0; i < MAX_ACCOUNT_POINTS / 1_000_000_000; i++) {
      await h.services.ledger.accrue(h.server, { member: { id: memberId }, points: 1_000_000_000, delayDays: 0, idempotencyKey: key() });
    }
    await h.rule('Review', { trigger: 'product_review', actions: [{ code: 'fixedPoints', args: { points: 10 } }] });
    const entries = await entriesOf(memberId);
    const events = await h.count('select count(*) from event');
    const track = { type: 'product_review', member: { id: memberId }, payload: { sku: 'A' }, idempotencyKey: key() };
    for (let attempt = 0; attempt < 2; attempt++) {
      await expect(h.services.events.trackEvent(h.server, track))
        .rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'points' }, message: expect.stringContaining(`${MAX_ACCOUNT_POINTS} points`) });
    }
    expect(await entriesOf(memberId)).toBe(entries);
    expect(await h.count('select count(*) from event')).toBe(events);
    expect(await h.balance(memberId)).toEqual({ available: MAX_ACCOUNT_POINTS, pending: 0 });
  });

  it('a currency ISO 4217 does not know, on create and on change', async () => {
    await expect(h.services.programs.createProgram(h.admin, { name: 'Shop', currency: 'ZZZ' }))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'currency' } });
    await expect(h.services.programs.updateProgramSettings(h.admin, { currency: 'ABC' }))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'currency' } });
    expect((await h.services.programs.getProgram(h.admin)).currency).toBe('RUB');
  });

  it('a deep condition saved as draft and activated later is refused when saved', async () => {
    let condition: unknown = { condition: 'dayOfWeek', args: { days: ['mon'] } };
    for (let i = 0; i < 3000; i++) condition = { not: condition };
    await expect(h.services.rules.createRule(h.admin, { name: 'Deep draft', status: RuleStatus.DRAFT, definition: { trigger: 'product_review', condition, actions: [{ code: 'fixedPoints', args: { points: 1 } }] } }))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'definition' } });
  });
});
