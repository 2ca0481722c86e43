import { Migration } from '@mikro-orm/migrations';

/**
 * `job_run`: each scheduled job's last completed run — the `asOf` it ran for and when it
 * finished — so a start can catch up the runs no instance made while all were down.
 */
export class Migration20261203130000_job_run extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table job_run (
  name text primary key,
  last_completed_as_of timestamptz not null,
  completed_at timestamptz not null
);`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table job_run;');
  }
}
