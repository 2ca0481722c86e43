import WebSocket from 'ws';
import { OPERATOR_KEY, startTestServer, type TestServer } from '../support/server';
import { codesOf, rawWebSocket } from './helpers';

/** The same request gets the same `extensions.code` over HTTP and over WebSocket. */
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

interface Answer {
  codes: unknown[];
  messages: string[];
}

async function overHttp(body: object): Promise<Answer & { status: number }> {
  const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_KEY}` }, body: JSON.stringify(body) });
  const json = (await res.json()) as { errors?: Array<{ message: string; extensions?: { code?: unknown } }> };
  return { status: res.status, codes: codesOf(json), messages: (json.errors ?? []).map((e) => e.message) };
}

async function overWs(body: object): Promise<Answer> {
  const messages = await rawWebSocket(s.wsUrl, OPERATOR_KEY, JSON.stringify(body));
  const errors: Array<{ message: string; extensions?: { code?: unknown } }> = messages.flatMap((m) => (m.type === 'next' ? (m.payload.errors ?? []) : m.type === 'error' ? m.payload : []));
  return { codes: errors.map((e) => e.extensions?.code), messages: errors.map((e) => e.message) };
}

const HASH = 'a'.repeat(64);
const cases: Array<[string, object, number, string]> = [
  ['a variable of the wrong type', { query: 'query($first: Int) { ledgerEntries(first: $first) { nodes { id } } }', variables: { first: 'many' } }, 400, 'BAD_USER_INPUT'],
  ['an object for an ID', { query: 'query($id: ID) { member(id: $id) { id } }', variables: { id: { a: 1 } } }, 400, 'BAD_USER_INPUT'],
  ['a required variable missing', { query: 'query($id: ID!) { member(id: $id) { id } }', variables: {} }, 400, 'BAD_USER_INPUT'],
  ['an unknown operationName', { query: 'query A { program { id } } query B { program { id } }', operationName: 'C' }, 400, 'OPERATION_RESOLUTION_FAILURE'],
  ['several operations and no operationName', { query: 'query A { program { id } } query B { program { id } }' }, 400, 'OPERATION_RESOLUTION_FAILURE'],
  ['a persisted-query hash that does not match the query', { query: '{ program { id } }', extensions: { persistedQuery: { version: 1, sha256Hash: HASH } } }, 400, 'BAD_REQUEST'],
];

describe('one stable code on both transports', () => {
  it.each(cases)('%s', async (_name, body, status, code) => {
    const http = await overHttp(body);
    expect({ status: http.status, codes: http.codes }).toEqual({ status, codes: [code] });
    const ws = await overWs(body);
    expect(ws).toEqual({ codes: http.codes, messages: http.messages });
  });

  it('a matching persisted-query hash runs on both transports', async () => {
    const query = '{ program { id } }';
    const { createHash } = await import('node:crypto');
    const body = { query, extensions: { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } } };
    expect(await overHttp(body)).toMatchObject({ status: 200, codes: [] });
    expect((await overWs(body)).codes).toEqual([]);
  });

  it('a hash alone: PERSISTED_QUERY_NOT_FOUND over HTTP; over WebSocket the protocol needs a query (4400)', async () => {
    const body = { extensions: { persistedQuery: { version: 1, sha256Hash: HASH } } };
    expect((await overHttp(body)).codes).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    const messages = await rawWebSocket(s.wsUrl, OPERATOR_KEY, JSON.stringify(body));
    expect(messages.at(-1)).toMatchObject({ type: 'close', closeCode: 4400 });
  });
});

describe('WebSocket messages are limited like HTTP bodies (256 KiB)', () => {
  /** Sends `text` as the first message, before connection_init; resolves with the close code. */
  const closeCodeAfter = (text: string) =>
    new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(s.wsUrl, 'graphql-transport-ws');
      const timer = setTimeout(() => reject(new Error('the socket stayed open')), 5000);
      socket.on('open', () => socket.send(text));
      socket.on('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
      socket.on('error', () => undefined);
    });

  it('closes an unauthenticated socket with 1009 on a 1 MiB message', async () => {
    expect(await closeCodeAfter(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(1 << 20) } }))).toBe(1009);
  });

  it('closes an authenticated socket with 1009 on an operation over the limit', async () => {
    const messages = await rawWebSocket(s.wsUrl, OPERATOR_KEY, JSON.stringify({ query: '{ program { id } }', variables: { pad: 'x'.repeat(300_000) } }));
    expect(messages.at(-1)).toEqual({ type: 'close', closeCode: 1009 });
  });

  it('answers an operation just under the limit', async () => {
    const messages = await rawWebSocket(s.wsUrl, OPERATOR_KEY, JSON.stringify({ query: '{ program { id } }', variables: { pad: 'x'.repeat(200_000) } }));
    expect(messages[0]).toMatchObject({ type: 'next', payload: { data: { program: { id: expect.any(String) } } } });
  });
});
