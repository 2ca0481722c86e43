import { Migration } from '@mikro-orm/migrations';

/** Rule versions cannot be truncated either (as the ledger cannot): awards and entries name them. */
export class Migration20261208300000_rule_version_no_truncate extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create trigger rule_version_no_truncate before truncate on rule_version
  for each statement execute function refuse_rule_version_delete();
`);
  }
}
