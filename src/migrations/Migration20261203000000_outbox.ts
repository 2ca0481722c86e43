import { Migration } from '@mikro-orm/migrations';

/**
 * The transactional outbox: every domain event is written by the transaction that caused it and
 * published by a relay after commit, so nothing is published for a rolled-back write and nothing
 * is lost between commit and publish. `sequence` numbers a member's events per topic
 * (`outbox_sequence` holds the counters); a client that missed events reads them after the last
 * sequence it saw. Published rows are kept for a while for that, then pruned. No foreign keys:
 * the outbox is a log written on every ledger write, and its writers read the ids they name. For
 * the same reason it has only the indexes its readers need: the relay's (unpublished ids) and the
 * missed-events read's (member, topic, sequence); event ids are random uuids, unique by making.
 */
export class Migration20261203000000_outbox extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table outbox_sequence (
  member_id uuid not null,
  topic text not null,
  last_sequence bigint not null check (last_sequence > 0),
  primary key (member_id, topic)
);
create table outbox (
  id bigserial primary key,
  event_id uuid not null,
  type text not null,
  topic text not null,
  program_id uuid not null,
  member_id uuid,
  sequence bigint check (sequence > 0),
  payload jsonb not null,
  created_at timestamptz not null,
  published_at timestamptz,
  check ((member_id is null) = (sequence is null))
);
create index outbox_unpublished_idx on outbox (id) where published_at is null;
create unique index outbox_member_sequence_idx on outbox (member_id, topic, sequence) where member_id is not null;
`);
  }
}
