import { Migration } from '@mikro-orm/migrations';

/**
 * Unpublished events are a queue of their own (`outbox_unpublished`: just ids) instead of a
 * `published_at` mark on the event. Marking an event published rewrote the whole outbox row —
 * never a HOT update, since the mark was in the partial index's predicate: a new row version with
 * its payload, new index entries, and dead ones the relay's next claim walked past. Measured, that
 * was about 0.7 ms of PostgreSQL CPU per accrual. Now an insert puts the event's id in the queue
 * (a statement trigger, so every writer — a transaction's flush, `ledger_write` — does it), and the
 * relay deletes ids from the queue: the event itself is written once and never touched again.
 */
export class Migration20261204800000_outbox_queue extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table outbox_unpublished (id bigint primary key);
insert into outbox_unpublished (id) select id from outbox where published_at is null;
drop index outbox_unpublished_idx;
alter table outbox drop column published_at;

create function outbox_enqueue() returns trigger language plpgsql as $fn$
begin
  insert into outbox_unpublished (id) select id from inserted;
  return null;
end;
$fn$;
create trigger outbox_enqueue after insert on outbox
  referencing new table as inserted for each statement execute function outbox_enqueue();
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
drop trigger outbox_enqueue on outbox;
drop function outbox_enqueue;
alter table outbox add column published_at timestamptz;
update outbox set published_at = created_at where id not in (select id from outbox_unpublished);
create index outbox_unpublished_idx on outbox (id) where published_at is null;
drop table outbox_unpublished;
`);
  }
}
