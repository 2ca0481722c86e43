import { Migration } from '@mikro-orm/migrations';

/**
 * The ledger's tables. Integrity lives in the database too: ledger entries and lot
 * allocations are append-only (a trigger refuses UPDATE and DELETE), balances cannot go
 * below zero, and every entry's amount is the sum of its bucket deltas.
 */
export class Migration20261122000000_ledger extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table program (
  id uuid primary key,
  name text not null,
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  point_value_minor integer not null check (point_value_minor > 0),
  default_lifetime_days integer null check (default_lifetime_days > 0),
  pending_days integer not null default 0 check (pending_days >= 0),
  max_redeem_percent integer not null check (max_redeem_percent between 0 and 100),
  time_zone text not null,
  authorization_ttl_seconds integer not null check (authorization_ttl_seconds > 0),
  created_at timestamptz not null
);

create type api_key_role as enum ('server', 'admin');
create table api_key (
  id uuid primary key,
  program_id uuid not null references program (id) on delete cascade,
  role api_key_role not null,
  name text not null,
  secret_hash text not null unique,
  prefix text not null,
  operator boolean not null default false,
  created_at timestamptz not null,
  revoked_at timestamptz null
);
create index api_key_program_id_index on api_key (program_id);

create type member_status as enum ('active', 'frozen');
create table member (
  id uuid primary key,
  program_id uuid not null references program (id) on delete cascade,
  external_id text not null,
  email text null,
  phone text null,
  name text null,
  birthday date null,
  status member_status not null default 'active',
  tags text[] not null default '{}',
  registered_at timestamptz not null,
  updated_at timestamptz not null,
  constraint member_program_id_external_id_unique unique (program_id, external_id)
);
create unique index member_program_id_email_unique on member (program_id, email) where email is not null;
create unique index member_program_id_phone_unique on member (program_id, phone) where phone is not null;

create table account (
  id uuid primary key,
  program_id uuid not null references program (id) on delete cascade,
  member_id uuid not null unique references member (id) on delete cascade,
  available bigint not null default 0 check (available >= 0),
  pending bigint not null default 0 check (pending >= 0),
  reserved bigint not null default 0 check (reserved >= 0),
  lifetime_earned bigint not null default 0,
  lifetime_redeemed bigint not null default 0,
  lifetime_expired bigint not null default 0,
  entry_count bigint not null default 0,
  updated_at timestamptz not null
);
create index account_program_id_index on account (program_id);

create type entry_kind as enum
  ('accrual', 'activation', 'redemption', 'authorization', 'capture', 'release', 'expiry', 'adjustment', 'reversal');
create type cause_type as enum ('api', 'admin', 'rule', 'order', 'coupon', 'job');
create table ledger_entry (
  id bigint generated always as identity primary key,
  program_id uuid not null,
  account_id uuid not null references account (id),
  kind entry_kind not null,
  amount bigint not null,
  delta_available bigint not null,
  delta_pending bigint not null,
  delta_reserved bigint not null,
  available_after bigint not null,
  pending_after bigint not null,
  reserved_after bigint not null,
  cause_type cause_type not null,
  cause_id text null,
  rule_version_id uuid null,
  reason text null,
  idempotency_key text null,
  reverses_entry_id bigint null unique references ledger_entry (id),
  authorization_id uuid null,
  created_at timestamptz not null,
  constraint ledger_entry_amount_is_sum_of_deltas check (amount = delta_available + delta_pending + delta_reserved)
);
create index ledger_entry_account_id_id_index on ledger_entry (account_id, id);
create index ledger_entry_authorization_id_index on ledger_entry (authorization_id) where authorization_id is not null;

create table lot (
  id bigint generated always as identity primary key,
  program_id uuid not null,
  account_id uuid not null references account (id),
  source_entry_id bigint not null,
  amount bigint not null check (amount > 0),
  remaining bigint not null,
  available_at timestamptz not null,
  activated_at timestamptz null,
  expires_at timestamptz null,
  created_at timestamptz not null,
  constraint lot_remaining_within_amount check (remaining between 0 and amount)
);
create index lot_source_entry_id_index on lot (source_entry_id);
-- Spending walks an account's open lots nearest-expiry first; the same index finds overdue ones.
create index lot_open_by_account_index on lot (account_id, expires_at, id) where remaining > 0;
create index lot_pending_by_account_index on lot (account_id, available_at) where remaining > 0 and activated_at is null;
-- The jobs find due lots across all accounts without scanning history.
create index lot_expiring_index on lot (expires_at, id) where remaining > 0 and expires_at is not null;
create index lot_pending_index on lot (available_at, id) where remaining > 0 and activated_at is null;

-- Which lots an entry took points from (negative) or gave them back to (positive).
create table lot_allocation (
  entry_id bigint not null references ledger_entry (id),
  lot_id bigint not null references lot (id),
  amount bigint not null check (amount <> 0),
  primary key (entry_id, lot_id)
);
create index lot_allocation_lot_id_index on lot_allocation (lot_id);

create type authorization_status as enum ('open', 'captured', 'released');
create table "authorization" (
  id uuid primary key,
  program_id uuid not null,
  account_id uuid not null references account (id),
  amount bigint not null check (amount > 0),
  captured bigint not null default 0,
  status authorization_status not null default 'open',
  reference text null,
  expires_at timestamptz not null,
  created_at timestamptz not null,
  closed_at timestamptz null,
  constraint authorization_captured_within_amount check (captured between 0 and amount)
);
create index authorization_open_expires_at_index on "authorization" (expires_at) where status = 'open';
create index authorization_account_id_index on "authorization" (account_id);

-- A storefront write's key, the hash of its input and its first result, replayed on retry.
create table idempotency_record (
  program_id uuid not null references program (id) on delete cascade,
  key text not null,
  operation text not null,
  request_hash text not null,
  -- json, not jsonb: a replay returns the first result byte for byte, keys in their order.
  response json null,
  created_at timestamptz not null default now(),
  primary key (program_id, key)
);

create table server_setting (
  key text primary key,
  value text not null
);

create function refuse_ledger_change() returns trigger language plpgsql as $$
begin
  raise exception 'the ledger is append-only: % on % is not allowed', tg_op, tg_table_name
    using errcode = 'insufficient_privilege';
end;
$$;
create trigger ledger_entry_append_only before update or delete on ledger_entry
  for each row execute function refuse_ledger_change();
create trigger ledger_entry_no_truncate before truncate on ledger_entry
  for each statement execute function refuse_ledger_change();
create trigger lot_allocation_append_only before update or delete on lot_allocation
  for each row execute function refuse_ledger_change();
`);
  }
}
