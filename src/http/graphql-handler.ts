import { HeaderMap, type ApolloServer, type BaseContext, type HTTPGraphQLRequest, type HTTPGraphQLResponse } from '@apollo/server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readJsonBody } from './json-body';
import type { RequestInfo, Route } from './router';

export interface GraphqlHandlerOptions<TContext extends BaseContext> {
  /** Largest request body, in bytes (413 above it). */
  maxBodyBytes: number;
  /** The operation's context: authentication and rate limits; a GraphQLError it throws is Apollo's answer. */
  context(req: IncomingMessage, requestId: string): Promise<TContext>;
}

/**
 * GraphQL over HTTP on plain `node:http`: the request goes to Apollo's own HTTP pipeline
 * (`executeHTTPGraphQLRequest`: CSRF prevention, GET and POST, 405 for other methods, status codes
 * from errors) and its answer is written as it is. No framework in between: no ETag, no body
 * parser middleware. A body that cannot be read rejects (BodyError), for the router to answer.
 */
export function graphqlHandler<TContext extends BaseContext>(apollo: ApolloServer<TContext>, options: GraphqlHandlerOptions<TContext>): Route {
  return async (req: IncomingMessage, res: ServerResponse, { requestId, search }: RequestInfo): Promise<void> => {
    const method = req.method ?? 'GET';
    const httpGraphQLRequest: HTTPGraphQLRequest = {
      method,
      headers: headerMap(req),
      search,
      // Only POST bodies are read: Apollo reads GET from the query string and refuses other methods.
      body: method === 'POST' ? await readJsonBody(req, options.maxBodyBytes) : undefined,
    };
    const response = await apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest, context: () => options.context(req, requestId) });
    await writeResponse(res, response);
  };
}

function headerMap(req: IncomingMessage): HeaderMap {
  const headers = new HeaderMap();
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

async function writeResponse(res: ServerResponse, response: HTTPGraphQLResponse): Promise<void> {
  res.statusCode = response.status ?? 200;
  // Answers are per caller (balances, histories): no cache in between may keep one, GET or POST.
  res.setHeader('cache-control', 'no-store');
  for (const [name, value] of response.headers) res.setHeader(name, value);
  if (response.body.kind === 'complete') {
    res.setHeader('content-length', Buffer.byteLength(response.body.string));
    res.end(response.body.string);
    return;
  }
  // Incremental delivery (@defer): each part as soon as it is ready.
  for await (const chunk of response.body.asyncIterator) {
    if (res.destroyed) break;
    res.write(chunk);
  }
  res.end();
}
