import { startTestServer, type TestServer } from '../support/server';
import {
  ApiKeysDocument, ApiKeysPageDocument, CreateApiKeyDocument, CreateRuleDocument, IssueCustomerTokenDocument, RulesDocument,
  RulesPageDocument,
} from './generated/graphql';
import { codesOf, createMember, createProgram, ok, type ProgramFixture } from './helpers';

/**
 * Lists that grow (rules, API keys) page the way GraphQL clients expect: `first`/`after`,
 * `edges { cursor node }` beside `nodes`, `pageInfo`; and keys show prefixes that tell them apart.
 */
let s: TestServer;
let p: ProgramFixture;
let customerToken: string;
beforeAll(async () => {
  s = await startTestServer();
  p = await createProgram(s);
  const member = await createMember(s, p.serverKey);
  customerToken = ok(await s.request(IssueCustomerTokenDocument, { input: { member: { id: member.id } } }, p.serverKey)).issueCustomerToken.token;
});
afterAll(() => s.close());

const rule = (trigger: string) => ({ trigger, actions: [{ code: 'fixedPoints', args: { points: 10 } }] });

/** Every page of a connection read with `first` and each page's endCursor; checks each page's shape. */
async function readAll<N extends { id: string }>(
  read: (after: string | null) => Promise<{ nodes: Array<{ id: string }>; edges: Array<{ cursor: string; node: N }>; pageInfo: { hasNextPage: boolean; endCursor?: string | null } }>,
): Promise<{ pages: N[][]; cursors: Map<string, string> }> {
  const pages: N[][] = [];
  const cursors = new Map<string, string>();
  let after: string | null = null;
  for (;;) {
    const page = await read(after);
    expect(page.nodes.map((n) => n.id)).toEqual(page.edges.map((e) => e.node.id));
    for (const edge of page.edges) cursors.set(edge.node.id, edge.cursor);
    expect(page.pageInfo.endCursor ?? null).toBe(page.edges.at(-1)?.cursor ?? null);
    pages.push(page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return { pages, cursors };
    after = page.pageInfo.endCursor!;
  }
}

describe('rulesConnection', () => {
  const ids: string[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 7; i++) {
      const created = ok(await s.request(CreateRuleDocument, {
        input: { name: `rule ${i}`, status: i % 2 ? 'ACTIVE' : 'DRAFT', definition: rule(i < 5 ? 'page_view' : 'review') },
      }, p.adminKey)).createRule;
      ids.push(created.id);
    }
  });

  test('pages through every rule, oldest first, as the deprecated rules field lists them', async () => {
    const { pages, cursors } = await readAll(async (after) => ok(await s.request(RulesPageDocument, { first: 2, after }, p.adminKey)).rulesConnection);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 2, 1]);
    expect(pages.flat().map((r) => r.id)).toEqual(ids);
    const listed = ok(await s.request(RulesDocument, {}, p.adminKey)).rules;
    expect(listed.map((r) => r.id)).toEqual(ids);

    // Each edge's cursor reads on after its rule.
    for (const [i, id] of ids.entries()) {
      const next = ok(await s.request(RulesPageDocument, { first: 3, after: cursors.get(id)! }, p.adminKey)).rulesConnection;
      expect(next.nodes.map((r) => r.id)).toEqual(ids.slice(i + 1, i + 4));
      expect(next.pageInfo.hasNextPage).toBe(i + 4 < ids.length);
    }
  });

  test('filters by status and trigger before paging', async () => {
    const active = await readAll(async (after) =>
      ok(await s.request(RulesPageDocument, { first: 1, after, filter: { status: 'ACTIVE' } }, p.adminKey)).rulesConnection);
    expect(active.pages.flat().map((r) => r.id)).toEqual([ids[1], ids[3], ids[5]]);
    const reviews = await readAll(async (after) =>
      ok(await s.request(RulesPageDocument, { first: 1, after, filter: { trigger: 'review' } }, p.adminKey)).rulesConnection);
    expect(reviews.pages.flat().map((r) => r.id)).toEqual([ids[5], ids[6]]);
    expect(reviews.pages.flat().every((r) => r.definition.trigger === 'review')).toBe(true);
  });

  test('a bad cursor or page size is BAD_USER_INPUT', async () => {
    const other = await createProgram(s);
    const foreign = ok(await s.request(CreateRuleDocument, { input: { name: 'theirs', definition: rule('page_view') } }, other.adminKey)).createRule;
    const foreignCursor = ok(await s.request(RulesPageDocument, { first: 1 }, other.adminKey)).rulesConnection.edges[0]!.cursor;
    expect(ok(await s.request(RulesPageDocument, { first: 1 }, other.adminKey)).rulesConnection.nodes[0]!.id).toBe(foreign.id);
    const keyCursor = ok(await s.request(ApiKeysPageDocument, { first: 1 }, p.adminKey)).apiKeysConnection.pageInfo.endCursor!;
    for (const after of ['nonsense', Buffer.from('rules:not-a-uuid').toString('base64url'), keyCursor, foreignCursor, '']) {
      const res = await s.request(RulesPageDocument, { first: 2, after }, p.adminKey);
      expect({ after, codes: codesOf(res) }).toEqual({ after, codes: ['BAD_USER_INPUT'] });
    }
    for (const first of [0, 201, -1]) expect(codesOf(await s.request(RulesPageDocument, { first }, p.adminKey))).toEqual(['BAD_USER_INPUT']);
  });

  test('customers and storefront keys cannot read rules', async () => {
    expect(codesOf(await s.request(RulesPageDocument, { first: 2 }, customerToken))).toEqual(['FORBIDDEN']);
    expect(codesOf(await s.request(RulesPageDocument, { first: 2 }, p.serverKey))).toEqual(['FORBIDDEN']);
    expect(codesOf(await s.request(RulesPageDocument, { first: 2 }, null))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('apiKeysConnection and key prefixes', () => {
  test('two new keys of one role have different prefixes, each the start of its secret', async () => {
    const made = [];
    for (const name of ['till 1', 'till 2']) made.push(ok(await s.request(CreateApiKeyDocument, { input: { name, role: 'SERVER' } }, p.adminKey)).createApiKey);
    const [a, b] = made;
    expect(a!.apiKey.prefix).not.toBe(b!.apiKey.prefix);
    for (const key of made) {
      expect(key.apiKey.prefix).toHaveLength(14);
      expect(key.apiKey.prefix).toMatch(/^ptn_srv_/);
      expect(key.secret.startsWith(key.apiKey.prefix)).toBe(true);
    }
    // A new program's first admin key, too.
    const other = await createProgram(s);
    const [first] = ok(await s.request(ApiKeysPageDocument, { first: 1 }, other.adminKey)).apiKeysConnection.nodes;
    const listed = ok(await s.request(ApiKeysDocument, {}, other.adminKey)).apiKeys.find((k) => k.id === first!.id)!;
    expect(listed.prefix).toMatch(/^ptn_adm_.{6}$/);
    expect(other.adminKey.startsWith(listed.prefix)).toBe(true);
  });

  test('pages through every key of the program, oldest first, as apiKeys lists them', async () => {
    const q = await createProgram(s);
    for (let i = 0; i < 5; i++) ok(await s.request(CreateApiKeyDocument, { input: { name: `key ${i}`, role: i % 2 ? 'ADMIN' : 'SERVER' } }, q.adminKey));
    const listed = ok(await s.request(ApiKeysDocument, {}, q.adminKey)).apiKeys.map((k) => k.id);
    expect(listed).toHaveLength(7); // the first admin key, the storefront's, and five more
    const { pages, cursors } = await readAll(async (after) => ok(await s.request(ApiKeysPageDocument, { first: 2, after }, q.adminKey)).apiKeysConnection);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 2, 1]);
    expect(pages.flat().map((k) => k.id)).toEqual(listed);
    for (const [i, id] of listed.entries()) {
      const next = ok(await s.request(ApiKeysPageDocument, { first: 2, after: cursors.get(id)! }, q.adminKey)).apiKeysConnection;
      expect(next.edges.map((e) => e.node.id)).toEqual(listed.slice(i + 1, i + 3));
    }
    const ruleCursor = ok(await s.request(RulesPageDocument, { first: 1 }, p.adminKey)).rulesConnection.pageInfo.endCursor!;
    const theirs = ok(await s.request(ApiKeysPageDocument, { first: 1 }, p.adminKey)).apiKeysConnection.pageInfo.endCursor!;
    for (const after of ['%%%', ruleCursor, theirs]) {
      expect(codesOf(await s.request(ApiKeysPageDocument, { after }, q.adminKey))).toEqual(['BAD_USER_INPUT']);
    }
  });

  test('customers and storefront keys cannot read keys', async () => {
    expect(codesOf(await s.request(ApiKeysPageDocument, {}, customerToken))).toEqual(['FORBIDDEN']);
    expect(codesOf(await s.request(ApiKeysPageDocument, {}, p.serverKey))).toEqual(['FORBIDDEN']);
  });
});
