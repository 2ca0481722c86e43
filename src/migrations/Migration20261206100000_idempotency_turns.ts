import { Migration } from '@mikro-orm/migrations';

/**
 * The general path writes an idempotency record once too, with its answer, as its last write
 * (as `ledger_write` does since 20261205100000): `idempotency_turn` waits for the key's turn —
 * the advisory lock every path takes before any row lock — and then reads the key; the call
 * answers from the record when there is one, and otherwise does its work and stores the key
 * with the answer through `idempotency_answer`. Before, a call claimed the key with an insert and
 * stored its answer with an update of the same row: one statement and a row version more per
 * write. `ledger_write` stores its answer through `idempotency_answer` too (20261206200000).
 *
 * The read is a statement of its own inside the function: a volatile function's statements each
 * take a fresh snapshot, so a call that waited for the key sees what the call before it committed
 * (in one statement with the lock, it would read from before the wait).
 */
export class Migration20261206100000_idempotency_turns extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create function idempotency_turn(p_program_id uuid, p_key text)
  returns table (operation text, request_hash text, response json)
  language plpgsql volatile as $fn$
begin
  perform pg_advisory_xact_lock(hashtextextended(p_program_id::text || '/' || p_key, 0));
  return query select r.operation, r.request_hash, r.response from idempotency_record r
    where r.program_id = p_program_id and r.key = p_key;
end;
$fn$;

/*
 * Stores the key with its answer. Every path waits for the key's turn before it writes, so the
 * key is free here; should a writer have done without the lock, this fails with
 * serialization_failure and the caller runs the whole call again (and answers from the record).
 */
create function idempotency_answer(p_program_id uuid, p_key text, p_operation text, p_request_hash text, p_response text)
  returns void language plpgsql volatile as $fn$
begin
  insert into idempotency_record (program_id, key, operation, request_hash, response)
    values (p_program_id, p_key, p_operation, p_request_hash, p_response::json)
    on conflict do nothing;
  if not found then
    raise exception 'idempotency key % was taken by a concurrent call', p_key using errcode = 'serialization_failure';
  end if;
end;
$fn$;
`);
  }

  override async down(): Promise<void> {
    this.addSql('drop function idempotency_answer(uuid, text, text, text, text); drop function idempotency_turn(uuid, text);');
  }
}
