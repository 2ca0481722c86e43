import { createHash } from 'node:crypto';
import {
  GraphQLError,
  getOperationAST,
  getVariableValues,
  parse,
  specifiedRules,
  validate,
  type ExecutionArgs,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { MAX_TOKENS } from './limits';

/** What a graphql-ws `subscribe` message carries. */
export interface WebSocketPayload {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
  extensions?: Record<string, unknown> | null;
}

type Format = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/**
 * Turns a WebSocket operation into execution arguments, or into the errors HTTP (Apollo) would
 * give for the same request, with the same codes and messages: a persisted-query hash that
 * does not match (BAD_REQUEST), a syntax error (GRAPHQL_PARSE_FAILED), a validation error
 * (GRAPHQL_VALIDATION_FAILED), no operation to run (OPERATION_RESOLUTION_FAILURE) and variables
 * that do not coerce (BAD_USER_INPUT). graphql-js's execute would report the last two without
 * a code or as unexpected errors.
 */
export function prepareWebSocketOperation(schema: GraphQLSchema, payload: WebSocketPayload, rules: readonly ValidationRule[], format: Format): ExecutionArgs | GraphQLError[] {
  const refuse = (message: string, code: string, original?: unknown) => [toGraphQLError(format({ message, extensions: { code } }, original ?? new GraphQLError(message)), original)];

  const hash = (payload.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined)?.sha256Hash;
  if (hash !== undefined && hash !== createHash('sha256').update(payload.query).digest('hex')) {
    return refuse('provided sha does not match query', 'BAD_REQUEST');
  }

  let document;
  try {
    document = parse(payload.query, { maxTokens: MAX_TOKENS });
  } catch (error) {
    return refuse((error as Error).message, 'GRAPHQL_PARSE_FAILED', error);
  }
  const errors = validate(schema, document, [...specifiedRules, ...rules]);
  if (errors.length > 0) return errors.map((e) => toGraphQLError(format({ message: e.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }, e), e));

  const operationName = payload.operationName ?? undefined;
  const operation = getOperationAST(document, operationName);
  if (!operation) {
    // Apollo's wording, so both transports say the same.
    const message = operationName ? `Unknown operation named "${operationName}".` : 'Must provide operation name if query contains multiple operations.';
    return refuse(message, 'OPERATION_RESOLUTION_FAILURE');
  }
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], payload.variables ?? {}, { maxErrors: 50 });
  if (coerced.errors) return coerced.errors.map((e) => toGraphQLError(format({ message: e.message, locations: e.locations, extensions: { code: 'BAD_USER_INPUT' } }, e), e));

  return { schema, document, variableValues: payload.variables, operationName } as ExecutionArgs;
}

/**
 * graphql-ws sends the errors onSubscribe returns only when they are GraphQLError instances;
 * anything else (such as formatted plain objects) makes it close the socket with 4500. The
 * message is the formatter's, as over HTTP (in production, without suggestions).
 */
export function toGraphQLError(formatted: GraphQLFormattedError, original: unknown): GraphQLError {
  const at = original instanceof GraphQLError ? { nodes: original.nodes, source: original.source, positions: original.positions } : {};
  return new GraphQLError(formatted.message, { ...at, extensions: formatted.extensions });
}
