import { Writable } from 'node:stream';
import pino from 'pino';
import { startApp, type RunningApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { GRAPHIQL_STARTER_QUERY } from '../../src/graphql/graphiql';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { OPERATOR_KEY, startTestServer, type TestServer } from '../support/server';
import { BalanceChangedAccountDocument, EntryEdgesDocument, LotEdgesDocument, RedeemDocument } from './generated/graphql';
import { accrue, createMember, createProgram, ok, record, uniqueKey, untilSubscribed, waitFor, type ProgramFixture } from './helpers';

/** What an integrator meets on the first day: the root page, GraphiQL, cursors, events, logs. */
let s: TestServer;
let p: ProgramFixture;
let origin: string;
beforeAll(async () => {
  s = await startTestServer();
  p = await createProgram(s);
  origin = new URL(s.url).origin;
});
afterAll(() => s.close());

test('GET / says what this server is and links to GraphiQL and the health check', async () => {
  const res = await fetch(`${origin}/`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  const html = await res.text();
  expect(html).toContain('<h1>Patron</h1>');
  expect(html).toContain('<a href="/graphql">GraphiQL</a>');
  expect(html).toContain('<a href="/healthz">Health check</a>');
  expect(html).not.toMatch(/Cannot GET/);
});

test('GraphiQL opens with the starter query and the Authorization header template', async () => {
  const html = await (await fetch(s.url, { headers: { accept: 'text/html' } })).text();
  const config = JSON.parse(/const RURU_CONFIG = (\{[\s\S]*?\});\s*<\/script>/.exec(html)![1]!);
  expect(config.defaultQuery).toBe(GRAPHIQL_STARTER_QUERY);
  expect(JSON.parse(config.defaultHeaders)).toEqual({ Authorization: 'Bearer ' });
  // The starter query runs as it is once a key is in the header.
  const started = ok(await s.request(GRAPHIQL_STARTER_QUERY, {}, p.adminKey)) as { program: { currency: string } };
  expect(started.program.currency).toBe('RUB');
});

describe('connections have edges { cursor node } beside nodes', () => {
  test('ledger entries: every edge cursor reads on after its entry; the last one is endCursor', async () => {
    const member = await createMember(s, p.serverKey);
    for (const points of [10, 20, 30, 40]) await accrue(s, p.serverKey, member.id, points);
    const page = ok(await s.request(EntryEdgesDocument, { member: { id: member.id }, first: 3 }, p.serverKey)).ledgerEntries;
    expect(page.edges.map((e) => e.node.id)).toEqual(page.nodes.map((n) => n.id));
    expect(page.edges.map((e) => e.node.amount)).toEqual([40, 30, 20]);
    expect(page.edges.at(-1)!.cursor).toBe(page.pageInfo.endCursor);
    expect(page.pageInfo.hasNextPage).toBe(true);
    // (The member's registration made no entry here: the program has no welcome rule.)
    const afterFirst = ok(await s.request(EntryEdgesDocument, { member: { id: member.id }, after: page.edges[0]!.cursor }, p.serverKey)).ledgerEntries;
    expect(afterFirst.edges.map((e) => e.node.amount)).toEqual([30, 20, 10]);
  });

  test('lots: the same', async () => {
    const member = await createMember(s, p.serverKey);
    for (const points of [5, 6, 7]) await accrue(s, p.serverKey, member.id, points);
    const page = ok(await s.request(LotEdgesDocument, { member: { id: member.id }, first: 2 }, p.serverKey)).lots;
    expect(page.edges.map((e) => e.node.amount)).toEqual([7, 6]);
    expect(page.edges.at(-1)!.cursor).toBe(page.pageInfo.endCursor);
    const rest = ok(await s.request(LotEdgesDocument, { member: { id: member.id }, after: page.edges[0]!.cursor }, p.serverKey)).lots;
    expect(rest.edges.map((e) => e.node.amount)).toEqual([6, 5]);
  });
});

test('a balance event carries the changed account, keyed by the member id', async () => {
  const member = await createMember(s, p.serverKey);
  await accrue(s, p.serverKey, member.id, 500);
  const events = record(s.ws(p.serverKey), BalanceChangedAccountDocument, { memberId: member.id });
  await untilSubscribed(events, async () => (await accrue(s, p.serverKey, member.id, 1)).entry.id, (e) => e.balanceChanged.entry.id);
  const redeemed = ok(await s.request(RedeemDocument, { input: { member: { id: member.id }, points: 200, idempotencyKey: uniqueKey('redeem') } }, p.serverKey));
  const event = await events.find((e) => e.balanceChanged.entry.id === redeemed.redeem.entry.id);
  expect(event.balanceChanged.account).toEqual({
    id: member.id,
    memberId: member.id,
    available: redeemed.redeem.account.available,
    reserved: 0,
    lifetimeRedeemed: 200,
    availableMoney: { amountMinor: redeemed.redeem.account.available * 100 },
  });
  events.dispose();
});

describe('access logs', () => {
  let app: RunningApp;
  let db: TestDatabase;
  const lines: Array<Record<string, any>> = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const config = loadConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', PATRON_ADMIN_KEY: OPERATOR_KEY, PATRON_JOBS: 'off' });
    app = await startApp({ config, databaseUrl: db.url, logger });
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  test('one line per request under its request id, without the query string or credentials', async () => {
    const query = encodeURIComponent('{ member(email: "secret@example.com") { id } }');
    const res = await fetch(`${app.url}?query=${query}`, { headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'x-request-id': 'trace-42' } });
    expect(res.status).toBe(200);
    const missing = await fetch(app.url.replace('/graphql', '/nowhere'), { headers: { 'x-request-id': 'trace-43' } });
    expect(missing.status).toBe(404);

    // The line is written when the response finishes, which may be just after fetch resolves.
    expect(await waitFor(() => ['trace-42', 'trace-43'].every((id) => lines.some((l) => l.requestId === id && l.module === 'http')))).toBe(true);
    const access = lines.filter((l) => l.module === 'http');
    const ok200 = access.find((l) => l.requestId === 'trace-42');
    expect(ok200).toMatchObject({ level: 30, req: { method: 'GET', path: '/graphql' }, res: { statusCode: 200 } });
    expect(typeof ok200!.responseTime).toBe('number');
    expect(access.find((l) => l.requestId === 'trace-43')).toMatchObject({ level: 40, req: { path: '/nowhere' }, res: { statusCode: 404 } });
    const text = JSON.stringify(lines);
    expect(text).not.toContain(OPERATOR_KEY);
    expect(text).not.toContain('secret@example.com');
  });
});
