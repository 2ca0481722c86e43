import { Migration } from '@mikro-orm/migrations';
import { LEDGER_WRITE_20261205 } from './Migration20261205100000_idempotency_written_once';

const JOINED_UPDATE = 'update lot set remaining = lot.remaining - t.take from unnest(v_lot_ids, v_takes) as t(lot_id, take) where lot.id = t.lot_id;';

/**
 * `ledger_write` stores its answer with `idempotency_answer`, as the general path does, and a
 * spend in it takes from its lots one by one, each by its key. Joining the lots
 * with the arrays of ids and takes was planned anew on every call — its generic plan, costed for
 * arrays of unknown length, always looked dearer than a custom one — about 90 µs of PostgreSQL's
 * planning per redemption (pg_stat_statements with track_planning). An update by primary key
 * settles on its generic plan after five calls, like the function's other statements.
 */
const ONE_LOT_AT_A_TIME = `for i in 1 .. coalesce(array_length(v_lot_ids, 1), 0) loop
      update lot set remaining = remaining - v_takes[i] where id = v_lot_ids[i];
    end loop;`;

/** The general path's statement that took the key's lock is now a function (20261206100000). */
const OLD_LOCK_NOTE = "-- The same lock as idempotency.claim_key's: one call per key at a time, before any row lock.";
const LOCK_NOTE = "-- The same lock as idempotency_turn's (the general path): one call per key at a time, before any row lock.";

/** The key stored with its answer, as the general path stores it (idempotency_answer, 20261206100000). */
const OWN_ANSWER = `  insert into idempotency_record (program_id, key, operation, request_hash, response)
    values (p_program_id, p_key, p_operation, p_request_hash, body::json)
    on conflict do nothing;
  if not found then
    raise exception 'idempotency key % was taken by a concurrent call', p_key using errcode = 'serialization_failure';
  end if;`;
const SHARED_ANSWER = '  perform idempotency_answer(p_program_id, p_key, p_operation, p_request_hash, body);';

export class Migration20261206200000_ledger_write_spends extends Migration {
  override async up(): Promise<void> {
    const text = LEDGER_WRITE_20261205.replace(JOINED_UPDATE, ONE_LOT_AT_A_TIME).replace(OLD_LOCK_NOTE, LOCK_NOTE).replace(OWN_ANSWER, SHARED_ANSWER);
    if (![ONE_LOT_AT_A_TIME, LOCK_NOTE, SHARED_ANSWER].every((part) => text.includes(part))) {
      throw new Error('ledger_write no longer holds the statements and the note this migration replaces');
    }
    this.addSql(text);
  }

  override async down(): Promise<void> {
    this.addSql(LEDGER_WRITE_20261205);
  }
}
