import { Migration } from '@mikro-orm/migrations';
import { entryJson, json } from './ledger-json-sql';

/** `ledger_write` as this migration creates it (the next definition's `down` restores it). */
export const LEDGER_WRITE_20261204 = `/*
 * One accrual (points > 0: a new lot) or spend (points < 0: nearest-expiry lots first) with its
 * idempotency record and outbox event. Answers (outcome, body):
 *   done      written and committed with the statement; body: the stored response
 *   replay    the key was used before for this request; body: the stored response
 *   conflict  the key was used before for another request; body: that request's operation
 *   general   nothing written; the general path decides (and writes, or refuses)
 *             (also a spend that needs more than its account's first 50 lots)
 * The account is locked before the key is claimed, and nothing is written before both are held,
 * so every early answer leaves the database as it was.
 */
create function ledger_write(
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

  insert into idempotency_record (program_id, key, operation, request_hash)
    values (p_program_id, p_key, p_operation, p_request_hash)
    on conflict do nothing;
  if not found then
    -- Used before (or meanwhile, by a call that has now committed): its answer.
    select operation, request_hash, response::text as response into v_first
      from idempotency_record where program_id = p_program_id and key = p_key;
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
  update idempotency_record set response = body::json where program_id = p_program_id and key = p_key;
  outcome := 'done';
end;
$fn$;
`;

/**
 * The ledger's common writes — an accrual, a redemption, an adjustment — as one function call,
 * so one round trip does what a transaction of seven did (begin, idempotency claim, account lock,
 * posting, stored response, outbox, commit). `ledger_write` does the usual case only: when the
 * account needs anything else (lots to expire or activate, a debt, a frozen member spending, not
 * enough points, no such member, lot times out of range) it answers 'general' having written
 * nothing, and the caller runs the general path (AccountBook), which has every rule. So the
 * function never decides a case differently: it either writes exactly what the general path would
 * write — entry, lot or lot allocations, balances, the outbox event, the stored response, in the
 * same JSON the general path stores — or leaves the case to it.
 *
 * PL/pgSQL caches its statements' plans per connection; each is a primary-key or single-account
 * index access (the lots it spends from are the first 50, as the general path's first read), whose
 * generic plan PostgreSQL keeps. The function has no SET clause: measured, `set plan_cache_mode`
 * on it cost 0.4–0.7 ms of PostgreSQL CPU per call, more than the rest of an accrual.
 *
 * `ledger_lot_changes` turns a posting's lot changes (three arrays) into rows with a fixed row
 * estimate, so the general path's posting statement costs the same planned generically as with
 * its values: PostgreSQL keeps its generic plan instead of planning it again on every call.
 */
export class Migration20261204100000_ledger_write_functions extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create function ledger_lot_changes(p_lot_ids bigint[], p_amounts bigint[], p_forgiven bigint[])
  returns table (lot_id bigint, amount bigint, forgiven bigint)
  language plpgsql stable rows 2 as $fn$
begin
  return query select * from unnest(p_lot_ids, p_amounts, p_forgiven);
end;
$fn$;

${LEDGER_WRITE_20261204}`);
  }

  override async down(): Promise<void> {
    this.addSql(`
drop function ledger_write;
drop function ledger_lot_changes;
`);
  }
}
