import { OPERATOR_KEY, startTestServer, type TestServer } from '../support/server';
import { codesOf, createMember, ok, rawWebSocket, record, uniqueKey } from './helpers';

/**
 * One policy for all text at the edge: NUL and unpaired surrogates cannot be stored faithfully,
 * so they are refused with BAD_USER_INPUT naming the field; everything else is stored exactly.
 * JSON arguments are bounded in depth. Same on HTTP and WebSocket.
 */
let s: TestServer;
let memberId: string;
beforeAll(async () => {
  s = await startTestServer();
  memberId = (await createMember(s, OPERATOR_KEY)).id;
});
afterAll(() => s.close());

const UPSERT = 'mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { member { id externalId name tags attributes } } }';
const ACCRUE = 'mutation($input: AccrueInput!) { accrue(input: $input) { entry { id reason idempotencyKey } } }';
const PLACE = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } } }';
const TRACK = 'mutation($input: TrackEventInput!) { trackEvent(input: $input) { event { id payload } } }';
const LOOKUP = 'query($externalId: String) { member(externalId: $externalId) { id } }';

const NUL = 'a\u0000b';
const line = (sku: string) => ({ sku, unitPriceMinor: 1000, quantity: 1 });

/** [name, query, variables, field path named in the error] */
const refused: Array<[string, string, () => Record<string, unknown>, string]> = [
  ['NUL in externalId', UPSERT, () => ({ input: { externalId: NUL } }), 'externalId'],
  ['NUL in a name', UPSERT, () => ({ input: { externalId: uniqueKey('c'), name: NUL } }), 'name'],
  ['NUL in a tag', UPSERT, () => ({ input: { externalId: uniqueKey('c'), tags: ['ok', NUL] } }), 'tags[1]'],
  ['NUL in attributes', UPSERT, () => ({ input: { externalId: uniqueKey('c'), attributes: { note: { text: NUL } } } }), 'attributes.note.text'],
  ['NUL in an attribute name', UPSERT, () => ({ input: { externalId: uniqueKey('c'), attributes: { [NUL]: 1 } } }), 'attributes'],
  ['NUL in a reason', ACCRUE, () => ({ input: { member: { id: memberId }, points: 1, reason: NUL, idempotencyKey: uniqueKey() } }), 'reason'],
  ['NUL in an idempotency key', ACCRUE, () => ({ input: { member: { id: memberId }, points: 1, idempotencyKey: NUL } }), 'idempotencyKey'],
  ['a lone high surrogate', ACCRUE, () => ({ input: { member: { id: memberId }, points: 1, idempotencyKey: 'k-\uD800' } }), 'idempotencyKey'],
  ['a lone low surrogate', ACCRUE, () => ({ input: { member: { id: memberId }, points: 1, idempotencyKey: 'k-\uDC00x' } }), 'idempotencyKey'],
  ['a whitespace-only idempotency key', ACCRUE, () => ({ input: { member: { id: memberId }, points: 1, idempotencyKey: ' \t ' } }), 'idempotencyKey'],
  ['NUL in an order id', PLACE, () => ({ input: { orderId: NUL, member: { id: memberId }, lines: [line('A')], idempotencyKey: uniqueKey() } }), 'orderId'],
  ['NUL in a SKU', PLACE, () => ({ input: { orderId: uniqueKey('o'), member: { id: memberId }, lines: [line('A'), line('B'), line(NUL)], idempotencyKey: uniqueKey() } }), 'lines[2].sku'],
  ['NUL in a lookup', LOOKUP, () => ({ externalId: NUL }), 'externalId'],
  ['NUL in an event payload', TRACK, () => ({ input: { member: { id: memberId }, type: 'survey_answer', payload: { answers: [1, NUL] }, idempotencyKey: uniqueKey() } }), 'payload.answers[1]'],
];

describe('text that cannot be stored faithfully is refused, naming the field', () => {
  it.each(refused)('%s (HTTP)', async (_name, query, variables, field) => {
    const res = await s.request<unknown, unknown>(query, variables());
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.message).toContain(field);
    expect(res.errors![0]!.extensions).toMatchObject({ field });
  });

  it.each(refused)('%s (WebSocket)', async (_name, query, variables, field) => {
    const rec = record(s.ws(OPERATOR_KEY), query, variables());
    await rec.settled();
    expect(rec.errors.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(rec.errors[0]!.message).toContain(field);
  });

  it('refuses NUL written as an escape in the document itself', async () => {
    const res = await s.request<unknown, unknown>('{ member(externalId: "a\\u0000b") { id } }');
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.message).toContain('externalId');
  });

  it('changes nothing when it refuses', async () => {
    const externalId = uniqueKey('refused');
    await s.request<unknown, unknown>(UPSERT, { input: { externalId, name: NUL } });
    const res = ok(await s.request<{ member: unknown }, unknown>(LOOKUP, { externalId }));
    expect(res.member).toBeNull();
  });
});

describe('everything else is stored exactly', () => {
  it('keeps emoji, accents, tabs, newlines and quotes in names, reasons, keys and JSON', async () => {
    const text = 'Zoë 😀 "quoted" \\ back\tslash\nnew line \u2028';
    const externalId = `${uniqueKey('c')}-${text}`;
    const created = ok(await s.request<any, unknown>(UPSERT, { input: { externalId, name: text, attributes: { [text]: text } } }));
    expect(created.upsertMember.member).toMatchObject({ externalId, name: text, attributes: { [text]: text } });
    const key = `${uniqueKey()}-${text}`;
    const accrued = ok(await s.request<any, unknown>(ACCRUE, { input: { member: { id: memberId }, points: 1, reason: text, idempotencyKey: key } }));
    expect(accrued.accrue.entry).toMatchObject({ reason: text, idempotencyKey: key });
  });

  it('keeps tags with newlines, backslashes, quotes, commas, braces and non-ASCII exactly', async () => {
    const tags = ['a\nb', 'back\\slash', 'tab\tx', 'ü', '😀', 'say "hi"', 'a,b', '{x}', 'NULL', ' padded '];
    const created = ok(await s.request<any, unknown>(UPSERT, { input: { externalId: uniqueKey('c'), tags } }));
    expect(created.upsertMember.member.tags).toEqual(tags);
  });

  it('keeps a tag given twice once, in the order first given', async () => {
    const created = ok(await s.request<any, unknown>(UPSERT, { input: { externalId: uniqueKey('c'), tags: ['vip', 'new', 'vip', 'VIP'] } }));
    expect(created.upsertMember.member.tags).toEqual(['vip', 'new', 'VIP']);
  });
});

describe('JSON depth is bounded at the edge', () => {
  const nested = (depth: number): unknown => {
    let value: unknown = 'leaf';
    for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { x: value };
    return value;
  };
  /** The same as JSON text, built by hand: JSON.stringify itself overflows on such depths. */
  const nestedText = (depth: number) => '{"x":['.repeat(depth / 2) + '"leaf"' + ']}'.repeat(depth / 2);
  const upsertBody = (depth: number) =>
    `{"query":${JSON.stringify(UPSERT)},"variables":{"input":{"externalId":"${uniqueKey('c')}","attributes":{"deep":${nestedText(depth)}}}}}`;

  it.each([40, 5000, 20000])('refuses attributes %i levels deep with BAD_USER_INPUT', async (depth) => {
    const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_KEY}` }, body: upsertBody(depth) });
    const body = (await res.json()) as { errors?: Array<{ message: string; extensions?: { code?: string } }> };
    expect(codesOf(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors![0]!.message).toMatch(/^attributes.*deeper than 32/);
  });

  it('refuses a deep event payload over WebSocket too', async () => {
    const payload = `{"query":${JSON.stringify(TRACK)},"variables":{"input":{"member":{"id":"${memberId}"},"type":"survey_answer","idempotencyKey":"${uniqueKey()}","payload":${nestedText(5000)}}}}`;
    const messages = await rawWebSocket(s.wsUrl, OPERATOR_KEY, payload);
    const errors = messages.flatMap((m) => (m.type === 'next' ? m.payload.errors ?? [] : m.type === 'error' ? m.payload : []));
    expect(errors.map((e: { extensions?: { code?: string } }) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('accepts JSON that nests within the bound', async () => {
    const attributes = { deep: nested(25) };
    const res = ok(await s.request<any, unknown>(UPSERT, { input: { externalId: uniqueKey('c'), attributes } }));
    expect(res.upsertMember.member.attributes).toEqual(attributes);
  });

  it('refuses a JSON argument with too many values', async () => {
    const attributes = { many: Array.from({ length: 20_001 }, () => 1) };
    const res = await s.request<unknown, unknown>(UPSERT, { input: { externalId: uniqueKey('c'), attributes } });
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
  });
});
