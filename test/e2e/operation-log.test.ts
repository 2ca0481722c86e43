import pino from 'pino';
import { Writable } from 'node:stream';
import { OPERATOR_KEY, startTestServer, type TestServer } from '../support/server';

/** Every line the server logs, parsed. */
const lines: Array<Record<string, any>> = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    done();
  },
});

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ logger: pino({ level: 'info' }, sink) });
});
afterAll(() => server.close());

const operationLines = (requestId: string) => lines.filter((l) => l.requestId === requestId && /graphql operation/.test(l.msg));

async function post(query: string, variables: Record<string, unknown> = {}, requestId: string) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_KEY}`, 'x-request-id': requestId },
    body: JSON.stringify({ query, variables }),
  });
  return res.json() as Promise<any>;
}

test('one line per operation: its name, the caller, the duration — never the secret', async () => {
  await post('query Who { program { name } }', {}, 'log-ok-1');
  await new Promise((r) => setTimeout(r, 50));
  const [line, ...more] = operationLines('log-ok-1');
  expect(more).toEqual([]);
  expect(line).toMatchObject({ level: 30, msg: 'graphql operation', operation: 'Who', type: 'query', role: 'operator' });
  expect(typeof line.keyId).toBe('string');
  expect(line.durationMs).toBeGreaterThan(0);
  expect(JSON.stringify(lines)).not.toContain(OPERATOR_KEY);
});

test('a refused operation is logged as a warning with its error codes', async () => {
  const body = await post(
    'mutation Give($input: AccrueInput!) { accrue(input: $input) { entry { id } } }',
    { input: { member: { externalId: 'nobody-here' }, points: 10, idempotencyKey: 'log-1' } },
    'log-refused-1',
  );
  expect(body.errors[0].extensions.code).toBe('NOT_FOUND');
  await new Promise((r) => setTimeout(r, 50));
  expect(operationLines('log-refused-1')).toEqual([
    expect.objectContaining({ level: 40, msg: 'graphql operation failed', operation: 'Give', type: 'mutation', errors: ['NOT_FOUND'] }),
  ]);
});
