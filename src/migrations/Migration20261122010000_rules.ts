import { Migration } from '@mikro-orm/migrations';

/**
 * Rules, their immutable versions, tracked events and the awards rules made. Awards are
 * counted for caps and one-off rules; the indexes below are the ones those counts need.
 */
export class Migration20261122010000_rules extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table program add column birthday_days_before integer not null default 0
  check (birthday_days_before between 0 and 31);

-- Bound once, when the member registers, so the referral tree can never form a cycle.
alter table member add column referrer_id uuid null references member (id);
alter table member add column attributes jsonb not null default '{}';
create index member_referrer_id_index on member (referrer_id) where referrer_id is not null;
-- The birthday job looks members up by month and day of their birthday.
create index member_birthday_index on member (program_id, (extract(month from birthday)), (extract(day from birthday)))
  where birthday is not null;

create type rule_status as enum ('draft', 'active', 'paused', 'archived');
create table rule (
  id uuid primary key,
  program_id uuid not null references program (id) on delete cascade,
  name text not null,
  status rule_status not null,
  current_version_id uuid not null,
  -- Points all members got from this rule, checked against caps.totalBudget under this row's lock.
  budget_used bigint not null default 0 check (budget_used >= 0),
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index rule_program_id_status_index on rule (program_id, status);

create table rule_version (
  id uuid primary key,
  rule_id uuid not null references rule (id) on delete cascade,
  version integer not null check (version > 0),
  -- The RuleDefinition without its status, as saved (json keeps it byte for byte).
  definition json not null,
  created_at timestamptz not null,
  created_by text null,
  constraint rule_version_rule_id_version_unique unique (rule_id, version)
);
-- A rule and its first version are inserted in one transaction.
alter table rule add constraint rule_current_version_id_foreign foreign key (current_version_id)
  references rule_version (id) deferrable initially deferred;

-- Ledger entries name the version that made them: a version never changes.
create function refuse_rule_version_change() returns trigger language plpgsql as $$
begin
  raise exception 'rule versions are immutable: save a new version instead'
    using errcode = 'insufficient_privilege';
end;
$$;
create trigger rule_version_immutable before update on rule_version
  for each row execute function refuse_rule_version_change();

create table event (
  id uuid primary key,
  program_id uuid not null references program (id) on delete cascade,
  member_id uuid not null references member (id) on delete cascade,
  type text not null,
  payload jsonb not null default '{}',
  occurred_at timestamptz not null,
  idempotency_key text not null,
  created_at timestamptz not null,
  constraint event_program_id_idempotency_key_unique unique (program_id, idempotency_key)
);
create index event_member_id_occurred_at_index on event (member_id, occurred_at);

-- Each event or order is put through the rules once, whatever retries the caller makes.
create table earned_source (
  program_id uuid not null references program (id) on delete cascade,
  source_type text not null,
  source_id text not null,
  member_id uuid not null,
  created_at timestamptz not null,
  primary key (program_id, source_type, source_id)
);

-- What members paid in orders, summed as orders are earned on: milestones compare before and after.
create table member_spend (
  member_id uuid primary key references member (id) on delete cascade,
  program_id uuid not null,
  paid_minor bigint not null default 0 check (paid_minor >= 0),
  updated_at timestamptz not null
);

create table rule_award (
  id bigint generated always as identity primary key,
  program_id uuid not null,
  rule_id uuid not null references rule (id),
  rule_version_id uuid not null references rule_version (id),
  -- Who received the points: the member whose event it was, or one of their referrers.
  member_id uuid not null references member (id),
  account_id uuid not null references account (id),
  source_member_id uuid not null references member (id),
  referrer_level integer null check (referrer_level > 0),
  points bigint not null check (points > 0),
  source_type text not null,
  source_id text not null,
  one_off boolean not null default false,
  awarded_at timestamptz not null,
  entry_id bigint not null references ledger_entry (id)
);
-- Caps sum one rule's awards to one member since the start of a day, week or month.
create index rule_award_cap_index on rule_award (rule_id, member_id, awarded_at) include (points);
-- A one-off rule (a milestone) rewards each member's event once, however many orders race.
create unique index rule_award_one_off_unique on rule_award (rule_id, source_member_id, member_id) where one_off;
create index rule_award_source_index on rule_award (program_id, source_type, source_id);
create index rule_award_entry_id_index on rule_award (entry_id);
`);
  }
}
