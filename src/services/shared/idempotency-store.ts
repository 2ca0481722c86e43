import { statement } from '../../db/statement';

/** Claims a key: one row back when this call is the first with it, none when it was used before. */
export const claimKey = statement<[programId: string, key: string, operation: string, requestHash: string], { claimed: number }>(
  'idempotency.claim_key',
  `insert into idempotency_record (program_id, key, operation, request_hash) values (?, ?, ?, ?)
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
