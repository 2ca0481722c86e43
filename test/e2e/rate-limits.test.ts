import http from 'node:http';
import WebSocket from 'ws';
import { ApiKeyRole } from '../../src/entities/api-key';
import type { Identity } from '../../src/graphql/context';
import { RateLimits } from '../../src/http/rate-limit';
import { OPERATOR_KEY, startTestServer, type TestServer } from '../support/server';
import { createProgram, rawWebSocket, sleep } from './helpers';

/** POST `{ program { id } }` from a chosen local address (127.0.0.x all reach the loopback server). */
function post(url: string, key: string, localAddress = '127.0.0.1', headers: Record<string, string> = {}) {
  return new Promise<{ status: number; retryAfter?: string; body: any }>((resolve, reject) => {
    const req = http.request(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ query: '{ program { id } }' }));
  });
}

const wrongKey = (i: number) => `ptn_srv_wrong-${i}-000000000000000000000000`;

describe('failed authentication is limited per client address', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ env: { PATRON_AUTH_FAILURES_PER_MINUTE: '20' } });
  });
  afterAll(() => s.close());

  it('300 wrong keys: the first 20 get 401, the rest 429 RATE_LIMITED with Retry-After', async () => {
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => post(s.url, wrongKey(i))));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((x) => x === 401)).toHaveLength(20);
    expect(statuses.filter((x) => x === 429)).toHaveLength(280);
    const limited = answers.find((a) => a.status === 429)!;
    expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(limited.body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: Number(limited.retryAfter) });
  });

  it('the limited address is refused even with a good key; another address is not', async () => {
    expect((await post(s.url, OPERATOR_KEY, '127.0.0.1')).status).toBe(429);
    const other = await post(s.url, OPERATOR_KEY, '127.0.0.2');
    expect(other.status).toBe(200);
    expect(other.body.data.program.id).toBeTruthy();
  });

  it('over WebSocket the limited address is closed with 4429 before its credential is checked', async () => {
    const code = await new Promise<number>((resolve) => {
      const socket = new WebSocket(s.wsUrl, 'graphql-transport-ws', { localAddress: '127.0.0.1' });
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${OPERATOR_KEY}` } })));
      socket.on('close', (closeCode) => resolve(closeCode));
      socket.on('error', () => undefined);
    });
    expect(code).toBe(4429);
  });
});

describe('requests are limited per API key', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ env: { PATRON_REQUESTS_PER_KEY_PER_MINUTE: '30' } });
  });
  afterAll(() => s.close());

  it('a key past its budget gets 429 RATE_LIMITED; another key of the same address goes on', async () => {
    const program = await createProgram(s); // 2 requests of the operator key
    const answers = await Promise.all(Array.from({ length: 40 }, () => post(s.url, program.serverKey)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(30);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(10);
    expect(answers.find((a) => a.status === 429)!.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect((await post(s.url, program.adminKey)).status).toBe(200);
  });

  it('over WebSocket an operation past the budget gets RATE_LIMITED with retryAfterSeconds', async () => {
    const program = await createProgram(s);
    for (let i = 0; i < 30; i++) await post(s.url, program.serverKey);
    const messages = await rawWebSocket(s.wsUrl, program.serverKey, JSON.stringify({ query: '{ program { id } }' }));
    const errors = messages.flatMap((m) => (m.type === 'error' ? m.payload : m.type === 'next' ? (m.payload.errors ?? []) : []));
    expect(errors.map((e: any) => e.extensions.code)).toEqual(['RATE_LIMITED']);
    expect(errors[0].extensions.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });
});

describe('the limits reset when their window ends', () => {
  it('failures and requests are allowed again after the window', async () => {
    const limits = new RateLimits({ authFailures: 2, requestsPerCredential: 2, windowSeconds: 1 });
    const key: Identity = { kind: 'key', programId: 'p', keyId: 'k', role: ApiKeyRole.SERVER, operator: false };
    await limits.authenticationFailed('10.0.0.1');
    await limits.authenticationFailed('10.0.0.1');
    await expect(limits.beforeAuthentication('10.0.0.1')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    await limits.request(key);
    await limits.request(key);
    await expect(limits.request(key)).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 1 } });
    await sleep(1100);
    await expect(limits.beforeAuthentication('10.0.0.1')).resolves.toBeUndefined();
    await expect(limits.request(key)).resolves.toBeUndefined();
  });
});

describe('behind a trusted proxy', () => {
  it('counts the address the proxy forwarded, not the proxy', async () => {
    const s = await startTestServer({ env: { PATRON_AUTH_FAILURES_PER_MINUTE: '3', PATRON_TRUST_PROXY: 'true' } });
    try {
      for (let i = 0; i < 5; i++) await post(s.url, wrongKey(i), '127.0.0.1', { 'x-forwarded-for': '198.51.100.7' });
      expect((await post(s.url, OPERATOR_KEY, '127.0.0.1', { 'x-forwarded-for': '198.51.100.7' })).status).toBe(429);
      // The same proxy forwarding another client: not limited.
      expect((await post(s.url, OPERATOR_KEY, '127.0.0.1', { 'x-forwarded-for': '203.0.113.9' })).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
