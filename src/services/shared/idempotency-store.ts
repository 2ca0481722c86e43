import { statement } from '../../db/statement';

/**
 * Claims a key: one row back when this call is the first with it, none when it was used before.
 * It first takes the key's transaction-level advisory lock — the lock `ledger_write` takes before
 * any row lock — so a claim and a one-statement write of one key take turns instead of each
 * holding what the other waits for (the key here, the member's account there).
 */
export const claimKey = statement<[programId: string, key: string, operation: string, requestHash: string], { claimed: number }>(
  'idempotency.claim_key',
  `with v (program_id, key, operation, request_hash) as (values (?::uuid, ?::text, ?::text, ?::text)),
   turn as (select pg_advisory_xact_lock(hashtextextended(v.program_id::text || '/' || v.key, 0)) from v)
   insert into idempotency_record (program_id, key, operation, request_hash)
   select v.program_id, v.key, v.operation, v.request_hash from v, turn
   on conflict do nothing returning 1 as claimed`,
);

export const firstCall = statement<[programId: string, key: string], { operation: string; request_hash: string; response: unknown }>(
  'idempotency.first_call',
  'select operation, request_hash, response from idempotency_record where program_id = ? and key = ?',
);

/** The first result, stored as `json` so a replay returns it byte for byte. */
export const storeResponse = statement<[response: string, programId: string, key: string], never>(
  'idempotency.store_response',
  'update idempotency_record set response = ?::json where program_id = ? and key = ?',
);
