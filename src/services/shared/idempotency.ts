import { createHash } from 'node:crypto';
import type { Database, UnitOfWork } from '../../db/database';
import { storeAnswer, takeTurn } from './idempotency-store';
import { ErrorCode, PatronError, badInput } from '../../errors';

const MAX_KEY_LENGTH = 200;

/** JSON with sorted keys, so equal inputs hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function requestHash(operation: string, input: unknown): string {
  return createHash('sha256').update(operation).update('\n').update(canonicalJson(input)).digest('hex');
}

export interface IdempotentCall<T> {
  programId: string;
  key: string;
  operation: string;
  input: unknown;
  /** Turns the stored JSON back into the result; also applied to a first run, so both are equal. */
  revive: (json: unknown) => T;
}

/**
 * Runs `work` once per (program, key) inside the caller's transaction. The call first waits for
 * the key's turn (its advisory lock, here and in `ledger_write`): a concurrent request with the
 * same key waits for the first to commit, then replays its stored result. A different input
 * under the same key is an IDEMPOTENCY_CONFLICT. The key is written once, with the result, as
 * the call's last write; if the work fails, the transaction rolls back and the key stays free.
 * A call that is a whole transaction is {@link idempotentTransaction}: a round trip shorter.
 */
export async function once<T>(tx: UnitOfWork, call: IdempotentCall<T>, work: () => Promise<T>): Promise<T> {
  const hash = checkedHash(call);
  const [first] = await tx.run(takeTurn, [call.programId, call.key]);
  if (first) return replay(call, hash, first);
  return answer(tx, call, hash, await work());
}

/**
 * A transaction that is one idempotent call, as {@link once} runs it, a round trip shorter: the
 * key's turn and the work's first statements go out together. PostgreSQL runs the work's behind
 * the turn, and their answers reach the work only once the turn has found the key new
 * (`tx.holdAnswersUntil`). A key used before leaves the work waiting for good (abandoned), and
 * the transaction rolls back whatever the work had sent (`tx.discard`). So the work starts before
 * the turn is known: what it does outside the transaction before its first answer (a flag set,
 * a count) happens on a replay too; and a replay runs the work's first statements, so it waits
 * for the locks they take (a member's account) as a new write would.
 */
export async function idempotentTransaction<T>(db: Database, call: IdempotentCall<T>, work: (tx: UnitOfWork) => Promise<T>): Promise<T> {
  const hash = checkedHash(call);
  return db.transaction(async (tx) => {
    const turn = tx.run(takeTurn, [call.programId, call.key]).then(([first]) => first ?? null);
    tx.holdAnswersUntil(turn.then((first) => first === null));
    const working = work(tx);
    // Abandoned on a replay: what it would throw then (the statements behind a failed turn) is not the answer.
    working.catch(() => undefined);
    const first = await turn;
    if (first) {
      tx.discard();
      return replay(call, hash, first);
    }
    return answer(tx, call, hash, await working);
  });
}

function checkedHash(call: IdempotentCall<unknown>): string {
  checkIdempotencyKey(call.key);
  return requestHash(call.operation, call.input);
}

/** The stored answer of the key's first call, or IDEMPOTENCY_CONFLICT when this call is not the same. */
function replay<T>(call: IdempotentCall<T>, hash: string, first: { operation: string; request_hash: string; response: unknown }): T {
  if (first.operation !== call.operation || first.request_hash !== hash) throw idempotencyConflict(call.key, first.operation);
  return call.revive(first.response);
}

/** Stores the first call's answer with the transaction, and gives it back as a replay would. */
function answer<T>(tx: UnitOfWork, call: IdempotentCall<T>, hash: string, result: T): T {
  // Serialized once: the stored text, and (parsed back) the first answer, so both are equal.
  const stored = JSON.stringify(result);
  // Nothing reads it back in this transaction: it goes out with the commit.
  tx.write(storeAnswer, [call.programId, call.key, call.operation, hash, stored]);
  return call.revive(JSON.parse(stored));
}

/** BAD_USER_INPUT unless the key has 1 to 200 characters, not all blanks. */
export function checkIdempotencyKey(key: string): void {
  // A blank key would be one key for every caller who forgot to set it (the edge refuses it too).
  if (typeof key !== 'string' || !key.trim() || key.length > MAX_KEY_LENGTH) {
    throw badInput(`idempotencyKey must be 1 to ${MAX_KEY_LENGTH} characters, not only blanks`, { field: 'idempotencyKey' });
  }
}

/** The key was used before with another operation or input. */
export function idempotencyConflict(key: string, firstOperation: string): PatronError {
  return new PatronError(ErrorCode.IDEMPOTENCY_CONFLICT, 'This idempotency key was already used with a different request', {
    key,
    firstOperation,
  });
}

/**
 * Keys Patron makes for its own writes (a member's registration, a birthday) start with this
 * prefix, and a client's key may not: no storefront write can take, or hide, a system one.
 */
export const SYSTEM_KEY_PREFIX = 'sys:';

/** A key of Patron's own: systemKey('birthday', memberId, 2026) is 'sys:birthday:<memberId>:2026'. */
export function systemKey(...parts: Array<string | number>): string {
  return SYSTEM_KEY_PREFIX + parts.join(':');
}

/** Refuses a client's idempotency key in the system's space (BAD_USER_INPUT). Call it where client keys come in. */
export function checkClientKey(key: string): void {
  if (typeof key === 'string' && key.startsWith(SYSTEM_KEY_PREFIX)) {
    throw badInput(`idempotencyKey must not start with '${SYSTEM_KEY_PREFIX}': Patron keeps that prefix for its own writes`, {
      field: 'idempotencyKey',
    });
  }
}
