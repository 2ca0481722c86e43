/**
 * Apollo Client 4 for Patron, as the tests and the cabinet example use it: queries and
 * mutations over HTTP, subscriptions over graphql-ws on the same path, one InMemoryCache.
 * Accounts carry `id`, and `myBalance` / `balanceChanged` events carry the changed `account`,
 * so every watched query that shows an account updates from the event alone.
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { Kind, OperationTypeNode } from 'graphql';
import { createClient, type ClientOptions } from 'graphql-ws';
import { patronTypePolicies } from './index';

export interface PatronApolloOptions {
  /** e.g. https://loyalty.shop.example/graphql */
  httpUrl: string;
  /** e.g. wss://loyalty.shop.example/graphql */
  wsUrl: string;
  /** A customer token (apps) or an API key (backends). */
  credential: string;
  /** Node has no global WebSocket before 22: pass `ws` there. */
  webSocketImpl?: ClientOptions['webSocketImpl'];
  fetch?: typeof fetch;
  /** More graphql-ws options, e.g. `on: { connected, closed }` to show whether updates are live. */
  wsOptions?: Partial<ClientOptions>;
}

export function createPatronApolloClient(options: PatronApolloOptions): ApolloClient {
  const authorization = `Bearer ${options.credential}`;
  const http = new HttpLink({ uri: options.httpUrl, headers: { authorization }, fetch: options.fetch });
  const ws = new GraphQLWsLink(
    createClient({ url: options.wsUrl, connectionParams: { Authorization: authorization }, webSocketImpl: options.webSocketImpl, ...options.wsOptions }),
  );
  const isSubscription = ({ query }: ApolloLink.Operation) => {
    const definition = getMainDefinition(query);
    return definition.kind === Kind.OPERATION_DEFINITION && definition.operation === OperationTypeNode.SUBSCRIPTION;
  };
  return new ApolloClient({
    link: ApolloLink.split(isSubscription, ws, http),
    cache: new InMemoryCache({ typePolicies: patronTypePolicies }),
  });
}
