import { Migration } from '@mikro-orm/migrations';

/**
 * Room for HOT updates of the rows every write changes. PostgreSQL updates a row in place of its
 * page, without new index entries (a HOT update), only when no indexed column changes — columns
 * in a partial index's predicate count — and the page has room for the new version.
 *
 * - A spend lowers a lot's `remaining`, which was in the predicate of all four partial lot
 *   indexes, so no lot update was ever HOT: each one wrote a new entry in every lot index (and
 *   left a dead one for the sweeps and spends to walk past). The indexes now filter on `unspent`,
 *   a stored generated column (`remaining > 0`) that changes only when a lot is used up or
 *   expires (or, given back, opens again); statements that look for open lots say `unspent`,
 *   which is what lets PostgreSQL use the partial indexes for them.
 * - Accounts leave 15 % of each page free, so a balance update finds room on its page (they were
 *   HOT about half the time in a long bench run, all of them with the room; pages written before
 *   this migration get it when the table is next rewritten). Lots keep full pages: a spend finds
 *   room where earlier versions were pruned (three updates in four were HOT in the bench), and a
 *   sparser lot table costed the spend's generic lot read above its custom plans, so PostgreSQL
 *   planned it again on every call (test/integration/ledger-plans.test.ts).
 * - `reverses_entry_id` is unique only where it is set: every entry put a NULL in that index.
 *
 * Adding the stored column rewrites `lot`, and the indexes are built in the migration's
 * transaction: on a large installation, run it in a quiet hour.
 */
export class Migration20261205050000_room_for_hot_updates extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table lot add column unspent boolean not null generated always as (remaining > 0) stored;
drop index lot_open_by_account_index;
drop index lot_pending_by_account_index;
drop index lot_expiring_index;
drop index lot_pending_index;
create index lot_open_by_account_index on lot (account_id, expires_at, id) where unspent;
create index lot_pending_by_account_index on lot (account_id, available_at) where unspent and activated_at is null;
create index lot_expiring_index on lot (expires_at, id) where unspent and expires_at is not null;
create index lot_pending_index on lot (available_at, id) where unspent and activated_at is null;
alter table account set (fillfactor = 85);
alter table ledger_entry drop constraint ledger_entry_reverses_entry_id_key;
create unique index ledger_entry_reverses_entry_id_key on ledger_entry (reverses_entry_id) where reverses_entry_id is not null;
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
drop index ledger_entry_reverses_entry_id_key;
alter table ledger_entry add constraint ledger_entry_reverses_entry_id_key unique (reverses_entry_id);
alter table account reset (fillfactor);
drop index lot_open_by_account_index;
drop index lot_pending_by_account_index;
drop index lot_expiring_index;
drop index lot_pending_index;
alter table lot drop column unspent;
create index lot_open_by_account_index on lot (account_id, expires_at, id) where remaining > 0;
create index lot_pending_by_account_index on lot (account_id, available_at) where remaining > 0 and activated_at is null;
create index lot_expiring_index on lot (expires_at, id) where remaining > 0 and expires_at is not null;
create index lot_pending_index on lot (available_at, id) where remaining > 0 and activated_at is null;
`);
  }
}
