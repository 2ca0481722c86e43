import type { PoolClient } from 'pg';
import { claimUnpublished } from '../../src/services/realtime/outbox-store';
import { serviceHarness, type ServiceHarness } from '../support/services';
import { genericPlan, planNodes, weakSpots } from '../support/plans';

/**
 * The relay claims the oldest queued event ids and reads their events. The outbox keeps every
 * event for its retention (days of them), while the queue holds a handful, so the events must be
 * read by id: a generic plan that hashed the whole outbox to join it with the claimed ids cost
 * the relay milliseconds per batch, growing with the outbox, and took a third of PostgreSQL's
 * time per accrual under load. Read from EXPLAIN of the generic plan, over an outbox of 20 000
 * events, all but the queued ones published.
 */

const PUBLISHED = 20_000;
let h: ServiceHarness;
let client: PoolClient;

beforeAll(async () => {
  h = await serviceHarness();
  client = await h.database.pool.connect();
  await client.query(
    `insert into outbox (event_id, type, topic, program_id, member_id, sequence, payload, created_at)
     select gen_random_uuid(), 'balance.changed', 'balance', $1, gen_random_uuid(), 1, jsonb_build_object('n', g), now()
     from generate_series(1, $2::int) g`,
    [h.programId, PUBLISHED],
  );
});

afterAll(async () => {
  client?.release();
  await h.close();
});

describe.each([
  ['a backlog of 2 000 queued when the statistics were taken', 2000],
  ['a queue of 30', 30],
])('claiming events with %s', (_, queued) => {
  test('reads the claimed events by primary key, never by a scan of the outbox', async () => {
    await client.query('delete from outbox_unpublished where id not in (select id from outbox order by id desc limit $1)', [queued]);
    await client.query('analyze outbox, outbox_unpublished');
    const plan = await genericPlan(client, 'claim_plan', claimUnpublished.text, ['500'], ['0']);
    expect(weakSpots(plan, ['outbox'])).toEqual([]);
    const outboxReads = [...planNodes(plan)].filter((n) => n['Relation Name'] === 'outbox').map((n) => n['Node Type']);
    expect(outboxReads).toEqual(['Index Scan']);
  });
});

test('the claim hands over the oldest queued events in id order and takes them off the queue', async () => {
  await client.query('begin');
  try {
    const { rows: queued } = await client.query<{ id: string }>('select id from outbox_unpublished order by id limit 5');
    const claimed = await client.query({ text: claimUnpublished.text, values: [5] });
    expect(claimed.rows.map((r) => r.id)).toEqual(queued.map((r) => r.id));
    expect(claimed.rows[0]).toMatchObject({ type: 'balance.changed', topic: 'balance', program_id: h.programId });
    const { rows: left } = await client.query('select 1 from outbox_unpublished where id = any($1::bigint[])', [queued.map((r) => r.id)]);
    expect(left).toEqual([]);
  } finally {
    await client.query('rollback');
  }
});
