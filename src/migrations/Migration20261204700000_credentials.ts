import { Migration } from '@mikro-orm/migrations';

/**
 * - `customer_token_revocation`: per member, the generation its customer tokens must carry. A
 *   revocation raises it, so every token issued before stops working at once (the access module
 *   checks it on every use); who revoked them and when.
 * - `member_contact_change`: every change of a member's e-mail or phone — old and new values, the
 *   key (or other actor) that sent it, the request, when — written with the change itself.
 */
export class Migration20261204700000_credentials extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table customer_token_revocation (
  member_id uuid primary key references member (id) on delete cascade,
  program_id uuid not null references program (id) on delete cascade,
  generation int not null check (generation > 0),
  revoked_at timestamptz not null,
  revoked_by text not null
);

create table member_contact_change (
  id uuid primary key,
  program_id uuid not null references program (id) on delete cascade,
  member_id uuid not null references member (id) on delete cascade,
  old_email text null,
  new_email text null,
  old_phone text null,
  new_phone text null,
  actor_kind text not null,
  actor_id text not null,
  request_id text null,
  changed_at timestamptz not null
);
create index member_contact_change_member_index on member_contact_change (member_id, changed_at);
`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table member_contact_change; drop table customer_token_revocation;');
  }
}
