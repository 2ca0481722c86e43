import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { GraphQLError, execute, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import type { Database } from './db/database';
import type { PubSub } from 'type-graphql';
import type { Config } from './config';
import type { JobRunner } from './jobs/runner';
import type { Clock } from './services/shared';
import { classifyDatabaseError } from './db/failures';
import { ErrorCode, PatronError } from './errors';
import type { Logger } from './logger';
import type { Services } from './services';
import { INVALID_TOKEN_CHALLENGE, identify } from './graphql/auth';
import { RequestScope, type ClientInfo, type Context, type Identity } from './graphql/context';
import { createErrorFormatter } from './graphql/errors';
import { operationLog } from './graphql/operation-log';
import { trackConnections } from './http-drain';
import { createGraphiqlHandler, GRAPHIQL_DEFAULT_HEADERS, GRAPHIQL_STARTER_QUERY } from './graphql/graphiql';
import { armor, MAX_REQUEST_BYTES, MAX_TOKENS } from './graphql/limits';
import { prepareWebSocketOperation, toGraphQLError } from './graphql/ws-operation';
import { createSharedSubscribe } from './graphql/shared-subscriptions';
import { RateLimits } from './http/rate-limit';
import { createLoaders } from './graphql/loaders';
import { originPolicy, verifyWebSocketOrigin } from './http/cors';
import { graphqlHandler } from './http/graphql-handler';
import { rootPage } from './http/root-page';
import { refuseInvalidUtf8 } from './http/ws-frames';
import { createRouter } from './http/router';

export interface HttpServerDeps {
  config: Config;
  schema: GraphQLSchema;
  services: Services;
  pubsub: PubSub;
  jobs: JobRunner;
  db: Database;
  clock: Clock;
  logger: Logger;
}

export interface PatronHttpServer {
  httpServer: http.Server;
  listen(port: number, host: string): Promise<number>;
  /** Drains HTTP and WebSocket clients, then stops; `closeIdle` is for tests (see HttpDrain). */
  close(options?: { closeIdle?: boolean }): Promise<void>;
}

/** Longer than the keep-alive timeout (5 s), so idle keep-alive sockets close on their own first. */
const DRAIN_DEADLINE_MS = 10_000;

/**
 * Where a request came from, as services log and record it and rate limits count it. Behind one
 * trusted proxy the address is the last X-Forwarded-For entry: the one that proxy added (earlier
 * entries are whatever the client sent).
 */
function clientOf(req: http.IncomingMessage, trustProxy: boolean): ClientInfo {
  const agent = req.headers['user-agent'];
  const forwarded = trustProxy ? String(req.headers['x-forwarded-for'] ?? '').split(',').pop()?.trim() : '';
  return { address: forwarded || (req.socket.remoteAddress ?? null), userAgent: typeof agent === 'string' ? agent.slice(0, 300) : null };
}

/** HTTP (GraphQL, GraphiQL, health) and WebSocket subscriptions on one port. */
export async function createHttpServer(deps: HttpServerDeps): Promise<PatronHttpServer> {
  const { config, schema, services, logger } = deps;
  const httpServer = http.createServer();
  const connections = trackConnections(httpServer);
  const limits = armor(config.introspection, config.env !== 'production');
  const formatError = createErrorFormatter(logger, config.env !== 'production');
  // Over HTTP, unexpected errors are logged by the operation log, with the request's id.
  const formatHttpError = createErrorFormatter(logger, config.env !== 'production', false);
  const origins = originPolicy(config.corsOrigins);
  const rateLimits = new RateLimits({ authFailures: config.authFailuresPerMinute, requestsPerCredential: config.requestsPerKeyPerMinute });
  const clientOfRequest = (req: http.IncomingMessage) => clientOf(req, config.trustProxy);

  const contextFor = (identity: Identity, requestId: string, client: ClientInfo): Context =>
    new RequestScope(
      requestId,
      identity,
      client,
      services,
      createLoaders(services, identity.kind === 'anonymous' ? null : identity.programId),
      deps.pubsub,
      deps.jobs,
      logger,
    );

  // WebSocket: credentials from connectionParams, checked again for every operation and while
  // subscriptions stay open, so a revoked key or an expired token loses the socket.
  // Messages are limited like HTTP bodies (ws's default is 100 MiB, read before authentication);
  // a larger one closes the socket with 1009, one that is not UTF-8 with 1007.
  const wss = new WebSocketServer({ server: httpServer, path: '/graphql', verifyClient: verifyWebSocketOrigin(origins), maxPayload: MAX_REQUEST_BYTES });
  wss.on('connection', refuseInvalidUtf8);
  const forbidden = (socket: { close(code: number, reason: string): void }) => socket.close(4403, 'Forbidden');
  const wsServer = useServer<Record<string, unknown>, { identity?: Identity; credential?: unknown }>(
    {
      schema,
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const credential = params.Authorization ?? params.authorization;
        const { address } = clientOfRequest(ctx.extra.request);
        const tooMany = () => {
          ctx.extra.socket.close(4429, 'Too many requests');
          return false;
        };
        if (await rateLimits.beforeAuthentication(address).then(() => false, () => true)) return tooMany();
        const identity = await identify(services.access, credential).catch(async (error) => {
          if (error instanceof PatronError && (await rateLimits.authenticationFailed(address).then(() => false, () => true))) return 'limited' as const;
          return null;
        });
        if (identity === 'limited') return tooMany();
        if (!identity || identity.kind === 'anonymous') return false;
        ctx.extra.identity = identity;
        ctx.extra.credential = credential;
        watchCredential(ctx.extra.socket, identity, deps.clock, () => identify(services.access, credential), () => forbidden(ctx.extra.socket));
        return true;
      },
      context: (ctx) => contextFor(ctx.extra.identity!, randomUUID(), clientOfRequest(ctx.extra.request)),
      onSubscribe: async (ctx, _id, payload) => {
        const identity = await identify(services.access, ctx.extra.credential).catch(() => null);
        if (!identity || identity.kind === 'anonymous') {
          forbidden(ctx.extra.socket);
          return [new GraphQLError('Invalid, revoked or expired credentials', { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        ctx.extra.identity = identity;
        try {
          await rateLimits.request(identity);
        } catch (error) {
          return [toGraphQLError(formatError({ message: (error as Error).message }, error), error)];
        }
        return prepareWebSocketOperation(schema, payload, limits.webSocketRules, formatError);
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!('errors' in result) || !result.errors) return result;
        return { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) } as never;
      },
      execute,
      // Subscribers that asked the same thing share one execution per event.
      subscribe: createSharedSubscribe(),
    },
    wss,
  );

  const apollo = new ApolloServer<Context>({
    schema,
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    // main.ts owns shutdown: drain, then close the pool, then stop the embedded database.
    stopOnTerminationSignals: false,
    validationRules: limits.validationRules,
    parseOptions: { maxTokens: MAX_TOKENS },
    // Credentials travel in headers, never cookies: a request that carries one cannot be a
    // simple cross-site request, so it passes, as do Apollo's own headers. urql's GET queries
    // (preferGetMethod) carry Authorization and need no apollo-require-preflight.
    csrfPrevention: { requestHeaders: ['authorization', 'x-api-key', 'x-apollo-operation-name', 'apollo-require-preflight'] },
    formatError: formatHttpError,
    plugins: [
      ...limits.plugins,
      operationLog(logger),
      // Apollo's own landing page loads from its CDN; GraphiQL (when enabled) is served by the router instead.
      ApolloServerPluginLandingPageDisabled(),
      // No cache hints are declared, so every answer is uncacheable (the edge says no-store); the
      // plugin would only wrap every field's resolver to find that out, on every operation.
      ApolloServerPluginCacheControlDisabled(),
    ],
  });
  await apollo.start();

  // Credentials are checked, and rate limits counted, before Apollo runs the operation.
  const context = async (req: http.IncomingMessage, requestId: string): Promise<Context> => {
    const client = clientOfRequest(req);
    await rateLimits.beforeAuthentication(client.address).catch(throwTooManyRequests);
    let identity: Identity;
    try {
      identity = await identify(services.access, req.headers.authorization ?? req.headers['x-api-key']);
    } catch (error) {
      if (error instanceof PatronError) {
        await rateLimits.authenticationFailed(client.address).catch(throwTooManyRequests);
        throw unauthenticated(error);
      }
      if (classifyDatabaseError(error)) throw unavailable(error);
      throw error;
    }
    await rateLimits.request(identity).catch(throwTooManyRequests);
    return contextFor(identity, requestId, client);
  };

  httpServer.on(
    'request',
    createRouter({
      logger,
      origins,
      rootPage: rootPage({ graphiql: config.graphiql, graphqlPath: '/graphql', healthPath: '/healthz' }),
      healthCheck: () => deps.db.execute('select 1'),
      graphiql: config.graphiql
        ? createGraphiqlHandler({
            endpoint: '/graphql',
            subscriptionEndpoint: '/graphql',
            defaultHeaders: GRAPHIQL_DEFAULT_HEADERS,
            defaultQuery: GRAPHIQL_STARTER_QUERY,
          })
        : null,
      graphql: graphqlHandler(apollo, { maxBodyBytes: MAX_REQUEST_BYTES, context }),
    }),
  );

  return {
    httpServer,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => resolve((httpServer.address() as { port: number }).port));
      }),
    // HTTP requests in flight are answered while subscriptions are told to go; then Apollo stops.
    close: async (options) => {
      await Promise.all([connections.drain(DRAIN_DEADLINE_MS, options), wsServer.dispose()]);
      await apollo.stop();
      wss.close();
    },
  };
}

const CREDENTIAL_RECHECK_MS = 10_000;

/**
 * Closes a socket when its credentials stop being valid: every credential is checked again
 * every few seconds (cheap with the key cache; it also follows the service clock for tokens),
 * and a customer token's socket also closes right at its expiry.
 */
function watchCredential(
  socket: { readyState: number; once(event: 'close', listener: () => void): unknown },
  identity: Identity,
  clock: Clock,
  recheck: () => Promise<Identity>,
  close: () => void,
): void {
  // The client may have gone while its credentials were being checked: nothing to watch.
  if (socket.readyState !== WebSocket.OPEN) return;
  const timers = [
    setInterval(() => {
      recheck().catch(() => close());
    }, CREDENTIAL_RECHECK_MS),
  ];
  if (identity.kind === 'customer') {
    // setTimeout holds at most 2^31 ms; tokens live at most a day.
    timers.push(setTimeout(close, Math.min(2 ** 31 - 1, Math.max(0, identity.expiresAt.getTime() - clock.now().getTime()))));
  }
  for (const timer of timers) timer.unref();
  socket.once('close', () => timers.forEach(clearTimeout));
}

/** The key could not be checked because the database is away: 503, and the client may retry. */
function unavailable(error: unknown) {
  return new GraphQLError('The database is unavailable; retry the request', {
    originalError: error as Error,
    extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, retryable: true, http: { status: 503 } },
  });
}

/** A rate limit refused the request before execution: HTTP 429 with Retry-After. */
function throwTooManyRequests(error: unknown): never {
  if (!(error instanceof PatronError) || error.code !== ErrorCode.RATE_LIMITED) throw error;
  const retryAfterSeconds = Number(error.details?.retryAfterSeconds ?? 60);
  throw new GraphQLError(error.message, {
    extensions: { code: error.code, retryAfterSeconds, http: { status: 429, headers: new Map([['retry-after', String(retryAfterSeconds)]]) } },
  });
}

/** Credentials are checked before execution: Apollo answers 401 with the code. */
function unauthenticated(error: PatronError) {
  return new GraphQLError(error.message, {
    extensions: { code: error.code, http: { status: 401, headers: new Map([['www-authenticate', INVALID_TOKEN_CHALLENGE]]) } },
  });
}
