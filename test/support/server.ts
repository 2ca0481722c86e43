import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startApp, type RunningApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger, type Logger } from '../../src/logger';
import type { Clock } from '../../src/services/shared';
import { createTestDatabase, type TestDatabase } from './database';

export const OPERATOR_KEY = 'ptn_adm_test-operator-key-0123456789abcdef';

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string; [k: string]: unknown } }>;
}

/** A real server on a free port with a database of its own; tests talk to it over HTTP and WebSocket. */
export interface TestServer {
  app: RunningApp;
  db: TestDatabase;
  url: string;
  wsUrl: string;
  request<T, V>(doc: TypedDocumentNode<T, V> | string, variables?: V, auth?: string | null): Promise<GraphQLResponse<T>>;
  ws(auth: string | null): Client;
  close(): Promise<void>;
}

export async function startTestServer(opts: { db?: TestDatabase; clock?: Clock; env?: Record<string, string>; logger?: Logger } = {}): Promise<TestServer> {
  const db = opts.db ?? (await createTestDatabase());
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', PATRON_ADMIN_KEY: OPERATOR_KEY, PATRON_JOBS: 'off', PATRON_DB_POOL_MAX: '20',
    // Suites send many requests and wrong keys from one address; test/e2e/rate-limits.test.ts turns the limits on.
    PATRON_AUTH_FAILURES_PER_MINUTE: '0', PATRON_REQUESTS_PER_KEY_PER_MINUTE: '0', ...opts.env });
  const app = await startApp({ config, databaseUrl: db.url, logger: opts.logger ?? createLogger(process.env.LOG_LEVEL ?? 'silent'), clock: opts.clock });
  const url = app.url;
  const wsUrl = url.replace('http://', 'ws://');
  const clients: Client[] = [];
  return {
    app,
    db,
    url,
    wsUrl,
    async request(doc, variables, auth = OPERATOR_KEY) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body: JSON.stringify({ query: typeof doc === 'string' ? doc : print(doc), variables }),
      });
      const body = (await res.json()) as GraphQLResponse<any>;
      return { ...body, status: res.status };
    },
    ws(auth) {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: auth ? { Authorization: `Bearer ${auth}` } : {},
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => undefined,
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.dispose()));
      // The suite's requests are done: its idle keep-alive sockets need no grace.
      await app.close({ closeIdle: true });
      if (!opts.db) await db.drop();
    },
  };
}
