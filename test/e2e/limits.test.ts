import { OPERATOR_KEY, startTestServer, type GraphQLResponse, type TestServer } from '../support/server';
import { AccountDocument, AccrueDocument, ProgramDocument, RedeemDocument } from './generated/graphql';
import { codesOf, createMember, ok, record, uniqueKey } from './helpers';

let s: TestServer;
let memberId: string;
beforeAll(async () => {
  s = await startTestServer();
  memberId = (await createMember(s, OPERATOR_KEY)).id;
});
afterAll(() => s.close());

/** `program { ...F0 }` where each fragment spreads the next: every spread is one level deeper. */
function fragmentChain(n: number): string {
  let fragments = '';
  for (let i = 0; i < n; i++) fragments += `fragment F${i} on Program { id ${i + 1 < n ? `...F${i + 1}` : ''} }\n`;
  return `query Chain { program { ...F0 } }\n${fragments}`;
}

const aliases = (n: number) => `query Aliases { ${Array.from({ length: n }, (_, i) => `a${i}: program { id }`).join(' ')} }`;

/** armor's cost: `first: N` multiplies the cost of the list's selection; `pages` full pages of 200 aliased side by side. */
const costly = (pages: number) =>
  `query Costly { ${Array.from({ length: pages }, (_, i) => `p${i}: ledgerEntries(member: { id: "${memberId}" }, first: 200) { nodes { id kind amount balanceAfter pendingAfter reservedAfter causeType causeId reason idempotencyKey createdAt } }`).join(' ')} }`;

const PROGRAM_FIELDS = ['id', 'name', 'currency', 'pointValueMinor', 'defaultLifetimeDays', 'pendingDays', 'maxRedeemPercent', 'timeZone', 'authorizationTtlSeconds', 'createdAt'];
/** Two directives on each of the 10 program fields, plus `extra` on `program` itself. */
const directives = (extra: number) =>
  `query Directives { program ${'@include(if: true) '.repeat(extra)}{ ${PROGRAM_FIELDS.map((f) => `${f} @include(if: true) @skip(if: false)`).join(' ')} } }`;

/** Exactly `n` tokens; the long list passes GraphQL validation and is refused later, by the resolver (at most 20 kinds). */
const tokens = (n: number) => `{ ledgerEntries(member: { id: "${memberId}" }, filter: { kinds: [${'ACCRUAL '.repeat(n - 26)}] }) { nodes { id } } }`;

interface Outcome {
  status: number;
  codes: unknown[];
  messages: string[];
  data: unknown;
}

async function overHttp(query: string, auth: string | null = OPERATOR_KEY, server = s): Promise<Outcome> {
  const res: GraphQLResponse<unknown> = await server.request<unknown, unknown>(query, undefined, auth);
  return { status: res.status, codes: codesOf(res), messages: (res.errors ?? []).map((e) => e.message), data: res.data ?? null };
}

async function overWs(query: string, auth: string = OPERATOR_KEY, server = s): Promise<Omit<Outcome, 'status'>> {
  const sub = record(server.ws(auth), query);
  await sub.settled();
  return { codes: sub.errors.map((e) => e.extensions?.code), messages: sub.errors.map((e) => e.message), data: sub.events[0]?.data ?? null };
}

describe('limits refuse over HTTP and over WebSocket with the same code', () => {
  const cases: Array<[string, () => string, () => string, RegExp]> = [
    ['depth', () => fragmentChain(5), () => fragmentChain(4), /depth limit of 10 exceeded/],
    ['aliases', () => aliases(16), () => aliases(15), /Aliases limit of 15 exceeded/],
    // The largest page with every field fits; three of them in one query do not.
    ['cost', () => costly(3), () => costly(1), /Cost limit of 15000 exceeded/],
    ['directives', () => directives(1), () => directives(0), /Directives limit of 20 exceeded/],
  ];

  test.each(cases)('%s', async (_name, overLimit, underLimit, message) => {
    const [over, under] = [overLimit(), underLimit()];
    const http = await overHttp(over);
    expect({ status: http.status, codes: http.codes, data: http.data }).toEqual({ status: 400, codes: ['GRAPHQL_VALIDATION_FAILED'], data: null });
    expect(http.messages[0]).toMatch(message);
    // A limit is not a syntax error (graphql-armor words every limit as one).
    expect(http.messages[0]).not.toMatch(/syntax/i);

    const ws = await overWs(over);
    expect(ws).toEqual({ codes: http.codes, messages: http.messages, data: null });

    // One step below the limit runs on both transports.
    const okHttp = await overHttp(under);
    expect({ status: okHttp.status, codes: okHttp.codes }).toEqual({ status: 200, codes: [] });
    expect(okHttp.data).not.toBeNull();
    const okWs = await overWs(under);
    expect(okWs.codes).toEqual([]);
    expect(okWs.data).toEqual(okHttp.data);
  });

  test('the token limit refuses on both transports and executes nothing', async () => {
    const http = await overHttp(tokens(2001));
    expect(http.data).toBeNull();
    expect(http.messages[0]).toMatch(/Token limit of 2000|more th.. 2000 tokens/);
    const ws = await overWs(tokens(2001));
    expect(ws.data).toBeNull();
    expect(ws.messages[0]).toMatch(/Token limit of 2000|more th.. 2000 tokens/);
    // Just under the limit the document is parsed, validated and executed: the resolver refuses the list.
    const under = await overHttp(tokens(1999));
    expect({ status: under.status, codes: under.codes }).toEqual({ status: 200, codes: ['BAD_USER_INPUT'] });
    expect((await overWs(tokens(1999))).codes).toEqual(['BAD_USER_INPUT']);
  });

  // Armor's maxTokens plugin parses the document in
  // Apollo's parsingDidStart and throws, so HTTP answers 500 with GRAPHQL_VALIDATION_FAILED for
  // both a document over the token limit and any plain syntax error; graphql-ws answers
  // GRAPHQL_PARSE_FAILED. Fix: `maxTokens: { enabled: false }` in LIMITS and
  // `parseOptions: { maxTokens: MAX_TOKENS }` on the ApolloServer. Remove `.failing` then.
  test('too many tokens and syntax errors: HTTP 400 with the code WebSocket gives', async () => {
    for (const query of [tokens(2100), '{ program { id ']) {
      const http = await overHttp(query);
      const ws = await overWs(query);
      expect({ query: query.slice(0, 20), status: http.status, codes: http.codes }).toEqual({ query: query.slice(0, 20), status: 400, codes: ['GRAPHQL_PARSE_FAILED'] });
      expect(ws.codes).toEqual(http.codes);
    }
  });

  test('unknown fields: the same code and message on either transport, with a suggestion outside production', async () => {
    const http = await overHttp('{ program { nam } }');
    const ws = await overWs('{ program { nam } }');
    expect({ status: http.status, codes: http.codes }).toEqual({ status: 400, codes: ['GRAPHQL_VALIDATION_FAILED'] });
    expect(ws.codes).toEqual(http.codes);
    expect(ws.messages).toEqual(http.messages);
    expect(http.messages[0]).toBe('Cannot query field "nam" on type "Program". Did you mean "name"?');
  });
});

describe('errors carry no stack traces', () => {
  const STACK = /stacktrace|\bat [\w.<>]+ \(|node_modules|\.ts:\d+|\.js:\d+/i;

  test('over HTTP and WebSocket, whatever the error', async () => {
    const member = await createMember(s, OPERATOR_KEY);
    ok(await s.request(AccrueDocument, { input: { member: { id: member.id }, points: 5, idempotencyKey: uniqueKey() } }));
    const bodies: string[] = [];
    const send = async (body: unknown, auth: string | null = OPERATOR_KEY) => {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      expect(JSON.parse(text).errors.length).toBeGreaterThan(0);
      bodies.push(text);
    };
    const { print } = await import('graphql');
    await send({ query: '{ program { nope } }' }); // validation
    await send({ query: aliases(20) }); // limit
    await send({ query: '{ program { id ' }); // syntax
    await send({ query: '{ program { id } }' }, 'ptn_srv_nope0000000000000000000000'); // bad key
    await send({ query: '{ program { id } }' }, null); // no key
    await send({ query: print(RedeemDocument), variables: { input: { member: { id: member.id }, points: 10_000, idempotencyKey: uniqueKey() } } }); // domain
    await send({ query: print(RedeemDocument), variables: { input: { member: { id: member.id }, points: 'ten', idempotencyKey: uniqueKey() } } }); // coercion
    await send({ query: print(RedeemDocument), variables: { input: { member: { id: member.id }, points: 0, idempotencyKey: uniqueKey() } } }); // class-validator
    await send({ query: print(AccountDocument), variables: { member: { id: '00000000-0000-0000-0000-000000000000' } } }); // not found
    await send({ query: print(AccountDocument), variables: { member: { id: 'not-a-uuid' } } });
    await send({ query: print(AccountDocument), variables: { member: { phone: 'x'.repeat(40) } } });
    await send({ query: '{ program { id } } { program { id } }' }); // ambiguous operation
    await send({ query: 'subscription { myBalance { available } }' }); // subscription over HTTP
    for (const body of bodies) expect(body).not.toMatch(STACK);

    for (const query of ['{ program { nope } }', aliases(20), '{ program { id ', `subscription { balanceChanged(memberId: "${member.id}0") { available } }`]) {
      const ws = await overWs(query);
      expect(ws.codes.length).toBeGreaterThan(0);
      expect(JSON.stringify(ws)).not.toMatch(STACK);
    }
  });

  // BUG (src/server.ts): express.json's errors (malformed JSON, body over 256 kB) reach Express's
  // default handler, which answers an HTML page with the stack trace unless the *process*
  // NODE_ENV is 'production'. Fix: an error handler after the /graphql middleware that answers
  // `{ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] }` with the error's 4xx status.
  test('a malformed or oversized body gets a JSON error without a stack trace', async () => {
    for (const body of ['{"query": ', JSON.stringify({ query: '{ program { id } }', variables: { pad: 'x'.repeat(300_000) } })]) {
      const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_KEY}` }, body });
      const text = await res.text();
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(text).not.toMatch(STACK);
      expect(JSON.parse(text).errors[0].extensions.code).toBe('BAD_REQUEST');
    }
  });
});

describe('production hardening', () => {
  const INTROSPECTION = '{ __schema { queryType { name } } }';
  const TYPE = '{ __type(name: "Program") { fields { name } } }';

  async function graphiql(server: TestServer) {
    const page = await fetch(server.url, { headers: { accept: 'text/html' } });
    const html = await page.text();
    const asset = await fetch(server.url.replace('/graphql', '/graphiql/ruru.js'));
    await asset.arrayBuffer();
    return { status: page.status, html: page.headers.get('content-type')?.startsWith('text/html') ?? false, ruru: html.includes('/graphiql/ruru.js'), asset: asset.status };
  }

  test('NODE_ENV=production refuses introspection and serves no GraphiQL', async () => {
    const p = await startTestServer({ env: { NODE_ENV: 'production' } });
    try {
      for (const query of [INTROSPECTION, TYPE]) {
        const http = await overHttp(query, OPERATOR_KEY, p);
        expect({ status: http.status, data: http.data, codes: [...new Set(http.codes)] }).toEqual({ status: 400, data: null, codes: ['GRAPHQL_VALIDATION_FAILED'] });
        const ws = await overWs(query, OPERATOR_KEY, p);
        expect({ data: ws.data, codes: [...new Set(ws.codes)] }).toEqual({ data: null, codes: ['GRAPHQL_VALIDATION_FAILED'] });
      }
      const served = await graphiql(p);
      expect({ html: served.html, ruru: served.ruru, asset: served.asset }).toEqual({ html: false, ruru: false, asset: 404 });
      // Apollo's own landing page (loaded from its CDN) is not served either.
      const page = await (await fetch(p.url, { headers: { accept: 'text/html' } })).text();
      expect(page).not.toMatch(/cdn\.apollographql|<html/i);
      // Ordinary operations still work.
      expect(ok(await p.request(ProgramDocument, {}, OPERATOR_KEY)).program.id).toBeTruthy();
      // The test server, for contrast, allows both.
      expect((await overHttp(INTROSPECTION)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      expect(await graphiql(s)).toEqual({ status: 200, html: true, ruru: true, asset: 200 });
    } finally {
      await p.close();
    }
  });

  test('PATRON_INTROSPECTION and PATRON_GRAPHIQL switch each back on, independently', async () => {
    const introspection = await startTestServer({ env: { NODE_ENV: 'production', PATRON_INTROSPECTION: 'true' } });
    const ide = await startTestServer({ env: { NODE_ENV: 'production', PATRON_GRAPHIQL: 'true' } });
    try {
      expect((await overHttp(INTROSPECTION, OPERATOR_KEY, introspection)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      expect((await overWs(INTROSPECTION, OPERATOR_KEY, introspection)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      expect((await graphiql(introspection)).ruru).toBe(false);

      expect(await graphiql(ide)).toEqual({ status: 200, html: true, ruru: true, asset: 200 });
      expect((await overHttp(INTROSPECTION, OPERATOR_KEY, ide)).codes).toContain('GRAPHQL_VALIDATION_FAILED');
    } finally {
      await Promise.all([introspection.close(), ide.close()]);
    }
  });

  test('production messages name no limits\' figures and suggest no enum values, on either transport', async () => {
    const p = await startTestServer({ env: { NODE_ENV: 'production' } });
    try {
      const enumTypo = 'mutation { createApiKey(input: { name: "x", role: ADMN }) { secret } }';
      const cases: Array<[string, RegExp]> = [
        [fragmentChain(5), /depth limit exceeded/i],
        [aliases(16), /aliases limit exceeded/i],
        [costly(3), /cost limit exceeded/i],
        [directives(1), /directives limit exceeded/i],
        [tokens(2100), /too many tokens/i],
        [enumTypo, /ApiKeyRole/],
        ['{ program { nam } }', /^Cannot query field "nam" on type "Program"\.$/],
        [INTROSPECTION, /^Introspection is turned off on this server \(PATRON_INTROSPECTION\)$/],
      ];
      for (const [query, expected] of cases) {
        const http = await overHttp(query, OPERATOR_KEY, p);
        const ws = await overWs(query, OPERATOR_KEY, p);
        expect(http.codes.length).toBeGreaterThan(0);
        // graphql-js's introspection rule reports each introspection field; Apollo, the query once.
        const once = (list: unknown[]) => (query === INTROSPECTION ? [...new Set(list)] : list);
        expect({ codes: once(ws.codes), messages: once(ws.messages), data: ws.data }).toEqual({ codes: http.codes, messages: http.messages, data: null });
        expect(http.messages[0]).toMatch(expected);
        for (const message of http.messages) expect(message).not.toMatch(/\d|Did you mean/);
      }
    } finally {
      await p.close();
    }
  });
});
