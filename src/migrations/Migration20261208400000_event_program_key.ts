import { Migration } from '@mikro-orm/migrations';

/**
 * A tracked event no longer key-shares the program's row (see
 * Migration20261208100000_hot_path_foreign_keys): every event tracked at once locked that one
 * row. An event's program is the request's, and programs are not deleted.
 */
export class Migration20261208400000_event_program_key extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table event drop constraint event_program_id_fkey;');
  }
}
