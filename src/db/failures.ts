import { MAX_ACCOUNT_POINTS } from '../entities/account';
import { PatronError, badInput } from '../errors';

/**
 * How database failures are told apart. A *conflict* (deadlock, serialization failure) is
 * retried inside the transaction; a *lost connection* or a *timeout* fails the request with a
 * code that says the same request may be sent again.
 */

/** Deadlock detected, serialization failure: the transaction can simply run again. */
const CONFLICT_CODES = new Set(['40P01', '40001']);
/** Socket-level failures reaching the server, or the server closing our socket. */
const SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** Admin shutdown, crash shutdown, cannot connect now, idle session timeout; too many connections. */
const SERVER_GONE_CODES = new Set(['57P01', '57P02', '57P03', '57P05', '53300']);
/** statement_timeout (query_canceled), idle_in_transaction_session_timeout. */
const TIMEOUT_CODES = new Set(['57014', '25P03']);
const CONNECTION_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Connection ended unexpectedly/;

export type DatabaseFailure = 'conflict' | 'connection' | 'timeout';

/** The kind of database failure behind `error` (or its cause chain), if it is one. */
export function classifyDatabaseError(error: unknown): DatabaseFailure | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (CONFLICT_CODES.has(code)) return 'conflict';
      if (SOCKET_CODES.has(code) || SERVER_GONE_CODES.has(code) || code.startsWith('08')) return 'connection';
      if (TIMEOUT_CODES.has(code)) return 'timeout';
    }
    if (typeof message === 'string' && CONNECTION_MESSAGES.test(message)) return 'connection';
    e = (e as { originalError?: unknown; cause?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export const isConflict = (error: unknown): boolean => classifyDatabaseError(error) === 'conflict';

/**
 * Full-jitter exponential backoff before retry number `attempt` (1 = first retry): a random
 * wait up to base·2^(attempt-1), capped, so transactions that collided do not collide again.
 */
export function backoffMs(attempt: number, baseMs = 10, capMs = 500, random = Math.random): number {
  return Math.round(random() * Math.min(capMs, baseMs * 2 ** (attempt - 1)));
}

/**
 * CHECK constraints that bound a caller's input (rather than guard against a bug), by name:
 * the field the caller should change and what to tell them.
 */
const INPUT_BOUNDS: Record<string, { field: string; message: string }> = {
  account_points_within_money_bound: {
    field: 'points',
    message: `points: the account would hold more than ${MAX_ACCOUNT_POINTS} points, the most one account may hold (so what its points are worth stays exact)`,
  },
};

/**
 * The BAD_USER_INPUT for a write the database refused because it crosses an input bound
 * (its transaction has rolled back: nothing was written), or undefined.
 */
export function refusedInput(error: unknown): PatronError | undefined {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  const bound = code === '23514' && typeof constraint === 'string' ? INPUT_BOUNDS[constraint] : undefined;
  return bound && badInput(bound.message, { field: bound.field });
}
