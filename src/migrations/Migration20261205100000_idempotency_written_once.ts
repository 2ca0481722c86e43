import { Migration } from '@mikro-orm/migrations';
import { entryJson, json } from './ledger-json-sql';
import { LEDGER_WRITE_20261204 } from './Migration20261204100000_ledger_write_functions';

/** `ledger_write` as this migration creates it (the next definition's `down` restores it). */
export const LEDGER_WRITE_20261205 = `/*
 * One accrual (points > 0: a new lot) or spend (points < 0: nearest-expiry lots first) with its
 * idempotency record and outbox event. Answers (outcome, body):
 *   done      written and committed with the statement; body: the stored response
 *   replay    the key was used before for this request; body: the stored response
 *   conflict  the key was used before for another request; body: that request's operation
 *   general   nothing written; the general path decides (and writes, or refuses)
 *             (also a spend that needs more than its account's first 50 lots)
 * The key's advisory lock is taken first, then the account's row lock; nothing is written
 * before an early answer, so every early answer leaves the database as it was; the key is
 * written last, with its answer.
 */
create or replace function ledger_write(
  p_operation text, p_program_id uuid, p_key text, p_request_hash text,
  p_member_column text, p_member_value text,
  p_kind entry_kind, p_points bigint, p_refuse_frozen boolean,
  p_cause_type cause_type, p_cause_id text, p_reason text, p_now timestamptz,
  p_available_at timestamptz, p_expires_at timestamptz, p_delay_days integer, p_lifetime_days integer,
  p_event_type text, p_topic text,
  out outcome text, out body text
) language plpgsql volatile as $fn$
declare
  v_member_id uuid;
  v_account record;
  v_available_at timestamptz;
  v_expires_at timestamptz;
  v_lifetime integer;
  v_activated boolean;
  v_need bigint;
  v_lot_ids bigint[] := '{}';
  v_takes bigint[] := '{}';
  v_entry ledger_entry%rowtype;
  v_lot_id bigint;
  v_sequence bigint;
  v_entry_json text;
  v_first record;
begin
  -- The same lock as idempotency.claim_key's: one call per key at a time, before any row lock.
  perform pg_advisory_xact_lock(hashtextextended(p_program_id::text || '/' || p_key, 0));
  if p_member_column = 'id' then
    v_member_id := p_member_value::uuid;
  elsif p_member_column = 'external_id' then
    select id into v_member_id from member where program_id = p_program_id and external_id = p_member_value;
  elsif p_member_column = 'email' then
    select id into v_member_id from member where program_id = p_program_id and email = p_member_value;
  elsif p_member_column = 'phone' then
    select id into v_member_id from member where program_id = p_program_id and phone = p_member_value;
  end if;
  if v_member_id is null then outcome := 'general'; return; end if;

  select a.id, a.available, a.pending, a.reserved, a.debt, a.lifetime_earned, a.lifetime_redeemed, a.lifetime_expired,
      m.status, p.default_lifetime_days, p.pending_days
    into v_account
    from account a join member m on m.id = a.member_id join program p on p.id = m.program_id
    where a.member_id = v_member_id and m.program_id = p_program_id
    for update of a;
  if not found then outcome := 'general'; return; end if;

  -- Anything opening the account would change first (expiry, activation, a debt to repay) is the general path's.
  if v_account.debt > 0
    or exists (select 1 from lot l where l.account_id = v_account.id and l.remaining > 0 and l.expires_at <= p_now)
    or exists (select 1 from lot l where l.account_id = v_account.id and l.remaining > 0
                 and l.activated_at is null and l.available_at <= p_now) then
    outcome := 'general'; return;
  end if;

  if p_points > 0 then
    -- lotTimes: the input's times, else the program's pending period and lifetime.
    v_available_at := coalesce(p_available_at, p_now + coalesce(p_delay_days, v_account.pending_days) * interval '24 hours');
    v_lifetime := coalesce(p_lifetime_days, v_account.default_lifetime_days);
    v_expires_at := coalesce(p_expires_at, v_available_at + v_lifetime * interval '24 hours');
    if v_expires_at <= v_available_at or v_expires_at <= p_now then outcome := 'general'; return; end if;
    v_activated := v_available_at <= p_now;
  else
    if (p_refuse_frozen and v_account.status = 'frozen') or -p_points > v_account.available then
      outcome := 'general'; return;
    end if;
    -- Spendable lots, nearest expiry first (ties by id), until the points are covered: from the
    -- first 50 (an index range), as the general path's first read; a spend that needs more is its.
    v_need := -p_points;
    select coalesce(array_agg(id order by before), '{}'), coalesce(array_agg(least(remaining, v_need - before) order by before), '{}'),
        v_need - coalesce(sum(least(remaining, v_need - before)), 0)
      into v_lot_ids, v_takes, v_need
      from (
        select id, remaining, (sum(remaining) over (order by expires_at nulls last, id) - remaining)::bigint as before
        from (
          select l.id, l.remaining, l.expires_at from lot l
          where l.account_id = v_account.id and l.remaining > 0 and l.activated_at is not null
            and (l.expires_at is null or l.expires_at > p_now)
          order by l.expires_at nulls last, l.id limit 50
        ) first_lots
      ) lots
      where before < v_need;
    if v_need > 0 then outcome := 'general'; return; end if;
  end if;

  -- Used before (or meanwhile, by a call that has now committed): its answer.
  select operation, request_hash, response::text as response into v_first
    from idempotency_record where program_id = p_program_id and key = p_key;
  if found then
    if v_first.operation = p_operation and v_first.request_hash = p_request_hash then
      outcome := 'replay'; body := v_first.response;
    else
      outcome := 'conflict'; body := v_first.operation;
    end if;
    return;
  end if;

  if p_points > 0 then
    v_account.lifetime_earned := v_account.lifetime_earned + p_points;
    if v_activated then
      v_account.available := v_account.available + p_points;
    else
      v_account.pending := v_account.pending + p_points;
    end if;
  else
    v_account.available := v_account.available + p_points;
    v_account.lifetime_redeemed := v_account.lifetime_redeemed - p_points;
  end if;

  insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved,
    delta_debt, available_after, pending_after, reserved_after, cause_type, cause_id, rule_version_id, reason,
    idempotency_key, reverses_entry_id, partly_reverses_entry_id, authorization_id, owner_type, owner_id, created_at)
  values (p_program_id, v_account.id, p_kind, p_points,
    case when p_points < 0 or v_activated then p_points else 0 end,
    case when p_points > 0 and not v_activated then p_points else 0 end,
    0, 0, v_account.available, v_account.pending, v_account.reserved, p_cause_type, p_cause_id, null, p_reason,
    p_key, null, null, null, null, null, p_now)
  returning * into v_entry;

  if p_points > 0 then
    insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at)
    values (p_program_id, v_account.id, v_entry.id, p_points, p_points, v_available_at,
      case when v_activated then p_now end, v_expires_at, p_now)
    returning id into v_lot_id;
  else
    insert into lot_allocation (entry_id, lot_id, amount)
      select v_entry.id, t.lot_id, -t.take from unnest(v_lot_ids, v_takes) as t(lot_id, take);
    update lot set remaining = lot.remaining - t.take from unnest(v_lot_ids, v_takes) as t(lot_id, take) where lot.id = t.lot_id;
  end if;

  update account set available = v_account.available, pending = v_account.pending,
    lifetime_earned = v_account.lifetime_earned, lifetime_redeemed = v_account.lifetime_redeemed,
    entry_count = entry_count + 1, updated_at = p_now
  where id = v_account.id;

  v_entry_json := ${entryJson('v_entry', 'v_member_id', 'v_lot_id')};
  insert into outbox_sequence as s (member_id, topic, last_sequence) values (v_member_id, p_topic, 1)
    on conflict (member_id, topic) do update set last_sequence = s.last_sequence + 1
    returning last_sequence into v_sequence;
  insert into outbox (event_id, type, topic, program_id, member_id, sequence, payload, created_at)
  values (gen_random_uuid(), p_event_type, p_topic, p_program_id, v_member_id, v_sequence,
    ('{"memberId":' || ${json('v_member_id')} || ',"balances":{"available":' || v_account.available
      || ',"pending":' || v_account.pending || ',"reserved":' || v_account.reserved || '},"entry":' || v_entry_json || '}')::jsonb,
    clock_timestamp());

  body := '{"entry":' || v_entry_json || ',"account":{"memberId":' || ${json('v_member_id')}
    || ',"available":' || v_account.available || ',"pending":' || v_account.pending || ',"reserved":' || v_account.reserved
    || ',"debt":' || v_account.debt || ',"lifetimeEarned":' || v_account.lifetime_earned
    || ',"lifetimeRedeemed":' || v_account.lifetime_redeemed || ',"lifetimeExpired":' || v_account.lifetime_expired || '}}';
  -- The key is written once, with its answer. Nothing else holding the key's lock can have
  -- taken it meanwhile; a writer that did without the lock makes this statement undo itself, to
  -- be run again by the caller (as after a deadlock) and answer from what that writer stored.
  insert into idempotency_record (program_id, key, operation, request_hash, response)
    values (p_program_id, p_key, p_operation, p_request_hash, body::json)
    on conflict do nothing;
  if not found then
    raise exception 'idempotency key % was taken by a concurrent call', p_key using errcode = 'serialization_failure';
  end if;
  outcome := 'done';
end;
$fn$;
`;

/**
 * `ledger_write` writes the idempotency record once, with its answer, as its last write: it
 * looks the key up first (a replay or a conflict answers from there, as before) and inserts it
 * at the end. Claiming the key first and storing the answer after meant an insert and an update
 * of the same row — and a second foreign-key check, since PostgreSQL checks again a row its own
 * transaction inserted — for every write.
 *
 * Calls with one key take turns on a transaction-level advisory lock of the key, taken before
 * any row lock, and the general path takes the same lock when it claims a key
 * (idempotency.claim_key): so a call never writes while another holds its key, and the two paths
 * never wait on each other in opposite orders (the general path claims the key, then locks the
 * account; this function locked the account, then met the key). Should a key be inserted without
 * that lock, the later insert fails with serialization_failure and the caller runs it again.
 */
export class Migration20261205100000_idempotency_written_once extends Migration {
  override async up(): Promise<void> {
    this.addSql(LEDGER_WRITE_20261205);
  }

  /** Back to the function as migration 20261204100000 made it (claim first, store after). */
  override async down(): Promise<void> {
    const previous = LEDGER_WRITE_20261204.replace('create function ledger_write(', 'create or replace function ledger_write(');
    if (previous === LEDGER_WRITE_20261204) throw new Error('the previous ledger_write text no longer starts as expected');
    this.addSql(previous);
  }
}
