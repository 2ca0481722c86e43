import { Migration } from '@mikro-orm/migrations';

/**
 * A program's default phone region: members' numbers written without a country code
 * (`(415) 555-2671`, `8 912 345-67-89`) are read as numbers of this region. Existing programs
 * keep reading them as Russian numbers, as before. The entity checks that libphonenumber-js
 * knows the region; the column only that it looks like an ISO 3166-1 alpha-2 code.
 */
export class Migration20261203120000_phone_region extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table program
  add column phone_default_region text not null default 'RU' check (phone_default_region ~ '^[A-Z]{2}$');
`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table program drop column phone_default_region;`);
  }
}
