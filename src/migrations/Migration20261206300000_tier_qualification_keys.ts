import { Migration } from '@mikro-orm/migrations';

/**
 * A `tier_qualification` row is its order's: `order_id` references the order (and goes with it),
 * and the one statement that writes the row copies `program_id` and `member_id` from that order.
 * Their own foreign keys only repeated what `order_id` guarantees, at the price of two more
 * key-share row locks per paid order — one of them on the program row every concurrent order
 * locks — as migration 20261204300000 found for `rule_award` and `shop_order_award`.
 */
export class Migration20261206300000_tier_qualification_keys extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table tier_qualification
  drop constraint tier_qualification_program_id_fkey,
  drop constraint tier_qualification_member_id_fkey;
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
alter table tier_qualification
  add constraint tier_qualification_program_id_fkey foreign key (program_id) references program (id) on delete cascade,
  add constraint tier_qualification_member_id_fkey foreign key (member_id) references member (id);
`);
  }
}
