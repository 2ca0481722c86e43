import http from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { OPERATOR_KEY, startTestServer, type TestServer } from '../support/server';

/**
 * The HTTP edge in front of Apollo (src/http/router.ts, graphql-handler.ts, json-body.ts): what it
 * answers by itself — bodies it cannot read, methods and paths — and what it leaves out (ETags).
 */
let s: TestServer;
let origin: string;
/** Every line the server logs, parsed. */
const lines: Array<Record<string, any>> = [];
beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  s = await startTestServer({ logger: pino({ level: 'info' }, sink) });
  origin = new URL(s.url).origin;
});
afterAll(() => s.close());

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request, so the test decides every header and how the body is sent (whole, or chunked in pieces). */
function send(options: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer | string[] }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // A whole body declares its length (Node sends DELETE and OPTIONS bodies unframed otherwise).
    const whole = typeof options.body === 'string' || Buffer.isBuffer(options.body) ? options.body : undefined;
    const length = whole !== undefined ? { 'content-length': String(Buffer.byteLength(whole)) } : {};
    const headers = { ...length, ...options.headers };
    const req = http.request(`${origin}${options.path ?? '/graphql'}`, { method: options.method ?? 'POST', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (Array.isArray(options.body)) for (const piece of options.body) req.write(piece);
    req.end(whole);
  });
}

const JSON_AUTH = { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_KEY}` };
const QUERY = JSON.stringify({ query: '{ program { id } }' });

function codeOf(answer: Answer): unknown {
  return (JSON.parse(answer.body) as { errors: Array<{ extensions: { code: unknown } }> }).errors[0]!.extensions.code;
}

describe('no ETag: answers are not hashed, and a conditional request still gets the answer', () => {
  test('POST and GET operations, health and the root page', async () => {
    const post = await send({ headers: JSON_AUTH, body: QUERY });
    expect(post.status).toBe(200);
    expect(post.headers.etag).toBeUndefined();
    expect(Number(post.headers['content-length'])).toBe(Buffer.byteLength(post.body));
    expect(JSON.parse(post.body).data.program.id).toEqual(expect.any(String));

    const path = `/graphql?query=${encodeURIComponent('{ __typename }')}`;
    const get = await send({ method: 'GET', path, headers: { authorization: `Bearer ${OPERATOR_KEY}` } });
    expect({ status: get.status, etag: get.headers.etag, body: JSON.parse(get.body) }).toEqual({ status: 200, etag: undefined, body: { data: { __typename: 'Query' } } });
    const again = await send({ method: 'GET', path, headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'if-none-match': 'W/"anything"' } });
    expect(again.status).toBe(200);
    expect(JSON.parse(again.body)).toEqual({ data: { __typename: 'Query' } });

    for (const other of ['/healthz', '/']) {
      const answer = await send({ method: 'GET', path: other });
      expect({ other, status: answer.status, etag: answer.headers.etag }).toEqual({ other, status: 200, etag: undefined });
    }
  });
});

test('GraphQL answers are never stored by a cache: POST, GET and errors carry cache-control: no-store', async () => {
  // Balances and histories are per member: a shared cache in front of a GET query must not keep one.
  const post = await send({ headers: JSON_AUTH, body: QUERY });
  const path = `/graphql?query=${encodeURIComponent('{ __typename }')}`;
  const get = await send({ method: 'GET', path, headers: { authorization: `Bearer ${OPERATOR_KEY}` } });
  const refused = await send({ headers: JSON_AUTH, body: JSON.stringify({ query: '{ nope }' }) });
  expect([post, get, refused].map((a) => [a.status, a.headers['cache-control']])).toEqual([[200, 'no-store'], [200, 'no-store'], [400, 'no-store']]);
});

describe('bodies the edge refuses get a GraphQL-shaped BAD_REQUEST, with the request id', () => {
  test.each([
    ['malformed JSON', 400, JSON_AUTH, '{"query": '],
    ['JSON that is not an object', 400, JSON_AUTH, '"{ program { id } }"'],
    ['a declared length over 256 KiB', 413, JSON_AUTH, JSON.stringify({ query: '{ program { id } }', variables: { pad: 'x'.repeat(300_000) } })],
    ['a charset other than UTF-8', 415, { ...JSON_AUTH, 'content-type': 'application/json; charset=latin1' }, QUERY],
    ['a compressed body', 415, { ...JSON_AUTH, 'content-encoding': 'gzip' }, QUERY],
  ])('%s: %i', async (_name, status, headers, body) => {
    const answer = await send({ headers: { ...headers, 'x-request-id': 'edge-refused' }, body });
    expect(answer.status).toBe(status);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(answer.headers['x-request-id']).toBe('edge-refused');
    expect(codeOf(answer)).toBe('BAD_REQUEST');
    expect(answer.body).not.toMatch(/\bat [\w.<>]+ \(|node_modules/);
  });

  test('a body that is not valid UTF-8: 400, and the write it carried is not made', async () => {
    // Decoded, each invalid byte would become U+FFFD: keys "k\xff" and "k\xfe" would both be
    // "k\uFFFD", and the second write would replay the first's answer instead of being made.
    const up = await s.request<any, any>('mutation { upsertMember(input: { externalId: "edge-utf8" }) { member { id } } }');
    const memberId = up.data.upsertMember.member.id as string;
    const accrue = (key: string) =>
      JSON.stringify({ query: `mutation { accrue(input: { member: { id: "${memberId}" }, points: 1, idempotencyKey: "${key}" }) { account { available } } }` });
    const [before, after] = accrue('utf8-k#').split('#') as [string, string];
    for (const byte of [0xff, 0xfe]) {
      const answer = await send({ headers: JSON_AUTH, body: Buffer.concat([Buffer.from(before), Buffer.from([byte]), Buffer.from(after)]) });
      expect({ status: answer.status, code: codeOf(answer) }).toEqual({ status: 400, code: 'BAD_REQUEST' });
      expect(answer.body).toMatch(/not valid UTF-8/);
    }
    const balance = await s.request<any, any>(`{ account(member: { id: "${memberId}" }) { available } }`);
    expect(balance.data.account.available).toBe(0);
    // The key as it reads once decoded is still free: its first write is made.
    const made = await send({ headers: JSON_AUTH, body: accrue('utf8-k\uFFFD') });
    expect(JSON.parse(made.body).data.accrue.account.available).toBe(1);
  });

  test('a chunked body (no length declared) that grows past 256 KiB: 413', async () => {
    const pieces = [`{"query": "{ program { id } }", "variables": {"pad": "`, ...Array.from({ length: 30 }, () => 'x'.repeat(10_000)), '"}}'];
    const answer = await send({ headers: JSON_AUTH, body: pieces });
    expect({ status: answer.status, code: codeOf(answer) }).toEqual({ status: 413, code: 'BAD_REQUEST' });
  });

  test('just under the limit, whole or chunked, and with a byte-order mark: answered', async () => {
    const body = JSON.stringify({ query: '{ program { id } }', variables: { pad: 'x'.repeat(250_000) } });
    for (const sent of [body, [body.slice(0, 1000), body.slice(1000, 100_000), body.slice(100_000)], `\uFEFF${QUERY}`]) {
      const answer = await send({ headers: JSON_AUTH, body: sent });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body).data.program.id).toEqual(expect.any(String));
    }
  });

  test('an empty body or one not declared JSON is left to Apollo: 400, and nothing runs', async () => {
    const empty = await send({ headers: JSON_AUTH, body: '' });
    expect(empty.status).toBe(400);
    expect(empty.body).toMatch(/POST body missing/);
    const text = await send({ headers: { ...JSON_AUTH, 'content-type': 'text/plain' }, body: QUERY });
    expect(text.status).toBe(400);
  });
});

describe('methods and paths', () => {
  test('/graphql takes GET and POST; other methods get 405 with Allow', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const answer = await send({ method, headers: JSON_AUTH, body: QUERY });
      expect({ method, status: answer.status, allow: answer.headers.allow }).toEqual({ method, status: 405, allow: 'GET, POST' });
    }
    const head = await send({ method: 'HEAD', headers: { authorization: `Bearer ${OPERATOR_KEY}` } });
    expect({ status: head.status, body: head.body }).toEqual({ status: 405, body: '' });
  });

  test('HEAD of / and /healthz answers without a body; other methods there are 404', async () => {
    for (const path of ['/', '/healthz']) {
      const head = await send({ method: 'HEAD', path });
      expect({ path, status: head.status, body: head.body }).toEqual({ path, status: 200, body: '' });
      const post = await send({ method: 'POST', path, headers: JSON_AUTH, body: QUERY });
      expect({ path, status: post.status }).toEqual({ path, status: 404 });
    }
  });

  test('404s carry the request id; the query string does not change the route', async () => {
    const missing = await send({ method: 'GET', path: '/graphql/extra', headers: { 'x-request-id': 'edge-404' } });
    expect({ status: missing.status, id: missing.headers['x-request-id'] }).toEqual({ status: 404, id: 'edge-404' });
    const health = await send({ method: 'GET', path: '/healthz?probe=1' });
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
  });
});

describe('the access log', () => {
  const accessLines = (requestId: string) => lines.filter((l) => l.module === 'http' && l.requestId === requestId);
  const settle = () => new Promise((r) => setTimeout(r, 50));

  test('an answered operation: one info line beside the operation line, under the same request id', async () => {
    await send({ headers: { ...JSON_AUTH, 'x-request-id': 'edge-log-ok' }, body: JSON.stringify({ query: 'query Edge { program { id } }' }) });
    await settle();
    expect(accessLines('edge-log-ok')).toEqual([
      expect.objectContaining({ level: 30, msg: 'request completed', req: expect.objectContaining({ method: 'POST', path: '/graphql' }), res: expect.objectContaining({ statusCode: 200 }), responseTime: expect.any(Number) }),
    ]);
    expect(lines.filter((l) => l.requestId === 'edge-log-ok' && l.msg === 'graphql operation')).toEqual([expect.objectContaining({ operation: 'Edge', role: 'operator' })]);
  });

  test('refused bodies and methods: one warning each, with the status', async () => {
    await send({ headers: { ...JSON_AUTH, 'x-request-id': 'edge-log-413' }, body: JSON.stringify({ pad: 'x'.repeat(300_000) }) });
    await send({ method: 'PUT', headers: { ...JSON_AUTH, 'x-request-id': 'edge-log-405' }, body: QUERY });
    await settle();
    expect(accessLines('edge-log-413')).toEqual([expect.objectContaining({ level: 40, res: expect.objectContaining({ statusCode: 413 }) })]);
    expect(accessLines('edge-log-405')).toEqual([expect.objectContaining({ level: 40, req: expect.objectContaining({ method: 'PUT' }), res: expect.objectContaining({ statusCode: 405 }) })]);
  });

  test("a client's malformed operation is a warning, not a server error: no error line, no stack", async () => {
    const bad: Array<[string, object]> = [
      ['edge-log-parse', { query: '{ program { ' }],
      ['edge-log-invalid', { query: '{ program { nam } }' }],
      ['edge-log-unknown-op', { query: 'query A { program { id } }', operationName: 'B' }],
      ['edge-log-ambiguous', { query: 'query A { program { id } } query B { program { id } }' }],
      ['edge-log-variable', { query: 'query($n: Int!) { ledgerEntries(first: $n) { nodes { id } } }', variables: { n: 'x' } }],
    ];
    for (const [requestId, body] of bad) await send({ headers: { ...JSON_AUTH, 'x-request-id': requestId }, body: JSON.stringify(body) });
    await settle();
    for (const [requestId] of bad) {
      expect({ requestId, lines: lines.filter((l) => l.requestId === requestId && l.level >= 50) }).toEqual({ requestId, lines: [] });
      expect({ requestId, lines: lines.filter((l) => l.requestId === requestId && l.msg === 'graphql operation failed').map((l) => l.level) }).toEqual({ requestId, lines: [40] });
    }
  });

  test('a client that goes away before the answer: "request aborted"', async () => {
    await new Promise<void>((resolve) => {
      const req = http.request(`${origin}/graphql`, { method: 'POST', headers: { ...JSON_AUTH, 'x-request-id': 'edge-log-gone' } });
      req.on('error', () => resolve());
      // Half a body, then the client leaves.
      req.write('{"query": "{ program');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    await settle();
    expect(accessLines('edge-log-gone')).toEqual([expect.objectContaining({ level: 40, msg: 'request aborted' })]);
    // The client's leaving is not the server's error.
    expect(lines.filter((l) => l.requestId === 'edge-log-gone' && l.level >= 50)).toEqual([]);
  });
});
