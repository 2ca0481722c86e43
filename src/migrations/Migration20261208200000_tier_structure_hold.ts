import { Migration } from '@mikro-orm/migrations';

/**
 * A tier-structure save and the orders being paid at the same moment must not miss each other:
 * the save requalifies every member from the orders it sees, and an order being paid lifts its
 * member under the structure it read (and an order cancelled or returned judges the drop under
 * it). The save takes the program's tier-structure lock alone, such an order shares it (an
 * advisory lock: no row is locked, so no multixact). The order takes it before the statements
 * that read or write its member's qualification and checks, once it holds it, that the structure
 * it read is still the newest: if a save committed meanwhile, it fails as a serialization failure
 * and is tried again (the service drops its cached structure when an attempt fails).
 *
 * The check sees that save because the function is volatile and the transaction reads committed:
 * its query takes a snapshot of its own, after the lock was granted.
 */
export class Migration20261208200000_tier_structure_hold extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create function tier_structure_lock_key(p_program_id uuid) returns bigint language sql immutable as $$
  select hashtextextended('tier_structure/' || p_program_id::text, 0)
$$;

create function hold_tier_structure(p_program_id uuid, p_version integer) returns void language plpgsql volatile as $$
begin
  perform pg_advisory_xact_lock_shared(tier_structure_lock_key(p_program_id));
  -- A statement of its own: its snapshot is taken once the lock is held.
  if coalesce((select max(s.version) from tier_structure s where s.program_id = p_program_id), 0) <> p_version then
    raise exception 'the tier structure of program % changed while an order was paid', p_program_id
      using errcode = 'serialization_failure';
  end if;
end;
$$;
`);
  }
}
