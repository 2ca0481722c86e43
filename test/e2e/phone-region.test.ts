import { startTestServer, type TestServer } from '../support/server';
import {
  AccrueDocument, MemberDocument, ProgramDocument, UpdateProgramSettingsDocument, UpsertMemberDocument,
} from './generated/graphql';
import { codesOf, createProgram, ok, uniqueKey, type ProgramFixture } from './helpers';

/** Phones without a country code are read in the program's phoneDefaultRegion, over the real API. */
let s: TestServer;
let us: ProgramFixture;
let ru: ProgramFixture;
beforeAll(async () => {
  s = await startTestServer();
  us = await createProgram(s, { phoneDefaultRegion: 'US', currency: 'USD' });
  ru = await createProgram(s);
});
afterAll(() => s.close());

const fieldsOf = (res: { errors?: Array<{ extensions?: Record<string, unknown> }> }) => (res.errors ?? []).map((e) => e.extensions?.field);

test('a program reads phones in RU unless it names another region', async () => {
  expect(ok(await s.request(ProgramDocument, {}, ru.adminKey)).program.phoneDefaultRegion).toBe('RU');
  expect(ok(await s.request(ProgramDocument, {}, us.adminKey)).program.phoneDefaultRegion).toBe('US');
});

test('a US shop registers (415) 555-2671 as +14155552671 and finds the member by it', async () => {
  const externalId = uniqueKey('amy');
  const created = ok(await s.request(UpsertMemberDocument, { input: { externalId, phone: '(415) 555-2671' } }, us.serverKey)).upsertMember;
  expect(created.member.phone).toBe('+14155552671');
  expect(ok(await s.request(MemberDocument, { phone: '415-555-2671' }, us.serverKey)).member?.externalId).toBe(externalId);
  expect(ok(await s.request(MemberDocument, { phone: '+1 (415) 555-2671' }, us.serverKey)).member?.externalId).toBe(externalId);
  const accrued = ok(await s.request(AccrueDocument, {
    input: { member: { phone: '(415) 555-2671' }, points: 5, idempotencyKey: uniqueKey() },
  }, us.serverKey)).accrue;
  expect(accrued.account.available).toBe(5);
});

test('a RU shop registers 8 912 345-67-89 as +79123456789', async () => {
  const created = ok(await s.request(UpsertMemberDocument, { input: { externalId: uniqueKey('ivan'), phone: '8 912 345-67-89' } }, ru.serverKey)).upsertMember;
  expect(created.member.phone).toBe('+79123456789');
});

test('a number the region cannot read is BAD_USER_INPUT naming phone, and nothing is written', async () => {
  for (const phone of ['8 912 345-67-89', 'call me', '+1 12']) {
    const externalId = uniqueKey('bad');
    const res = await s.request(UpsertMemberDocument, { input: { externalId, phone } }, us.serverKey);
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
    expect(fieldsOf(res)).toEqual(['phone']);
    expect(ok(await s.request(MemberDocument, { externalId }, us.serverKey)).member).toBeNull();
  }
  expect(codesOf(await s.request(MemberDocument, { phone: 'call me' }, us.serverKey))).toEqual(['BAD_USER_INPUT']);
});

test('an admin changes the region; an unknown one is BAD_USER_INPUT naming phoneDefaultRegion', async () => {
  const p = await createProgram(s);
  for (const phoneDefaultRegion of ['ZZ', 'usa', 'u']) {
    const res = await s.request(UpdateProgramSettingsDocument, { input: { phoneDefaultRegion } }, p.adminKey);
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
    expect(fieldsOf(res)).toEqual(['phoneDefaultRegion']);
  }
  expect(ok(await s.request(UpdateProgramSettingsDocument, { input: { phoneDefaultRegion: 'GB' } }, p.adminKey)).updateProgramSettings.phoneDefaultRegion).toBe('GB');
  const created = ok(await s.request(UpsertMemberDocument, { input: { externalId: uniqueKey('gb'), phone: '020 7946 0018' } }, p.serverKey)).upsertMember;
  expect(created.member.phone).toBe('+442079460018');
});
