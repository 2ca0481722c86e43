/**
 * Patron's typed client: the operations in client/operations as TypedDocumentNodes generated
 * from schema.graphql (`npm run codegen`), plus two small helpers for callers without a
 * GraphQL client library. Apollo Client, urql and graphql-ws take the documents as they are.
 *
 * Scalars: SafeInt (points, money in minor units) → number, DateTimeISO → ISO 8601 string,
 * JSON → unknown.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';

export * from './generated/graphql';

/** A GraphQL error answer; `codes` are the errors' `extensions.code` (UNAUTHENTICATED, INSUFFICIENT_POINTS, …). */
export class PatronRequestError extends Error {
  readonly codes: string[];
  constructor(
    readonly status: number,
    readonly errors: readonly GraphQLFormattedError[],
  ) {
    super(errors.map((e) => e.message).join('; ') || `HTTP ${status}`);
    this.codes = errors.map((e) => String(e.extensions?.code ?? 'UNKNOWN'));
  }
}

/**
 * One operation over `fetch` (POST, JSON). `credential` is an API key or a customer token; it
 * travels as `Authorization: Bearer …`. Throws PatronRequestError when the answer has errors.
 */
export async function patronRequest<TData, TVariables>(
  url: string,
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables,
  credential: string,
  init: { fetch?: typeof fetch; headers?: Record<string, string> } = {},
): Promise<TData> {
  const response = await (init.fetch ?? fetch)(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}`, ...init.headers },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as { data?: TData | null; errors?: GraphQLFormattedError[] };
  if (body.errors?.length || !body.data) throw new PatronRequestError(response.status, body.errors ?? []);
  return body.data;
}

/** A graphql-ws client for Patron's subscriptions: credentials in `connectionParams`. */
export function patronSubscriptions(url: string, credential: string, options: Partial<ClientOptions> = {}): Client {
  return createClient({ url, connectionParams: { Authorization: `Bearer ${credential}` }, ...options });
}

/**
 * Apollo Client `typePolicies` for Patron. Accounts are keyed by `id` (their member's id), as
 * Apollo does by default. A rule reference is kept inside its ledger entry instead: the versions
 * of one rule share the rule's `id` but may differ in name, so keying them by `id` would merge them.
 */
export const patronTypePolicies = {
  RuleRef: { keyFields: false },
} as const;
