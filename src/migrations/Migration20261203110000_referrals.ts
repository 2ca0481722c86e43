import { Migration } from '@mikro-orm/migrations';

/**
 * The referral network (R1–R6, F6):
 * - `referral_code`: each member's code (8 characters of a 32-letter alphabet without 0/O/1/I),
 *   unique per program; existing members get one here, new ones when first asked.
 * - `referral`: who referred whom, how (registration, checkout code, website, link code, named by a key) and when;
 *   a member has at most one referrer, bound once. `member.referrer_id` mirrors it.
 * - `referral_path`: the closure of the tree — one row per member and ancestor with the
 *   distance — so a member's upline, or the referrer N levels up, is one index lookup, and a
 *   network's members per level one index range (bench/referral-store.ts: closure vs ltree).
 * - `referral_attempt`: every attribution tried, accepted or refused with its reason, for admins.
 * - `referral_signal`: device and IP hashes a shop reported for a member (self-referral checks).
 * - `referral_site`: websites members declared, with the token that verifies them.
 * - program settings: the link template, the tree's maximum depth, the return window
 *   referrers' awards for an order stay pending through.
 * Existing referrers (`member.referrer_id`, bound at registration) become `referral` rows and
 * their closure.
 */
export class Migration20261203110000_referrals extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table program
  add column referral_link_template text not null default 'https://shop.example/?ref={code}'
    check (referral_link_template like '%{code}%' and length(referral_link_template) <= 500),
  add column referral_max_depth integer not null default 10 check (referral_max_depth between 1 and 10),
  add column return_window_days integer null check (return_window_days between 0 and 365);

create table referral_code (
  member_id uuid primary key references member (id) on delete cascade,
  program_id uuid not null references program (id) on delete cascade,
  code text not null check (code ~ '^[2-9A-HJ-NP-Z]{8}$'),
  created_at timestamptz not null,
  constraint referral_code_program_id_code_unique unique (program_id, code)
);

create table referral (
  member_id uuid primary key references member (id) on delete cascade,
  program_id uuid not null references program (id) on delete cascade,
  referrer_id uuid not null references member (id) on delete cascade,
  via text not null check (via in ('registration', 'checkout', 'website', 'link', 'manual')),
  created_at timestamptz not null,
  check (referrer_id <> member_id)
);
create index referral_referrer_id_index on referral (referrer_id, created_at, member_id);

create table referral_path (
  member_id uuid not null references member (id) on delete cascade,
  depth smallint not null check (depth between 1 and 100),
  ancestor_id uuid not null references member (id) on delete cascade,
  program_id uuid not null references program (id) on delete cascade,
  primary key (member_id, depth)
);
create index referral_path_ancestor_id_index on referral_path (ancestor_id, depth, member_id);

create table referral_attempt (
  id uuid primary key,
  program_id uuid not null references program (id) on delete cascade,
  member_id uuid not null references member (id) on delete cascade,
  referrer_id uuid null references member (id) on delete cascade,
  via text not null,
  -- The code or referring URL the attempt came with.
  detail text null,
  accepted boolean not null,
  reason text null,
  created_at timestamptz not null,
  check (accepted = (reason is null))
);
create index referral_attempt_program_id_index on referral_attempt (program_id, created_at desc, id desc);
create index referral_attempt_member_id_index on referral_attempt (member_id);

create table referral_signal (
  member_id uuid not null references member (id) on delete cascade,
  kind text not null check (kind in ('device', 'ip')),
  hash text not null,
  program_id uuid not null references program (id) on delete cascade,
  created_at timestamptz not null,
  primary key (member_id, kind, hash)
);

create table referral_site (
  id uuid primary key,
  program_id uuid not null references program (id) on delete cascade,
  member_id uuid not null references member (id) on delete cascade,
  origin text not null,
  host text not null,
  token text not null,
  verified_at timestamptz null,
  checked_at timestamptz null,
  last_error text null,
  created_at timestamptz not null,
  constraint referral_site_member_id_host_unique unique (member_id, host)
);
-- A host verified once per program: its visits bind to one member.
create unique index referral_site_verified_host_index on referral_site (program_id, host) where verified_at is not null;

insert into referral (member_id, program_id, referrer_id, via, created_at)
  select id, program_id, referrer_id, 'registration', registered_at from member where referrer_id is not null;
insert into referral_path (member_id, depth, ancestor_id, program_id)
  with recursive up (member_id, depth, ancestor_id, program_id) as (
    select member_id, 1, referrer_id, program_id from referral
    union all
    select up.member_id, up.depth + 1, r.referrer_id, up.program_id from up join referral r on r.member_id = up.ancestor_id
    where up.depth < 100
  )
  select member_id, depth, ancestor_id, program_id from up;

-- Codes for existing members: random bytes of gen_random_uuid() (version 4: bytes 0-5 and 10-15
-- are random; the subquery names m.id so it runs per member), a collision skipped and retried.
do $$
begin
  loop
    insert into referral_code (member_id, program_id, code, created_at)
      select m.id, m.program_id,
        (select string_agg(substr('23456789ABCDEFGHJKLMNPQRSTUVWXYZ', get_byte(b, i) % 32 + 1, 1), '' order by i)
           from (select uuid_send(gen_random_uuid()) as b, m.id) r, unnest(array[0, 1, 2, 3, 4, 5, 10, 11]) as i),
        now()
      from member m
      where not exists (select 1 from referral_code c where c.member_id = m.id)
    on conflict do nothing;
    exit when not exists (select 1 from member m where not exists (select 1 from referral_code c where c.member_id = m.id));
  end loop;
end $$;
`);
  }
}
