import { Migration } from '@mikro-orm/migrations';

/**
 * Fixes from the ledger review:
 * - `lot.forgiven`: points of the lot's accrual that a take-back forgave (policy
 *   'take_available') because they were spent or held at the time. Points that come back to
 *   the lot later — a released hold, a reversed capture or redemption — are taken back up to
 *   this many, so a forgiveness never outlives the spending it forgave.
 * - The ledger API refuses to move an order's authorization or entries itself (only the order
 *   may); these indexes find the order that owns one.
 */
export class Migration20261122030000_ledger_fixes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table lot add column forgiven bigint not null default 0;
alter table lot add constraint lot_forgiven_within_amount check (forgiven between 0 and amount);

create index shop_order_authorization_id_index on shop_order (authorization_id) where authorization_id is not null;
create index shop_order_capture_entry_id_index on shop_order (capture_entry_id) where capture_entry_id is not null;
create index shop_order_award_entry_id_index on shop_order_award (entry_id);
`);
  }
}
