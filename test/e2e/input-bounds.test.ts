import { Client } from 'pg';
import { OPERATOR_KEY, startTestServer, type GraphQLResponse, type TestServer } from '../support/server';
import { codesOf, createMember, createProgram, ok, uniqueKey, type ProgramFixture } from './helpers';

/**
 * Values a write cannot sensibly mean are refused at once with BAD_USER_INPUT naming the field,
 * and nothing is written: money beyond what an answer can carry exactly, currencies that do
 * not exist, dates in the future or centuries away, phone numbers with an extension.
 */
let s: TestServer;
let sql: Client;
beforeAll(async () => {
  s = await startTestServer();
  sql = new Client({ connectionString: s.db.url });
  await sql.connect();
});
afterAll(async () => {
  await sql.end();
  await s.close();
});

const ACCRUE = `mutation($input: AccrueInput!) { accrue(input: $input) {
  entry { id } account { available pending availableMoney { amountMinor currency } pendingMoney { amountMinor } } } }`;
const ADJUST = 'mutation($input: AdjustInput!) { adjust(input: $input) { entry { id } account { available availableMoney { amountMinor } } } }';
const UPSERT = 'mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { member { id phone birthday registeredAt } } }';
const LOOKUP = 'query($externalId: String) { member(externalId: $externalId) { id } }';
const CREATE_PROGRAM = 'mutation($input: CreateProgramInput!) { createProgram(input: $input) { program { id currency } } }';
const UPDATE_SETTINGS = 'mutation($input: ProgramSettingsInput!) { updateProgramSettings(input: $input) { currency pointValueMinor } }';
const PROGRAM = '{ program { currency pointValueMinor } }';

const count = async (query: string, params: unknown[] = []) => Number((await sql.query(query, params)).rows[0].count);
const entriesOf = (memberId: string) =>
  count('select count(*) from ledger_entry e join account a on a.id = e.account_id where a.member_id = $1', [memberId]);

function expectRefused(res: GraphQLResponse<unknown>, field: string, message?: RegExp): void {
  expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
  expect(res.errors![0]!.extensions).toMatchObject({ field });
  expect(res.errors![0]!.message).toContain(field);
  if (message) expect(res.errors![0]!.message).toMatch(message);
}

describe('money in answers stays exact: balance × pointValueMinor never passes Number.MAX_SAFE_INTEGER', () => {
  let p: ProgramFixture;
  let memberId: string;
  beforeAll(async () => {
    p = await createProgram(s, { pointValueMinor: 1_000_000 });
    memberId = (await createMember(s, p.serverKey)).id;
  });

  it('answers an account of 9 000 000 000 points at the largest point value exactly', async () => {
    let res: any;
    for (let i = 0; i < 9; i++) {
      res = ok(await s.request<any, unknown>(ACCRUE, { input: { member: { id: memberId }, points: 1_000_000_000, delayDays: 0, idempotencyKey: uniqueKey() } }, p.serverKey));
    }
    expect(res.accrue.account).toMatchObject({ available: 9_000_000_000, availableMoney: { amountMinor: 9_000_000_000_000_000, currency: 'RUB' } });
  });

  it('refuses a write that would take the account past 9 000 000 000 points, before it commits, and so does every retry of its key', async () => {
    const entries = await entriesOf(memberId);
    const input = { member: { id: memberId }, points: 1, delayDays: 5, idempotencyKey: uniqueKey() };
    for (let attempt = 0; attempt < 2; attempt++) {
      expectRefused(await s.request(ACCRUE, { input }, p.serverKey), 'points', /9000000000 points/);
    }
    expectRefused(await s.request(ADJUST, { input: { member: { id: memberId }, points: 1, reason: 'goodwill', idempotencyKey: uniqueKey() } }, p.adminKey), 'points');
    expect(await entriesOf(memberId)).toBe(entries);
    expect(await count('select count(*) from idempotency_record where key = $1', [input.idempotencyKey])).toBe(0);
    const account = ok(await s.request<any, unknown>('query($id: ID) { account(member: { id: $id }) { available pending } }', { id: memberId }, p.serverKey));
    expect(account.account).toEqual({ available: 9_000_000_000, pending: 0 });
  });

  it('keeps pointValueMinor within 1 to 1 000 000', async () => {
    const res = await s.request(UPDATE_SETTINGS, { input: { pointValueMinor: 1_000_001 } }, p.adminKey);
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
    expect(ok(await s.request<any, unknown>(PROGRAM, {}, p.adminKey)).program.pointValueMinor).toBe(1_000_000);
  });
});

describe('a currency must be one ISO 4217 knows', () => {
  it('refuses ZZZ when a program is created, creating nothing', async () => {
    const programs = await count('select count(*) from program');
    expectRefused(await s.request(CREATE_PROGRAM, { input: { name: uniqueKey('shop'), currency: 'ZZZ' } }), 'currency', /ISO 4217/);
    expect(await count('select count(*) from program')).toBe(programs);
  });

  it('refuses ZZZ in the settings, keeping the currency; accepts a real one', async () => {
    const p = await createProgram(s);
    expectRefused(await s.request(UPDATE_SETTINGS, { input: { currency: 'ZZZ' } }, p.adminKey), 'currency');
    expect(ok(await s.request<any, unknown>(PROGRAM, {}, p.adminKey)).program.currency).toBe('RUB');
    expect(ok(await s.request<any, unknown>(UPDATE_SETTINGS, { input: { currency: 'KZT' } }, p.adminKey)).updateProgramSettings.currency).toBe('KZT');
  });
});

describe('member dates are not in the future', () => {
  const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

  it('refuses a birthday after today, registering no one', async () => {
    const externalId = uniqueKey('c');
    expectRefused(await s.request(UPSERT, { input: { externalId, birthday: day(2) } }), 'birthday', /future/);
    expect(ok(await s.request<any, unknown>(LOOKUP, { externalId })).member).toBeNull();
    const today = ok(await s.request<any, unknown>(UPSERT, { input: { externalId: uniqueKey('c'), birthday: day(-1) } }));
    expect(today.upsertMember.member.birthday).toBe(day(-1));
  });

  it('refuses registeredAt more than 5 minutes ahead, and one before 1900; allows a little clock skew', async () => {
    const externalId = uniqueKey('c');
    const ahead = new Date(Date.now() + 60 * 60_000).toISOString();
    expectRefused(await s.request(UPSERT, { input: { externalId, registeredAt: ahead } }), 'registeredAt', /5 minutes/);
    expectRefused(await s.request(UPSERT, { input: { externalId, registeredAt: '0001-01-01T00:00:00Z' } }), 'registeredAt');
    expect(ok(await s.request<any, unknown>(LOOKUP, { externalId })).member).toBeNull();
    const skewed = new Date(Date.now() + 60_000).toISOString();
    expect(ok(await s.request<any, unknown>(UPSERT, { input: { externalId, registeredAt: skewed } })).upsertMember.member.registeredAt).toBe(skewed);
  });
});

describe('a phone number with an extension is refused', () => {
  it.each(['+1 415 555 2671 ext. 12', '+14155552671;ext=34', '+7 912 345-67-89 доб. 5', '8 (912) 345-67-89 ext 5'])('%s', async (phone) => {
    const externalId = uniqueKey('c');
    expectRefused(await s.request(UPSERT, { input: { externalId, phone } }), 'phone', /extension/);
    expect(ok(await s.request<any, unknown>(LOOKUP, { externalId })).member).toBeNull();
  });

  it('so two members differing only in the extension never collide', async () => {
    const first = await createMember(s, OPERATOR_KEY, { phone: '+1 415 555 2672' });
    expect(first.phone).toBe('+14155552672');
    expectRefused(await s.request(UPSERT, { input: { externalId: uniqueKey('c'), phone: '+1 415 555 2672 ext. 2' } }), 'phone');
  });
});

describe('when accrued points become available and expire stays within 2000-01-01 and 100 years ahead', () => {
  let memberId: string;
  beforeAll(async () => {
    memberId = (await createMember(s, OPERATOR_KEY)).id;
  });
  it.each([
    ['availableAt', '0001-01-01T00:00:00Z'],
    ['availableAt', '9999-12-31T00:00:00Z'],
    ['expiresAt', '9999-12-31T00:00:00Z'],
    ['expiresAt', '1999-12-31T23:59:59Z'],
  ])('refuses %s %s, writing nothing', async (field, at) => {
    const entries = await entriesOf(memberId);
    expectRefused(await s.request(ACCRUE, { input: { member: { id: memberId }, points: 5, [field]: at, idempotencyKey: uniqueKey() } }), field, /2000-01-01.*100 years/);
    expect(await entriesOf(memberId)).toBe(entries);
  });

  it('accepts dates inside the window', async () => {
    const availableAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const expiresAt = new Date(Date.now() + 365 * 86_400_000).toISOString();
    const res = ok(await s.request<any, unknown>(ACCRUE, { input: { member: { id: memberId }, points: 5, availableAt, expiresAt, idempotencyKey: uniqueKey() } }));
    expect(res.accrue.account.pending).toBe(5);
  });
});
