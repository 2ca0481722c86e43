/**
 * Errors a service may raise on purpose. Each has a stable code that reaches clients as
 * `extensions.code`; anything else is masked as INTERNAL_SERVER_ERROR.
 */
export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  INSUFFICIENT_POINTS = 'INSUFFICIENT_POINTS',
  IDEMPOTENCY_CONFLICT = 'IDEMPOTENCY_CONFLICT',
  ACCOUNT_FROZEN = 'ACCOUNT_FROZEN',
  INVALID_STATE = 'INVALID_STATE',
  AUTHORIZATION_EXPIRED = 'AUTHORIZATION_EXPIRED',
  NOT_REVERSIBLE = 'NOT_REVERSIBLE',
  ALREADY_REVERSED = 'ALREADY_REVERSED',
  CONFLICT = 'CONFLICT',
  /** The database was unreachable, busy or too slow; the same request may be sent again. */
  SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE',
  /** Too many requests or failed authentications; `retryAfterSeconds` says when to try again. */
  RATE_LIMITED = 'RATE_LIMITED',
}

export class PatronError extends Error {
  /**
   * Only `http`: the status and headers an HTTP answer carrying this error gets (graphql-js copies
   * an original error's extensions to the error it reports, and Apollo takes them from there).
   */
  extensions?: { http: { status: number; headers?: Map<string, string> } };

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'PatronError';
  }

  /** This error, answered over HTTP with `status` (and `headers`). */
  withHttpStatus(status: number, headers?: Record<string, string>): this {
    this.extensions = { http: { status, ...(headers && { headers: new Map(Object.entries(headers)) }) } };
    return this;
  }
}

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new PatronError(ErrorCode.BAD_USER_INPUT, message, details);

export const notFound = (what: string, details?: Record<string, unknown>) =>
  new PatronError(ErrorCode.NOT_FOUND, `${what} not found`, details);

/**
 * Error details speak the API's language, so a client can compare them with what it reads:
 * an enum value as the GraphQL enum spells it (`paid` → `PAID`), a ledger entry's id as the
 * string the API gives for it.
 */
export const apiEnum = (value: string): string => value.toUpperCase();
export const apiEntryId = (id: number | string): string => String(id);
