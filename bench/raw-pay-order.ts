/**
 * What PostgreSQL allows for a paid order: the rows Patron's payOrder writes, written with raw
 * `pg` on one connection per client — no server, no rules to evaluate — in plain statements, one
 * per table as the raw accrual (bench/baseline.ts) is written. It pays orders placed over the
 * API, and copies what varies from an order Patron paid before it (the template): the entry and
 * its lots, the rules' awards, the order's money, the two outbox events and the stored answer,
 * so the rows, their sizes and their keys are Patron's. Its ratio to the raw accrual says how
 * much of the accrual's rate a paid order's rows leave, whoever writes them.
 */
import { createHash } from 'node:crypto';
import type { Client } from 'pg';
import type { Contestant } from './interleave';
import { Exhausted } from './load';
import { inTransaction, openConnections } from './raw-pg';

/** What one paid order wrote, read back from an order Patron paid. */
interface PaidOrderTemplate {
  entry: { kind: string; cause_type: string; cause_id: string | null; reason: string | null; rule_version_id: string | null; owner_type: string | null; amount: number };
  /** What the entry's owner_id holds of the order: our id, the shop's, or nothing. */
  ownerIs: 'id' | 'order_id' | null;
  lots: number[];
  awards: { rule_id: string[]; rule_version_id: string[]; points: number[]; one_off: boolean[] };
  moneyMinor: number;
  events: Array<{ type: string; topic: string; payload: unknown }>;
  answer: string;
}

/**
 * Reads the template from the order Patron paid last: what its transaction wrote (its rows share
 * the transaction's id, `xmin`). Refuses a template the raw row could not copy faithfully: points
 * pending or expiring, lots that do not add up to the entry, a debt paid from it, or other than
 * two events on two topics.
 */
async function readTemplate(db: Client, programId: string, runId: string): Promise<PaidOrderTemplate> {
  const { rows: [order] } = await db.query(
    `select o.id, o.order_id, o.member_id, aw.entry_id, q.money_minor
     from shop_order o join shop_order_award aw on aw.order_id = o.id and aw.member_id = o.member_id
       join tier_qualification q on q.order_id = o.id
     where o.program_id = $1 and o.status = 'paid' order by o.paid_at desc limit 1`,
    [programId],
  );
  if (!order) throw new Error('no order paid by Patron to copy');
  const { rows: [entry] } = await db.query(
    `select kind, cause_type, cause_id, reason, rule_version_id, owner_type, owner_id, amount, delta_available, delta_pending, delta_debt,
       xmin::text as tx
     from ledger_entry where id = $1`,
    [order.entry_id],
  );
  const { rows: lots } = await db.query('select amount, activated_at, expires_at from lot where source_entry_id = $1 order by id', [order.entry_id]);
  const refuse = (why: string) => new Error(`the raw payOrder row cannot copy the order Patron paid: ${why}`);
  if (Number(entry.delta_pending) !== 0 || lots.some((l) => !l.activated_at || l.expires_at)) throw refuse('its points are pending or expiring');
  if (Number(entry.delta_debt) !== 0 || Number(entry.delta_available) !== Number(entry.amount)) throw refuse('it paid a debt');
  if (lots.reduce((sum, l) => sum + Number(l.amount), 0) !== Number(entry.amount)) throw refuse('its lots do not add up to its entry');
  const { rows: awards } = await db.query('select rule_id, rule_version_id, points, one_off from rule_award where entry_id = $1 order by id', [order.entry_id]);
  const { rows: events } = await db.query('select type, topic, payload from outbox where member_id = $1 and xmin::text = $2 order by id', [order.member_id, entry.tx]);
  if (events.length !== 2 || events[0].topic === events[1].topic) throw refuse(`it raised ${events.length} events (${events.map((e) => e.topic).join(', ')}), not two on two topics`);
  const { rows: [answer] } = await db.query(
    'select response::text as response from idempotency_record where program_id = $1 and key = $2 and xmin::text = $3',
    [programId, `bench-${runId}-pay-${order.order_id}`, entry.tx],
  );
  if (!answer) throw refuse('its stored answer is not found');
  return {
    entry: { ...entry, amount: Number(entry.amount) },
    ownerIs: entry.owner_id === order.id ? 'id' : entry.owner_id === order.order_id ? 'order_id' : null,
    lots: lots.map((l) => Number(l.amount)),
    awards: {
      rule_id: awards.map((a) => a.rule_id),
      rule_version_id: awards.map((a) => a.rule_version_id),
      points: awards.map((a) => Number(a.points)),
      one_off: awards.map((a) => a.one_off),
    },
    moneyMinor: Number(order.money_minor),
    events,
    answer: answer.response,
  };
}

/** The raw payOrder row; it reads its template when opened, after Patron has paid orders. */
export function rawPayOrder(row: string, databaseUrl: string, programId: string, orderIds: string[], runId: string, log: (msg: string) => void): Contestant {
  const clients = 8;
  return {
    row,
    label: { name: 'payOrder (raw pg, the same rows)', op: 'payOrderRaw', accounts: 'uniform' },
    clients,
    open: async () => {
      const { conns, close } = await openConnections(databaseUrl, clients, 'patron-bench-raw-pay');
      const t = await readTemplate(conns[0]!, programId, runId).catch(async (error) => {
        await close();
        throw error;
      });
      log(`raw payOrder copies an order Patron paid: ${t.entry.amount} points in ${t.lots.length} lot(s), ${t.awards.points.length} rule awards, `
        + `${t.events.length} events, a ${t.answer.length}-character answer`);
      let taken = 0;
      return { close, operation: (w) => payOne(conns[w]!, t, orderIds[taken++], programId, runId) };
    },
  };
}

/** Pays one order with the template's rows. */
async function payOne(c: Client, t: PaidOrderTemplate, orderId: string | undefined, programId: string, runId: string): Promise<void> {
  if (!orderId) throw new Exhausted('ran out of pre-placed orders');
  const now = new Date();
  await inTransaction(c, async () => {
    const { rows: [a] } = await c.query(
      `select a.id, a.member_id, a.available, a.lifetime_earned, a.pending, a.reserved, a.debt from account a
       where a.id = (select account_id from shop_order where program_id = $1 and order_id = $2) for update`,
      [programId, orderId],
    );
    // An accrual to an account in debt pays the debt first: rows the template did not write.
    if (Number(a.debt) !== 0) throw new Error(`the member of order ${orderId} is in debt: the raw row copies accruals that pay none`);
    const { rows: [o] } = await c.query(
      'select id, status from shop_order where program_id = $1 and order_id = $2 for update',
      [programId, orderId],
    );
    if (o.status !== 'placed') throw new Error(`order ${orderId} is ${o.status}`);
    const amount = t.entry.amount;
    const available = Number(a.available) + amount;
    const { rows: [e] } = await c.query(
      `insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
         available_after, pending_after, reserved_after, cause_type, cause_id, rule_version_id, reason, idempotency_key,
         owner_type, owner_id, created_at)
       values ($1, $2, $3, $4, $4, 0, 0, $5, $6, $7, $8, $9, $10, $11, null, $12, $13, $14) returning id`,
      [programId, a.id, t.entry.kind, amount, available, a.pending, a.reserved, t.entry.cause_type, t.entry.cause_id,
        t.entry.rule_version_id, t.entry.reason, t.entry.owner_type, t.ownerIs === 'id' ? o.id : t.ownerIs === 'order_id' ? orderId : null, now],
    );
    await c.query(
      `insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at)
       select $1, $2, $3, x, x, $5, $5, null, $5 from unnest($4::bigint[]) as x`,
      [programId, a.id, e.id, t.lots, now],
    );
    await c.query(
      `insert into rule_award (program_id, source_member_id, source_type, source_id, awarded_at, rule_id, rule_version_id,
         member_id, account_id, points, one_off, entry_id)
       select $1, $2, 'order', $3, $4, r.rule_id, r.rule_version_id, $2, $5, r.points, r.one_off, $6
       from unnest($7::uuid[], $8::uuid[], $9::bigint[], $10::boolean[]) as r(rule_id, rule_version_id, points, one_off)`,
      [programId, a.member_id, orderId, now, a.id, e.id, t.awards.rule_id, t.awards.rule_version_id, t.awards.points, t.awards.one_off],
    );
    await c.query(
      'update account set available = $1, lifetime_earned = $2, entry_count = entry_count + 1, updated_at = $3 where id = $4',
      [available, Number(a.lifetime_earned) + amount, now, a.id],
    );
    await c.query(
      `update shop_order set status = 'paid', paid_at = $1, spend_added_minor = $2, updated_at = $1 where id = $3`,
      [now, t.moneyMinor, o.id],
    );
    await c.query(
      'insert into shop_order_award (order_id, entry_id, account_id, member_id, points) values ($1, $2, $3, $4, $5)',
      [o.id, e.id, a.id, a.member_id, amount],
    );
    await c.query(
      `insert into earned_source (program_id, source_type, source_id, member_id, created_at) values ($1, 'order', $2, $3, $4)`,
      [programId, orderId, a.member_id, now],
    );
    await c.query(
      `insert into member_spend (member_id, program_id, paid_minor, updated_at) values ($1, $2, $3, $4)
       on conflict (member_id) do update set paid_minor = member_spend.paid_minor + excluded.paid_minor, updated_at = excluded.updated_at`,
      [a.member_id, programId, t.moneyMinor, now],
    );
    await c.query(
      `insert into tier_qualification (order_id, program_id, member_id, qualified_at, money_minor, points, updated_at)
       values ($1, $2, $3, $4, $5, $6, $4)`,
      [o.id, programId, a.member_id, now, t.moneyMinor, amount],
    );
    const { rows: sequences } = await c.query(
      `insert into outbox_sequence as s (member_id, topic, last_sequence) select $1, topic, 1 from unnest($2::text[]) as topic
       on conflict (member_id, topic) do update set last_sequence = s.last_sequence + 1 returning topic, last_sequence`,
      [a.member_id, t.events.map((ev) => ev.topic)],
    );
    const sequenceOf = new Map(sequences.map((s) => [s.topic, s.last_sequence]));
    await c.query(
      `insert into outbox (event_id, type, topic, program_id, member_id, sequence, payload, created_at)
       select gen_random_uuid(), x.type, x.topic, $1, $2, x.sequence, x.payload, clock_timestamp()
       from unnest($3::text[], $4::text[], $5::bigint[], $6::jsonb[]) as x(type, topic, sequence, payload)`,
      [programId, a.member_id, t.events.map((ev) => ev.type), t.events.map((ev) => ev.topic),
        t.events.map((ev) => sequenceOf.get(ev.topic)), t.events.map((ev) => JSON.stringify(ev.payload))],
    );
    await c.query(
      `insert into idempotency_record (program_id, key, operation, request_hash, response) values ($1, $2, 'payOrder', $3, $4)`,
      [programId, `bench-${runId}-raw-pay-${orderId}`, createHash('sha256').update(orderId).digest('hex'), t.answer],
    );
  });
}
