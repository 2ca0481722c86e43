import { statement } from '../../db/statement';

/**
 * Waits for the key's turn — its transaction-level advisory lock, which `ledger_write` takes too,
 * before any row lock — and reads the key: the first call's record, or no row when this call is
 * the first. The lock is held to the end of the transaction, so a twin waits here until this call
 * has committed its answer (or rolled back and freed the key).
 */
export const takeTurn = statement<[programId: string, key: string], { operation: string; request_hash: string; response: unknown }>(
  'idempotency.take_turn',
  'select operation, request_hash, response from idempotency_turn(?::uuid, ?::text)',
);

/** Stores the key with the first result, as `json` so a replay returns it byte for byte. */
export const storeAnswer = statement<[programId: string, key: string, operation: string, requestHash: string, response: string], never>(
  'idempotency.store_answer',
  'select from idempotency_answer(?::uuid, ?::text, ?::text, ?::text, ?::text)',
);
