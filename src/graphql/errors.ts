import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ArgumentValidationError } from 'type-graphql';
import { classifyDatabaseError } from '../db/failures';
import { ErrorCode, PatronError } from '../errors';
import type { Logger } from '../logger';

/** Codes graphql-js and Apollo give for malformed requests; they pass through unchanged. */
export const REQUEST_CODES = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND', 'OPERATION_RESOLUTION_FAILURE']);

const PERSISTED_QUERY_MISMATCH = 'provided sha does not match query';
const INTROSPECTION_REFUSED = /^GraphQL introspection (is not allowed|has been disabled)/;
/** graphql-armor words every limit it enforces as a syntax error; the document parsed fine. */
const ARMOR_PREFIX = /^Syntax Error: (?=Query \w+ limit|\w+ limit of)/i;

const UNAVAILABLE = {
  connection: 'The database is unavailable; retry the request',
  conflict: 'The database is busy with conflicting writes; retry the request',
  timeout: 'The database took too long; retry the request',
} as const;

/**
 * Every error leaves with a stable `extensions.code`. Errors the domain raised on purpose keep
 * their message and details; anything unexpected is masked, and logged here when `logUnexpected`
 * (over HTTP the operation log does it, under the request's id).
 */
export function createErrorFormatter(logger: Logger, exposeDetails: boolean, logUnexpected = true) {
  // In production a refused request's message names no limit's figure and suggests no enum
  // value ("Did you mean ADMIN?"): both help a prober more than a client.
  const requestMessage = (message: string) => {
    // Apollo (HTTP) and graphql-js's rule (WebSocket) word a refused introspection each their
    // way, Apollo's naming a constructor option: both say what to set instead.
    if (INTROSPECTION_REFUSED.test(message)) return 'Introspection is turned off on this server (PATRON_INTROSPECTION)';
    message = message.replace(ARMOR_PREFIX, '');
    return exposeDetails ? message : message.replace(/more th[ae][nt] \d+ tokens/, 'too many tokens').replace(/\s*Did you mean [^?]*\?/g, '');
  };
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const base = { locations: formatted.locations, path: formatted.path };
    if (original instanceof PatronError) {
      return { ...base, message: original.message, extensions: { code: original.code, ...original.details } };
    }
    if (original instanceof ArgumentValidationError) {
      const fields = original.extensions.validationErrors as ValidationFailure[];
      return {
        ...base,
        message: 'Invalid input: ' + describeValidation(fields).join('; '),
        // `field` as every other BAD_USER_INPUT names it (the first that failed); `fields` says what failed, each.
        extensions: { code: ErrorCode.BAD_USER_INPUT, field: firstField(fields), fields: describeValidation(fields) },
      };
    }
    const failure = classifyDatabaseError(original);
    if (failure) {
      // Resending is safe: the write rolled back, or (a connection lost during commit) its
      // idempotency key replays what was committed.
      logger.warn({ err: original, failure, path: formatted.path }, 'database unavailable');
      return { ...base, message: UNAVAILABLE[failure], extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, retryable: true } };
    }
    const code = formatted.extensions?.code as string | undefined;
    // Apollo raises this one without a code (so it would read INTERNAL_SERVER_ERROR); the
    // WebSocket transport gives the same message and code.
    if (formatted.message === PERSISTED_QUERY_MISMATCH) return { ...base, message: PERSISTED_QUERY_MISMATCH, extensions: { code: 'BAD_REQUEST' } };
    // Refused at the door (before Apollo ran the operation): keep when to retry.
    if (code === ErrorCode.RATE_LIMITED) return { ...base, message: formatted.message, extensions: { code, retryAfterSeconds: formatted.extensions?.retryAfterSeconds } };
    if (code && REQUEST_CODES.has(code)) return { ...formatted, message: requestMessage(formatted.message), extensions: { code } };
    if (original instanceof GraphQLError && !original.originalError && !original.path) {
      // Armor's limits and graphql-js validation report plain GraphQLErrors without a code.
      return { ...base, message: requestMessage(original.message), extensions: { code: code ?? 'GRAPHQL_VALIDATION_FAILED' } };
    }
    if (logUnexpected) logger.error({ err: original, path: formatted.path }, 'unexpected error');
    return {
      ...base,
      message: exposeDetails && original instanceof Error ? original.message : 'Internal server error',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

interface ValidationFailure {
  property: string;
  constraints?: Record<string, string>;
  children?: ValidationFailure[];
}

/** A property's path under its parent's: `lines[2]`, `lines[2].quantity`. */
const pathOf = (parent: string, property: string) =>
  /^\d+$/.test(property) ? `${parent}[${property}]` : parent ? `${parent}.${property}` : property;

/** The path of the first property that failed: `idempotencyKey`, `lines[2].sku`. */
function firstField(errors: ValidationFailure[], parent = ''): string | undefined {
  for (const e of errors) {
    const path = pathOf(parent, e.property);
    if (e.constraints && Object.keys(e.constraints).length > 0) return path;
    const nested = firstField(e.children ?? [], path);
    if (nested) return nested;
  }
  return undefined;
}

/** Each failure's sentence (it starts with the property's name), under its parent's path. */
function describeValidation(errors: ValidationFailure[], parent = ''): string[] {
  return errors.flatMap((e) => [
    ...Object.values(e.constraints ?? {}).map((m) => (parent ? `${parent}.${m}` : m)),
    ...describeValidation(e.children ?? [], pathOf(parent, e.property)),
  ]);
}
