import { Migration } from '@mikro-orm/migrations';

/**
 * Money in answers stays exact: a point is worth at most 1 000 000 minor units and an account
 * holds at most 9 000 000 000 points (available + pending + reserved), so balance × point
 * value never passes Number.MAX_SAFE_INTEGER (9 007 199 254 740 991). A write that would
 * cross the account bound fails before it commits (src/db/failures.ts turns the violation
 * into BAD_USER_INPUT), so no retry of its key can replay a committed answer that cannot be sent.
 */
export class Migration20261204600000_input_bounds extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table program add constraint program_point_value_minor_bound check (point_value_minor <= 1000000);
alter table account add constraint account_points_within_money_bound check (available + pending + reserved <= 9000000000);
`);
  }
}
