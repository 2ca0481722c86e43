import { Migration } from '@mikro-orm/migrations';

/**
 * Entries and holds name their owner (`owner_type`, `owner_id`: 'order' and the shop's order id),
 * so the ledger can refuse to reverse or release what an order owns without reading orders: the
 * order's points move only with the order (cancelOrder, refundOrderLines). Existing rows get the
 * owner from the orders that reference them. The append-only trigger is lifted for the backfill
 * only, inside this migration's transaction.
 */
export class Migration20261203000100_owners extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table ledger_entry add column owner_type text null, add column owner_id text null,
  add constraint ledger_entry_owner_complete check ((owner_type is null) = (owner_id is null));
alter table "authorization" add column owner_type text null, add column owner_id text null,
  add constraint authorization_owner_complete check ((owner_type is null) = (owner_id is null));
alter table ledger_entry disable trigger ledger_entry_append_only;
update ledger_entry e set owner_type = 'order', owner_id = o.order_id
  from shop_order o where o.capture_entry_id = e.id;
update ledger_entry e set owner_type = 'order', owner_id = o.order_id
  from shop_order_award aw join shop_order o on o.id = aw.order_id where aw.entry_id = e.id;
alter table ledger_entry enable trigger ledger_entry_append_only;
update "authorization" au set owner_type = 'order', owner_id = o.order_id
  from shop_order o where o.authorization_id = au.id;
`);
  }
}
