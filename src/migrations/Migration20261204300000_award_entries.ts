import { Migration } from '@mikro-orm/migrations';

/**
 * One ledger entry per beneficiary of an order or event: its rules' awards share it (its lots
 * split only where their lifetimes differ), `rule_award` (one row per rule and beneficiary,
 * naming the entry) says which rule and version gave what, and `shop_order_award` holds one row
 * per entry. Both tables lose the foreign keys that only repeat what their `entry_id` key
 * already guarantees — the entry belongs to one account, of one member — and `rule_award`
 * keeps `rule_version_id` (the version names its rule) instead of a second key to the rule.
 * What protects the money stays: the entry, the order, the rule version and the source member.
 * `rule_award_source_index` goes too: no statement looks awards up by their source (a source
 * that was rewarded is known by `earned_source`), and every award paid for it.
 */
export class Migration20261204300000_award_entries extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table rule_award
  drop constraint rule_award_rule_id_fkey,
  drop constraint rule_award_member_id_fkey,
  drop constraint rule_award_account_id_fkey;

alter table shop_order_award
  drop constraint shop_order_award_member_id_fkey,
  drop constraint shop_order_award_account_id_fkey;

drop index rule_award_source_index;
`);
  }
}
