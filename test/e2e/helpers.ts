import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { OPERATOR_KEY, type GraphQLResponse, type TestServer } from '../support/server';
import {
  AccrueDocument,
  CreateApiKeyDocument,
  CreateProgramDocument,
  UpsertMemberDocument,
  type AccrueMutation,
  type CreateProgramInput,
  type MemberFieldsFragment,
  type UpsertMemberInput,
} from './generated/graphql';

/** Shared by the e2e suites: fixtures over the real API and a subscription recorder. */

let sequence = 0;
/** An idempotency key (or external id) no other test uses. */
export const uniqueKey = (prefix = 'k') => `${prefix}-${process.pid}-${Date.now().toString(36)}-${++sequence}`;

/** The `extensions.code` of every error, in order. */
export const codesOf = (res: { errors?: Array<{ extensions?: { code?: unknown } }> }): unknown[] =>
  (res.errors ?? []).map((e) => e.extensions?.code);

/** The data of a response that must have succeeded; fails with the errors otherwise. */
export function ok<T>(res: GraphQLResponse<T>): T {
  if (res.errors?.length || res.status !== 200 || !res.data) {
    throw new Error(`expected success, got HTTP ${res.status}: ${JSON.stringify(res.errors ?? res)}`);
  }
  return res.data;
}

export interface ProgramFixture {
  programId: string;
  adminKey: string;
  serverKey: string;
  serverKeyId: string;
}

/** A program made by the operator, with its admin key and one server key. */
export async function createProgram(s: Pick<TestServer, 'request'>, input: Partial<CreateProgramInput> = {}): Promise<ProgramFixture> {
  const created = ok(await s.request(CreateProgramDocument, { input: { name: uniqueKey('program'), ...input } }, OPERATOR_KEY));
  const adminKey = created.createProgram.adminKey.secret;
  const server = ok(await s.request(CreateApiKeyDocument, { input: { name: 'storefront', role: 'SERVER' } }, adminKey));
  return {
    programId: created.createProgram.program.id,
    adminKey,
    serverKey: server.createApiKey.secret,
    serverKeyId: server.createApiKey.apiKey.id,
  };
}

export async function createMember(s: Pick<TestServer, 'request'>, key: string, input: Partial<UpsertMemberInput> = {}): Promise<MemberFieldsFragment> {
  const res = ok(await s.request(UpsertMemberDocument, { input: { externalId: uniqueKey('customer'), ...input } }, key));
  return res.upsertMember.member;
}

export async function accrue(s: Pick<TestServer, 'request'>, key: string, memberId: string, points: number, idempotencyKey = uniqueKey('accrue')): Promise<AccrueMutation['accrue']> {
  const res = ok(await s.request(AccrueDocument, { input: { member: { id: memberId }, points, idempotencyKey, delayDays: 0 } }, key));
  return res.accrue;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` is true; false when the time is up. */
export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

/** Everything one graphql-ws subscription received, in order. */
export interface Recorded<T> {
  /** `data` of each `next` message without errors, with its arrival time. */
  events: Array<{ data: T; at: number }>;
  /** Errors of `next` messages and of `error` messages. */
  errors: GraphQLFormattedError[];
  /** Close code when the socket closed on us (e.g. 4403 Forbidden). */
  closeCode?: number;
  completed: boolean;
  /** Resolves with the `index`-th event (0-based); rejects after `timeoutMs`. */
  event(index: number, timeoutMs?: number): Promise<T>;
  /** Resolves with the first event that satisfies `match`; rejects after `timeoutMs`. */
  find(match: (data: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Resolves once an error, a close or completion arrived; rejects after `timeoutMs`. */
  settled(timeoutMs?: number): Promise<void>;
  dispose(): void;
}

export function record<T, V>(client: Client, doc: TypedDocumentNode<T, V> | string, variables?: V): Recorded<T> {
  const rec: Recorded<T> = {
    events: [],
    errors: [],
    completed: false,
    async event(index, timeoutMs = 5000) {
      if (!(await waitFor(() => rec.events.length > index || rec.completed, timeoutMs)) || rec.events.length <= index) {
        throw new Error(`event #${index} did not arrive in ${timeoutMs} ms; got ${JSON.stringify(rec.events)} errors ${JSON.stringify(rec.errors)} close ${rec.closeCode}`);
      }
      return rec.events[index]!.data;
    },
    async find(match, timeoutMs = 5000) {
      const found = () => rec.events.find((e) => match(e.data));
      if (!(await waitFor(() => found() !== undefined || rec.completed, timeoutMs)) || !found()) {
        throw new Error(`no matching event in ${timeoutMs} ms; got ${JSON.stringify(rec.events)} errors ${JSON.stringify(rec.errors)} close ${rec.closeCode}`);
      }
      return found()!.data;
    },
    async settled(timeoutMs = 5000) {
      const done = await waitFor(() => rec.errors.length > 0 || rec.closeCode !== undefined || rec.completed, timeoutMs);
      if (!done) throw new Error(`subscription neither failed nor completed in ${timeoutMs} ms`);
    },
    dispose: () => undefined,
  };
  rec.dispose = client.subscribe<T>(
    { query: typeof doc === 'string' ? doc : print(doc), variables: (variables ?? undefined) as Record<string, unknown> | undefined },
    {
      next: (value) => {
        if (value.errors?.length) rec.errors.push(...value.errors);
        else rec.events.push({ data: value.data as T, at: Date.now() });
      },
      error: (error: unknown) => {
        if (Array.isArray(error)) rec.errors.push(...(error as GraphQLFormattedError[]));
        else if (error && typeof (error as { code?: unknown }).code === 'number') rec.closeCode = (error as { code: number }).code;
        else rec.errors.push({ message: String(error) });
      },
      complete: () => {
        rec.completed = true;
      },
    },
  );
  return rec;
}

/**
 * graphql-ws gives no acknowledgement when a subscription is registered. Writes `probe` (e.g. an
 * accrual of 1 point, returning its entry id) until the subscriber sees one of the probes, so
 * later writes cannot be missed. Returns the entry ids of all probes written: events of earlier
 * writes may still arrive, so tests pick events by entry id, not by position.
 */
export async function untilSubscribed<T>(rec: Recorded<T>, probe: () => Promise<string>, entryIdOf: (data: T) => string, attempts = 10): Promise<Set<string>> {
  const probes = new Set<string>();
  for (let i = 0; i < attempts; i++) {
    probes.add(await probe());
    const arrived = () => rec.events.some((e) => probes.has(entryIdOf(e.data)));
    if (await waitFor(() => arrived() || rec.errors.length > 0 || rec.closeCode !== undefined, 1000)) {
      if (rec.errors.length || rec.closeCode !== undefined) throw new Error(`subscription failed: ${JSON.stringify(rec.errors)} close ${rec.closeCode}`);
      return probes;
    }
  }
  throw new Error('the subscription never received a probe event');
}

/**
 * One operation over a bare graphql-ws socket, with the subscribe payload as raw JSON text (for
 * what a client library would refuse to send). Resolves with the server's messages up to
 * `complete` or `error`, or with what arrived when the socket closed.
 */
export function rawWebSocket(wsUrl: string, auth: string, payloadJson: string, timeoutMs = 5000): Promise<Array<{ type: string; payload?: any; closeCode?: number }>> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    const messages: Array<{ type: string; payload?: any; closeCode?: number }> = [];
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no answer in ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      socket.close();
      resolve(messages);
    };
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${auth}` } })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message.type === 'connection_ack') return socket.send(`{"type":"subscribe","id":"1","payload":${payloadJson}}`);
      messages.push(message);
      if (message.type === 'complete' || message.type === 'error') done();
    });
    socket.on('close', (code) => {
      messages.push({ type: 'close', closeCode: code });
      done();
    });
    socket.on('error', () => undefined);
  });
}
