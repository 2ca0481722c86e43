import { print } from 'graphql';
import { OPERATOR_KEY, startTestServer, type TestServer } from '../support/server';
import { ProgramDocument } from './generated/graphql';

let s: TestServer;
let origin: string;
beforeAll(async () => {
  s = await startTestServer();
  origin = new URL(s.url).origin;
});
afterAll(() => s.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function post(headers: Record<string, string>, body: unknown = { query: print(ProgramDocument) }) {
  return fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

test('GET /healthz answers 200 {status: "ok"} once the database answers', async () => {
  const res = await fetch(`${origin}/healthz`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(await res.json()).toEqual({ status: 'ok' });
  expect(res.headers.get('x-powered-by')).toBeNull();
});

test('GET /graphql with Accept: text/html serves GraphiQL that loads only local assets', async () => {
  const res = await fetch(s.url, { headers: { accept: 'text/html' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  const html = await res.text();
  expect(html).toMatch(/<title>Patron GraphiQL<\/title>/);

  // No absolute URL anywhere: nothing comes from a CDN or another host.
  expect([...html.matchAll(/\b(?:https?|wss?):\/\/[^\s"'`<>)]+/g)].map((m) => m[0])).toEqual([]);
  expect(html).not.toMatch(/unpkg|jsdelivr|cdn\./i);
  const referenced = [...new Set([...html.matchAll(/(?:href|src)="([^"]+)"/g, ), ...html.matchAll(/\bfrom\s+"([^"]+)"/g)].map((m) => m[1]!))];
  expect(referenced).toEqual(expect.arrayContaining(['/graphiql/ruru.js', '/graphiql/ruru.css']));
  for (const url of referenced) {
    expect(url.startsWith('/graphiql/')).toBe(true);
    const asset = await fetch(origin + url);
    expect({ url, status: asset.status, bytes: (await asset.arrayBuffer()).byteLength > 0 }).toEqual({ url, status: 200, bytes: true });
  }
  // Subscriptions in GraphiQL go to the same endpoint over graphql-ws.
  expect(html).toContain('"subscriptionEndpoint": "/graphql"');

  // A client asking for JSON is not handed the page.
  const json = await fetch(`${s.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'application/json', 'apollo-require-preflight': 'true' } });
  expect(json.headers.get('content-type')).toMatch(/^application\/json/);
  expect(await json.json()).toEqual({ data: { __typename: 'Query' } });
});

describe('x-request-id', () => {
  test('a well-formed id is echoed', async () => {
    for (const id of ['req-123', 'a.b:c_d-e', 'x'.repeat(100)]) {
      const res = await post({ authorization: `Bearer ${OPERATOR_KEY}`, 'x-request-id': id });
      expect({ id, status: res.status, echoed: res.headers.get('x-request-id') }).toEqual({ id, status: 200, echoed: id });
    }
  });

  test('a missing or malformed id is replaced by a fresh UUID, one per request', async () => {
    const ids: string[] = [];
    const variants: Array<Record<string, string>> = [{}, { 'x-request-id': 'has spaces in it' }, { 'x-request-id': 'x'.repeat(101) }, { 'x-request-id': '<script>' }, {}];
    for (const headers of variants) {
      const res = await post({ authorization: `Bearer ${OPERATOR_KEY}`, ...headers });
      expect(res.status).toBe(200);
      ids.push(res.headers.get('x-request-id') ?? '');
    }
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('it is echoed on refused requests too', async () => {
    const res = await post({ authorization: 'Bearer ptn_srv_unknown00000000000000000000', 'x-request-id': 'refused-1' });
    expect(res.status).toBe(401);
    expect(res.headers.get('x-request-id')).toBe('refused-1');
    const body = (await res.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
  });
});

test('unknown paths are 404', async () => {
  expect((await fetch(`${origin}/nope`)).status).toBe(404);
  expect((await fetch(`${origin}/graphiql/../package.json`)).status).toBe(404);
});
