import { Migration } from '@mikro-orm/migrations';

/**
 * Foreign keys that every write paid for and that could never fail. A foreign-key check locks
 * the row it finds (FOR KEY SHARE); when the row is the program's, or one of a few rule
 * versions, every concurrent write locks the same row, and each lock on a row others hold makes
 * a new multixact (about 0.8 per accrual and 1.35 per paid order, measured). What each of them
 * guarded is kept another way:
 *
 * - rule_award.entry_id, shop_order_award.entry_id: written from the entry the same statement or
 *   transaction inserted, and entries are append-only (never deleted).
 * - rule_award.rule_version_id: rule versions are immutable already; now they cannot be deleted
 *   either (a trigger), which is what the key kept: every award names a version that exists.
 * - rule_award.source_member_id: the member whose order or event it was; members are not
 *   deleted (rule_award.member_id lost its key in Migration20261204300000_award_entries).
 * - idempotency_record, earned_source, tier_qualification .program_id: the program of the
 *   request, and programs are not deleted (one with ledger entries cannot be: its entries'
 *   accounts would go, and entries are append-only).
 *
 * Nothing in Patron deletes a program, a member or a rule, and the application's role may not
 * (src/db/app-role.ts). A tier-structure save had waited, through these keys, for the orders
 * being paid; it takes a lock of its own now (Migration20261208200000_tier_structure_hold).
 * Orders being placed still share the program's row, on purpose (a currency change waits for
 * them). (Events tracked shared it through event.program_id until
 * Migration20261208400000_event_program_key.)
 */
export class Migration20261208100000_hot_path_foreign_keys extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table rule_award drop constraint rule_award_entry_id_fkey;
alter table rule_award drop constraint rule_award_rule_version_id_fkey;
alter table rule_award drop constraint rule_award_source_member_id_fkey;
alter table shop_order_award drop constraint shop_order_award_entry_id_fkey;
alter table idempotency_record drop constraint idempotency_record_program_id_fkey;
alter table earned_source drop constraint earned_source_program_id_fkey;
alter table tier_qualification drop constraint tier_qualification_program_id_fkey;

create function refuse_rule_version_delete() returns trigger language plpgsql as $$
begin
  raise exception 'rule versions are kept: ledger entries and rule awards name them'
    using errcode = 'insufficient_privilege';
end;
$$;
create trigger rule_version_kept before delete on rule_version
  for each row execute function refuse_rule_version_delete();
`);
  }
}
