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

describe('WebSocket messages are UTF-8', () => {
  /** An authenticated socket that sends `frames` as binary messages; resolves with what came back and the close code. */
  const sendBinary = (frames: Buffer[]) =>
    new Promise<{ messages: Array<Record<string, any>>; closeCode: number | null }>((resolve, reject) => {
      const socket = new WebSocket(s.wsUrl, 'graphql-transport-ws');
      const messages: Array<Record<string, any>> = [];
      const timer = setTimeout(() => {
        socket.close();
        resolve({ messages, closeCode: null });
      }, 2000);
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${OPERATOR_KEY}` } })));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data));
        messages.push(message);
        if (message.type === 'connection_ack') for (const frame of frames) socket.send(frame, { binary: true });
        if (message.type === 'complete') socket.close();
      });
      socket.on('close', (code) => {
        clearTimeout(timer);
        resolve({ messages, closeCode: code });
      });
      socket.on('error', reject);
    });

  it('a binary message that is not valid UTF-8 closes the socket with 1007, and the write it carried is not made', async () => {
    // Decoded lossily, keys "k\xff" and "k\xfe" would both be "k\uFFFD": the second write would replay the first.
    const up = await s.request<any, any>('mutation { upsertMember(input: { externalId: "ws-utf8" }) { member { id } } }');
    const memberId = up.data.upsertMember.member.id as string;
    const accrue = (id: string, key: string) => JSON.stringify({
      id, type: 'subscribe',
      payload: { query: `mutation { accrue(input: { member: { id: "${memberId}" }, points: 1, idempotencyKey: "${key}" }) { account { available } } }` },
    });
    for (const [id, byte] of [['a', 0xff], ['b', 0xfe]] as const) {
      const [before, after] = accrue(id, 'ws-utf8-k#').split('#') as [string, string];
      const answer = await sendBinary([Buffer.concat([Buffer.from(before), Buffer.from([byte]), Buffer.from(after)])]);
      expect(answer).toEqual({ messages: [{ type: 'connection_ack' }], closeCode: 1007 });
    }
    // Nor is a write sent right behind the refused message, already on the wire when it closed.
    const [before, after] = accrue('c', 'ws-utf8-k#').split('#') as [string, string];
    const behind = await sendBinary([Buffer.concat([Buffer.from(before), Buffer.from([0xff]), Buffer.from(after)]), Buffer.from(accrue('d', 'ws-utf8-behind'))]);
    expect(behind).toEqual({ messages: [{ type: 'connection_ack' }], closeCode: 1007 });
    const balance = await s.request<any, any>(`{ account(member: { id: "${memberId}" }) { available } }`);
    expect(balance.data.account.available).toBe(0);
    // A binary message of valid UTF-8 is read as usual: the key as decoded is still free.
    const valid = await sendBinary([Buffer.from(accrue('e', 'ws-utf8-k\uFFFD'))]);
    expect(valid.messages[1]).toMatchObject({ id: 'e', type: 'next', payload: { data: { accrue: { account: { available: 1 } } } } });
  });
});
