import { Migration } from '@mikro-orm/migrations';

/**
 * Tiers (T1–T5, A3):
 * - `tier_structure` / `tier_level`: a program's levels, versioned — saving a structure writes a
 *   new version; the program's newest version is the one in force. Thresholds are in the
 *   structure's metric: minor units of money paid, or points earned.
 * - `tier_qualification`: what each paid order brings to qualification, one row per order, dated
 *   when it was paid. Cancelling or returning lines lowers the row to what the order still
 *   counts for, so windows (lifetime, calendar year, rolling months) are sums over these rows.
 * - `member_tier`: the tier a member holds by qualification (`earned_code`, since when) and a
 *   granted one (manual VIP or a paid membership) with its end; `tier_code` is the tier in force
 *   as last recorded. A member without a row holds the structure's base level (threshold 0).
 * - `tier_history`: every change of the tier in force, with its reason.
 */
export class Migration20261203100000_tiers extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table tier_structure (
  id uuid primary key,
  program_id uuid not null references program (id) on delete cascade,
  version integer not null check (version > 0),
  metric text not null check (metric in ('spend', 'points')),
  window_kind text not null check (window_kind in ('lifetime', 'calendar_year', 'rolling_months')),
  window_months integer null check (window_months between 1 and 120),
  downgrade_policy text not null check (downgrade_policy in ('none', 'one_level', 'to_earned')),
  grace_days integer not null check (grace_days between 0 and 3660),
  created_at timestamptz not null,
  created_by text null,
  constraint tier_structure_program_id_version_unique unique (program_id, version),
  constraint tier_structure_window_months check ((window_kind = 'rolling_months') = (window_months is not null))
);

create table tier_level (
  id uuid primary key,
  structure_id uuid not null references tier_structure (id) on delete cascade,
  rank integer not null check (rank >= 0),
  code text not null,
  name text not null,
  threshold bigint not null check (threshold >= 0),
  earn_multiplier numeric(6,3) not null check (earn_multiplier between 1 and 100),
  max_redeem_percent integer null check (max_redeem_percent between 0 and 100),
  discount_percent numeric(5,2) not null check (discount_percent between 0 and 100),
  perks text[] not null,
  constraint tier_level_structure_id_rank_unique unique (structure_id, rank),
  constraint tier_level_structure_id_code_unique unique (structure_id, code)
);

create table tier_qualification (
  order_id uuid primary key references shop_order (id) on delete cascade,
  program_id uuid not null references program (id) on delete cascade,
  member_id uuid not null references member (id),
  qualified_at timestamptz not null,
  money_minor bigint not null check (money_minor >= 0),
  points bigint not null check (points >= 0),
  updated_at timestamptz not null
);
create index tier_qualification_member_id_qualified_at_index on tier_qualification (member_id, qualified_at);

create table member_tier (
  member_id uuid primary key references member (id) on delete cascade,
  program_id uuid not null references program (id) on delete cascade,
  earned_code text null,
  earned_since timestamptz null,
  grant_code text null,
  grant_kind text null check (grant_kind in ('manual', 'paid')),
  grant_until timestamptz null,
  tier_code text null,
  tier_since timestamptz null,
  updated_at timestamptz not null,
  constraint member_tier_grant check ((grant_code is null) = (grant_until is null) and (grant_code is null) = (grant_kind is null))
);
create index member_tier_program_id_tier_code_index on member_tier (program_id, tier_code);

create table tier_history (
  id bigserial primary key,
  program_id uuid not null references program (id) on delete cascade,
  member_id uuid not null references member (id) on delete cascade,
  from_code text null,
  to_code text null,
  reason text not null check (reason in ('qualified', 'returned', 'grace_ended', 'assigned', 'assignment_ended',
    'purchased', 'membership_lapsed', 'structure_changed')),
  detail text null,
  structure_version integer not null,
  changed_at timestamptz not null
);
create index tier_history_member_id_changed_at_index on tier_history (member_id, changed_at);
`);
  }
}
