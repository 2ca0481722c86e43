import type { Database } from '../../src/db/database';
import type { Statement } from '../../src/db/statement';
import { LedgerQueries } from '../../src/services/ledger';
import type { MemberRef, RequestContext } from '../../src/services/shared';
import { testContext } from '../support/context';
import { rulesHarness, type RulesHarness } from '../support/rules-harness';

/**
 * Balance reads that arrive in the same turn of the event loop share one statement per program
 * and kind of reference; each caller still gets its own member's balances, or NOT_FOUND.
 */
let h: RulesHarness;
let ran: string[];
let queries: LedgerQueries;

beforeAll(async () => {
  h = await rulesHarness();
  // The real pool, counting the statements it is asked to run.
  const counting = Object.create(h.database) as Database;
  counting.run = <P extends readonly unknown[], R>(statement: Statement<P, R>, params: P) => {
    ran.push(statement.name);
    return h.database.run(statement, params);
  };
  queries = new LedgerQueries(counting, h.clock);
});
afterAll(() => h.close());
beforeEach(() => {
  ran = [];
});

const outcome = (p: Promise<{ memberId: string; available: number }>) =>
  p.then((a) => `${a.memberId}:${a.available}`, (e: { code?: string }) => String(e.code));

async function memberWith(server: RequestContext, externalId: string, points: number, contact: { email?: string; phone?: string } = {}) {
  const { member } = await h.services.members.upsert(server, { externalId, ...contact });
  if (points > 0) await h.services.ledger.accrue(server, { member: { id: member.id }, points, idempotencyKey: `accrue-${externalId}` });
  return member.id;
}

it('reads asked at once share a statement per program and reference kind, and each gets its own answer', async () => {
  const { program } = await h.services.programs.createProgram(h.admin, { name: 'second shop' });
  const other = testContext(program.id, 'server');
  const ids = [];
  for (let i = 0; i < 6; i++) ids.push(await memberWith(h.server, `reader-${i}`, 10 + i, { email: `reader-${i}@example.com`, phone: `+7912000030${i}` }));
  // The same external id in the other program: a read of one program never answers with the other's.
  const elsewhere = await memberWith(other, 'reader-0', 999);

  ran = [];
  const reads: Array<[RequestContext, MemberRef, string]> = [
    ...ids.map((id, i): [RequestContext, MemberRef, string] => [h.server, { id }, `${id}:${10 + i}`]),
    ...ids.map((id, i): [RequestContext, MemberRef, string] => [h.server, { externalId: `reader-${i}` }, `${id}:${10 + i}`]),
    [h.server, { email: 'READER-2@example.com' }, `${ids[2]}:12`],
    [h.server, { phone: '8 912 000-03-03' }, `${ids[3]}:13`],
    [other, { externalId: 'reader-0' }, `${elsewhere}:999`],
    [other, { id: ids[1] }, 'NOT_FOUND'],
    [h.server, { externalId: 'nobody' }, 'NOT_FOUND'],
    [h.server, { id: '00000000-0000-4000-8000-000000000000' }, 'NOT_FOUND'],
  ];
  const answers = await Promise.all(reads.map(([ctx, ref]) => outcome(queries.account(ctx, ref))));
  expect(answers).toEqual(reads.map(([, , expected]) => expected));
  // One statement per (program, kind): the first program's ids and external ids (several each,
  // `= any`), its e-mail and phone, the second program's external id and id (one each, `=`).
  const reads_ = ran.filter((name) => name.startsWith('ledger.account'));
  expect(reads_.sort()).toEqual([
    'ledger.account_by_email',
    'ledger.account_by_external_id',
    'ledger.account_by_member_id',
    'ledger.account_by_phone',
    'ledger.accounts_by_external_id',
    'ledger.accounts_by_member_id',
  ]);
});

it('a read alone is answered as before, and sees what was written before it was asked', async () => {
  const id = await memberWith(h.server, 'alone', 5);
  await expect(outcome(queries.account(h.server, { id }))).resolves.toBe(`${id}:5`);
  await h.services.ledger.accrue(h.server, { member: { id }, points: 7, idempotencyKey: 'alone-more' });
  await expect(outcome(queries.account(h.server, { id }))).resolves.toBe(`${id}:12`);
  await expect(outcome(queries.account(h.server, { externalId: 'alone' }))).resolves.toBe(`${id}:12`);
  expect(ran.filter((name) => name.startsWith('ledger.account'))).toEqual([
    'ledger.account_by_member_id', 'ledger.account_by_member_id', 'ledger.account_by_external_id',
  ]);
});

it('the same member asked twice at once gets one answer each; a reference no member can have fails no other read', async () => {
  const id = await memberWith(h.server, 'twice', 6);
  const answers = await Promise.all([
    outcome(queries.account(h.server, { externalId: 'twice' })),
    outcome(queries.account(h.server, { externalId: 'twi\u0000ce' })),
    outcome(queries.account(h.server, { externalId: 'twice' })),
  ]);
  expect(answers).toEqual([`${id}:6`, 'NOT_FOUND', `${id}:6`]);
  expect(ran.filter((name) => name.startsWith('ledger.account'))).toEqual(['ledger.accounts_by_external_id']);
});

it('an id in upper case names the same member, alone or beside other reads', async () => {
  const id = await memberWith(h.server, 'shouting', 3);
  const other = await memberWith(h.server, 'quiet', 4);
  await expect(outcome(queries.account(h.server, { id: id.toUpperCase() }))).resolves.toBe(`${id}:3`);
  const together = await Promise.all([queries.account(h.server, { id: id.toUpperCase() }), queries.account(h.server, { id }), queries.account(h.server, { id: other })]);
  expect(together.map((a) => `${a.memberId}:${a.available}`)).toEqual([`${id}:3`, `${id}:3`, `${other}:4`]);
});

it('points past expiry are left out of a shared read too', async () => {
  const id = await memberWith(h.server, 'expiring', 0);
  const neighbour = await memberWith(h.server, 'neighbour', 1);
  await h.services.ledger.accrue(h.server, { member: { id }, points: 40, idempotencyKey: 'expiring-1', expiresAt: new Date(h.clock.now().getTime() + 60_000) });
  await h.services.ledger.accrue(h.server, { member: { id }, points: 2, idempotencyKey: 'expiring-2' });
  h.clock.advance(120_000);
  ran = [];
  const [alone] = await Promise.all([queries.account(h.server, { externalId: 'expiring' })]);
  const [byId, byNeighbour] = await Promise.all([queries.account(h.server, { id }), queries.account(h.server, { id: neighbour })]);
  expect([alone.available, alone.lifetimeExpired, byId.available, byId.lifetimeExpired, byNeighbour.available]).toEqual([2, 40, 2, 40, 1]);
  expect(ran.filter((name) => name.startsWith('ledger.account'))).toEqual(['ledger.account_by_external_id', 'ledger.accounts_by_member_id']);
});
