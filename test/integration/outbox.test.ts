import { OutboxRelay, type EventPublisher } from '../../src/services/realtime';
import { serviceHarness, type ServiceHarness } from '../support/services';
import { testContext } from '../support/context';

let h: ServiceHarness;
let seq = 0;
const key = () => `outbox-${++seq}`;

beforeAll(async () => {
  h = await serviceHarness();
});
afterAll(() => h.close());

async function newMember(externalId: string) {
  const { member } = await h.members.upsert(h.server, { externalId });
  return member.id;
}

const outboxRows = async (memberId: string) =>
  h.orm.em.fork().execute(
    `select type, topic, sequence, not exists (select 1 from outbox_unpublished u where u.id = outbox.id) as published, payload->'entry'->>'amount' as amount
     from outbox where member_id = ? and topic = 'BALANCE_CHANGED' order by id`,
    [memberId],
  );

function recorder(): EventPublisher & { seen: Array<{ id: string; payload: any }> } {
  const seen: Array<{ id: string; payload: any }> = [];
  return { seen, publish: (_topic, id, payload) => seen.push({ id, payload }) };
}

test('every entry is written to the outbox with its transaction, numbered per member without gaps', async () => {
  const memberId = await newMember('outbox-1');
  await h.ledger.accrue(h.server, { member: { id: memberId }, points: 100, idempotencyKey: key() });
  await h.ledger.redeem(h.server, { member: { id: memberId }, points: 30, idempotencyKey: key() });
  const rows = await outboxRows(memberId);
  expect(rows.map((r: any) => [r.type, r.topic, Number(r.sequence), Number(r.amount)])).toEqual([
    ['ledger.entry_posted', 'BALANCE_CHANGED', 1, 100],
    ['ledger.entry_posted', 'BALANCE_CHANGED', 2, -30],
  ]);
});

test('a refused write leaves nothing in the outbox', async () => {
  const memberId = await newMember('outbox-2');
  await h.ledger.accrue(h.server, { member: { id: memberId }, points: 10, idempotencyKey: key() });
  await expect(h.ledger.redeem(h.server, { member: { id: memberId }, points: 11, idempotencyKey: key() })).rejects.toMatchObject({
    code: 'INSUFFICIENT_POINTS',
  });
  expect(await outboxRows(memberId)).toHaveLength(1);
});

test('events committed while no relay ran (a process that died after commit) are published by the next relay, once', async () => {
  const memberId = await newMember('outbox-3');
  await h.publishOutbox(); // what earlier tests left
  await h.ledger.accrue(h.server, { member: { id: memberId }, points: 5, idempotencyKey: key() });
  await h.ledger.accrue(h.server, { member: { id: memberId }, points: 6, idempotencyKey: key() });
  expect((await outboxRows(memberId)).every((r: any) => !r.published)).toBe(true);

  // Two relays (two instances starting) drain the same outbox concurrently: each event once.
  const [a, b] = [recorder(), recorder()];
  const relays = [new OutboxRelay(h.database, a, console), new OutboxRelay(h.database, b, console)];
  await Promise.all(relays.map((r) => r.flush()));
  const seen = [...a.seen, ...b.seen].filter((e) => e.id === memberId && e.payload.entry);
  expect(seen.map((e) => [e.payload.sequence, e.payload.entry.amount]).sort()).toEqual([[1, 5], [2, 6]]);
  expect((await outboxRows(memberId)).every((r: any) => r.published)).toBe(true);
  await Promise.all(relays.map((r) => r.flush()));
  expect([...a.seen, ...b.seen].filter((e) => e.id === memberId && e.payload.entry)).toHaveLength(2);
});

test('a retried transaction (deadlock, serialization failure) keeps nothing of the failed attempt', async () => {
  const memberId = await newMember('outbox-4');
  const afterCommit: number[] = [];
  let attempt = 0;
  await h.database.transaction(async (tx) => {
    attempt++;
    tx.afterCommit(() => afterCommit.push(attempt));
    await tx.emit({ type: 'test.attempt', topic: 'TEST', programId: h.programId, memberId, payload: { attempt } });
    if (attempt === 1) throw Object.assign(new Error('simulated serialization failure'), { code: '40001' });
  });
  expect(afterCommit).toEqual([2]);
  const rows = await h.orm.em.fork().execute(`select payload->>'attempt' as attempt, sequence from outbox where member_id = ? and topic = 'TEST'`, [memberId]);
  expect(rows.map((r: any) => [Number(r.attempt), Number(r.sequence)])).toEqual([[2, 1]]);
});

test('balanceChanges reads what a subscriber missed after a sequence number', async () => {
  const memberId = await newMember('outbox-5');
  for (const points of [1, 2, 3, 4]) await h.ledger.accrue(h.server, { member: { id: memberId }, points, idempotencyKey: key() });
  const missed = await h.missedEvents.balanceChanges(testContext(h.programId), memberId, 2);
  expect(missed.map((e) => [e.sequence, e.entry.amount, e.balances.available])).toEqual([
    [3, 3, 6],
    [4, 4, 10],
  ]);
  await expect(h.missedEvents.balanceChanges(testContext(h.programId), memberId, -1)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
});

test('events of one transaction are numbered in emit order, per member and topic', async () => {
  const [a, b] = [await newMember('outbox-6'), await newMember('outbox-7')];
  await h.database.transaction(async (tx) => {
    for (const [memberId, topic, n] of [[a, 'TEST', 1], [b, 'TEST', 1], [a, 'TEST', 2], [a, 'OTHER', 1], [a, 'TEST', 3]] as const) {
      await tx.emit({ type: 'test.numbered', topic, programId: h.programId, memberId, payload: { n } });
    }
    await tx.emit({ type: 'test.unowned', topic: 'TEST', programId: h.programId, memberId: null, payload: {} });
  });
  const rows = await h.orm.em.fork().execute(
    `select member_id, topic, sequence, payload->>'n' as n from outbox where type like 'test.%' and (member_id in (?, ?) or member_id is null) order by id`,
    [a, b],
  );
  expect(rows.map((r: any) => [r.member_id === a ? 'a' : r.member_id === b ? 'b' : null, r.topic, r.sequence == null ? null : Number(r.sequence), r.n == null ? null : Number(r.n)])).toEqual([
    ['a', 'TEST', 1, 1],
    ['b', 'TEST', 1, 1],
    ['a', 'TEST', 2, 2],
    ['a', 'OTHER', 1, 1],
    ['a', 'TEST', 3, 3],
    [null, 'TEST', null, null],
  ]);
});
