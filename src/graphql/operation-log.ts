import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError } from 'graphql';
import { ArgumentValidationError } from 'type-graphql';
import { classifyDatabaseError } from '../db/failures';
import { PatronError } from '../errors';
import type { Logger } from '../logger';
import { REQUEST_CODES } from './errors';
import type { Context, Identity } from './context';

/** Who called, as a log line names them: never the secret, only the key's id or the member's. */
export function callerOf(identity: Identity | undefined): Record<string, string> {
  if (!identity || identity.kind === 'anonymous') return { role: 'anonymous' };
  if (identity.kind === 'customer') return { role: 'customer', programId: identity.programId, memberId: identity.memberId };
  return { role: identity.operator ? 'operator' : identity.role, programId: identity.programId, keyId: identity.keyId };
}

/** An error nobody raised on purpose (a bug): its details are masked for the client and logged here. */
function isUnexpected(error: GraphQLError): boolean {
  // Apollo wraps a client's parse, validation and operation-resolution errors (originalError set).
  if (REQUEST_CODES.has(error.extensions?.code as string)) return false;
  const original = unwrapResolverError(error);
  if (original instanceof PatronError || original instanceof ArgumentValidationError || classifyDatabaseError(original)) return false;
  return !(original instanceof GraphQLError && !original.originalError);
}

/**
 * One structured log line per GraphQL operation over HTTP: its name and type, the caller's role
 * and key (or member) id, how long it took and the error codes it answered with. Unexpected
 * errors are logged with the stack, under the request's id, before they are masked.
 *
 * Lines go to the server's logger with `requestId` as a field, not through the request's child
 * logger: a child costs a serialization of its bindings, which most requests never need.
 */
export function operationLog(logger: Logger): ApolloServerPlugin<Context> {
  return {
    async requestDidStart({ contextValue }) {
      // Its lines are at error, warn or info: a logger that writes none of them needs no hooks.
      if (!logger.isLevelEnabled('error')) return;
      const started = performance.now();
      const { requestId } = contextValue;
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            if (isUnexpected(error)) logger.error({ requestId, err: unwrapResolverError(error), path: error.path }, 'unexpected error');
          }
        },
        async willSendResponse({ response, operation, operationName }) {
          const body = response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : undefined;
          const codes = errors?.length ? [...new Set(errors.map((e) => String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR')))] : null;
          const level = codes ? 'warn' : 'info';
          if (!logger.isLevelEnabled(level)) return;
          const line = {
            requestId,
            operation: operationName ?? null,
            type: operation?.operation ?? null,
            ...callerOf(contextValue.identity),
            durationMs: performance.now() - started,
            ...(codes ? { errors: codes } : {}),
          };
          if (codes) logger.warn(line, 'graphql operation failed');
          else logger.info(line, 'graphql operation');
        },
      };
    },
  };
}
