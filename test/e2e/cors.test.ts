import WebSocket from 'ws';
import { loadConfig, ConfigError } from '../../src/config';
import { OPERATOR_KEY, startTestServer, type TestServer } from '../support/server';

/** PATRON_CORS_ORIGINS: which browser origins may call over HTTP and open WebSockets. */
const SHOP = 'https://shop.example';
const OTHER = 'https://evil.example';

function preflight(url: string, origin: string) {
  return fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  });
}

function query(url: string, origin?: string) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_KEY}`, ...(origin ? { origin } : {}) },
    body: JSON.stringify({ query: '{ program { name } }' }),
  });
}

/** Resolves with the HTTP status of a refused upgrade, or 101 when the socket opened. */
function upgrade(wsUrl: string, origin?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws', origin ? { origin } : {});
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', (error) => reject(error));
  });
}

describe('with PATRON_CORS_ORIGINS set', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ env: { PATRON_CORS_ORIGINS: `${SHOP}, http://localhost:3000` } });
  });
  afterAll(() => s.close());

  test('a listed origin gets its preflight answered, with the headers the clients send', async () => {
    const res = await preflight(s.url, SHOP);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')?.toLowerCase()).toContain('origin');
  });

  test('a listed origin may read answers and the request id; the second listed origin too', async () => {
    for (const origin of [SHOP, 'http://localhost:3000']) {
      const res = await query(s.url, origin);
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('access-control-expose-headers')).toBe('x-request-id');
    }
  });

  test('an origin not listed gets no CORS headers, so the browser keeps the answer from the page', async () => {
    const pre = await preflight(s.url, OTHER);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    const res = await query(s.url, OTHER);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('WebSocket upgrades: a listed origin and no origin (server to server) pass, another origin is refused', async () => {
    expect(await upgrade(s.wsUrl, SHOP)).toBe(101);
    expect(await upgrade(s.wsUrl)).toBe(101);
    expect(await upgrade(s.wsUrl, OTHER)).toBe(403);
  });
});

describe('without PATRON_CORS_ORIGINS', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.close());

  test('no CORS headers for any origin; WebSockets from any origin (credentials are not cookies)', async () => {
    const res = await query(s.url, SHOP);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight(s.url, SHOP)).headers.get('access-control-allow-origin')).toBeNull();
    expect(await upgrade(s.wsUrl, OTHER)).toBe(101);
  });
});

test('PATRON_CORS_ORIGINS takes origins only, comma-separated, or *', () => {
  expect(loadConfig({ PATRON_CORS_ORIGINS: ' https://a.example ,http://localhost:8080,' }).corsOrigins).toEqual(['https://a.example', 'http://localhost:8080']);
  expect(loadConfig({ PATRON_CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
  expect(loadConfig({}).corsOrigins).toEqual([]);
  for (const bad of ['shop.example', 'https://shop.example/', 'https://shop.example/app', 'ftp://shop.example']) {
    expect(() => loadConfig({ PATRON_CORS_ORIGINS: bad })).toThrow(ConfigError);
  }
});
