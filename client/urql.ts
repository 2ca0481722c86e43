/**
 * urql for Patron with urql's defaults: queries go as GET (`preferGetMethod: 'within-url-limit'`),
 * which Patron accepts because the request carries `Authorization` (CSRF prevention lets
 * requests with credentials in headers through). Subscriptions over graphql-ws.
 */
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient, type ClientOptions } from 'graphql-ws';

export interface PatronUrqlOptions {
  httpUrl: string;
  wsUrl: string;
  credential: string;
  webSocketImpl?: ClientOptions['webSocketImpl'];
  fetch?: typeof fetch;
}

export function createPatronUrqlClient(options: PatronUrqlOptions): Client {
  const authorization = `Bearer ${options.credential}`;
  const ws = createClient({ url: options.wsUrl, connectionParams: { Authorization: authorization }, webSocketImpl: options.webSocketImpl });
  return new Client({
    url: options.httpUrl,
    fetch: options.fetch,
    fetchOptions: { headers: { authorization } },
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
}
