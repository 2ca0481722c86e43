import { Client } from 'pg';
import { startTestServer, type TestServer } from '../support/server';
import { MemberDocument, UpsertMemberDocument } from './generated/graphql';
import { codesOf, createMember, createProgram, ok, uniqueKey, type ProgramFixture } from './helpers';

/**
 * A key that changes a member's e-mail or phone leaves a record of it, and the event that tells
 * the member at the old address is in the outbox with the change.
 */
let s: TestServer;
let shop: ProgramFixture;

beforeAll(async () => {
  s = await startTestServer();
  shop = await createProgram(s);
});
afterAll(() => s.close());

async function asOwner<T>(sql: string, params: unknown[]): Promise<T[]> {
  const client = new Client({ connectionString: s.db.url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const changesOf = (memberId: string) =>
  asOwner<Record<string, unknown>>(
    `select old_email, new_email, old_phone, new_phone, actor_kind, actor_id from member_contact_change where member_id = $1 order by changed_at`,
    [memberId]);
const eventsOf = (memberId: string) =>
  asOwner<{ payload: any }>(`select payload from outbox where member_id = $1 and type = 'member.contact_changed' order by id`, [memberId]);

test('changing the e-mail is recorded with who sent it, and member.contact_changed carries the old contact', async () => {
  const externalId = uniqueKey('customer');
  const member = await createMember(s, shop.serverKey, { externalId, email: 'old@example.com', phone: '+79120000101' });
  expect(await changesOf(member.id)).toEqual([]);

  ok(await s.request(UpsertMemberDocument, { input: { externalId, email: 'New@Example.com' } }, shop.serverKey));

  expect(await changesOf(member.id)).toEqual([{
    old_email: 'old@example.com', new_email: 'new@example.com', old_phone: null, new_phone: null, actor_kind: 'server', actor_id: shop.serverKeyId,
  }]);
  const [event] = await eventsOf(member.id);
  expect(event.payload).toMatchObject({
    memberId: member.id,
    externalId,
    previous: { email: 'old@example.com', phone: '+79120000101' },
    current: { email: 'new@example.com', phone: '+79120000101' },
    changed: ['email'],
    changedBy: { kind: 'server', id: shop.serverKeyId },
  });
});

test('a phone change by an admin key is recorded too; both fields at once make one record and one event', async () => {
  const externalId = uniqueKey('customer');
  const member = await createMember(s, shop.serverKey, { externalId, email: 'a@example.com', phone: '+79120000102' });
  ok(await s.request(UpsertMemberDocument, { input: { externalId, email: 'b@example.com', phone: '+79120000103' } }, shop.adminKey));
  const changes = await changesOf(member.id);
  expect(changes).toEqual([{
    old_email: 'a@example.com', new_email: 'b@example.com', old_phone: '+79120000102', new_phone: '+79120000103', actor_kind: 'admin', actor_id: expect.any(String),
  }]);
  expect((await eventsOf(member.id)).map((e) => e.payload.changed)).toEqual([['email', 'phone']]);
});

test('nothing is recorded when the contact stays the same, or for a new member', async () => {
  const externalId = uniqueKey('customer');
  const member = await createMember(s, shop.serverKey, { externalId, email: 'same@example.com', phone: '+79120000104' });
  ok(await s.request(UpsertMemberDocument, { input: { externalId, email: ' SAME@example.com ', phone: '+7 912 000-01-04', name: 'Renamed' } }, shop.serverKey));
  ok(await s.request(UpsertMemberDocument, { input: { externalId, name: 'Renamed again' } }, shop.serverKey));
  expect(await changesOf(member.id)).toEqual([]);
  expect(await eventsOf(member.id)).toEqual([]);
});

test('a change refused (another member has the e-mail) records nothing', async () => {
  const taken = await createMember(s, shop.serverKey, { email: 'taken@example.com' });
  const externalId = uniqueKey('customer');
  const member = await createMember(s, shop.serverKey, { externalId, email: 'mine@example.com' });
  expect(codesOf(await s.request(UpsertMemberDocument, { input: { externalId, email: taken.email! } }, shop.serverKey))).toEqual(['CONFLICT']);
  expect(await changesOf(member.id)).toEqual([]);
  expect(await eventsOf(member.id)).toEqual([]);
});

test('clear empties the fields it names on an existing member; a cleared e-mail or phone is recorded as a change', async () => {
  const externalId = uniqueKey('customer');
  const member = await createMember(s, shop.serverKey, { externalId, email: 'gone@example.com', phone: '+79120000105', name: 'Vera' });
  ok(await s.request(UpsertMemberDocument, { input: { externalId, birthday: '1990-05-06' } }, shop.serverKey));

  const cleared = ok(await s.request(UpsertMemberDocument, { input: { externalId, clear: ['EMAIL', 'BIRTHDAY'] } }, shop.serverKey));
  expect(cleared.upsertMember.member).toMatchObject({ id: member.id, email: null, phone: '+79120000105', name: 'Vera' });
  const [row] = await asOwner<{ email: string | null; birthday: string | null }>('select email, birthday::text from member where id = $1', [member.id]);
  expect(row).toEqual({ email: null, birthday: null });
  expect(await changesOf(member.id)).toEqual([{
    old_email: 'gone@example.com', new_email: null, old_phone: null, new_phone: null, actor_kind: 'server', actor_id: shop.serverKeyId,
  }]);
  const [event] = await eventsOf(member.id);
  expect(event.payload).toMatchObject({ previous: { email: 'gone@example.com' }, current: { email: null }, changed: ['email'] });

  // The cleared e-mail no longer finds the member, and another member may take it.
  expect(ok(await s.request(MemberDocument, { email: 'gone@example.com' }, shop.serverKey)).member).toBeNull();
  await createMember(s, shop.serverKey, { email: 'gone@example.com' });

  // The e-mail cleared again records nothing more, the phone cleared a change of its own; a new member's clear is a no-op.
  ok(await s.request(UpsertMemberDocument, { input: { externalId, clear: ['EMAIL', 'NAME', 'PHONE'] } }, shop.serverKey));
  expect(ok(await s.request(MemberDocument, { id: member.id }, shop.serverKey)).member).toMatchObject({ email: null, phone: null, name: null });
  expect((await changesOf(member.id)).map((c) => [c.old_phone, c.new_phone])).toEqual([[null, null], ['+79120000105', null]]);
  const fresh = ok(await s.request(UpsertMemberDocument, { input: { externalId: uniqueKey('customer'), clear: ['EMAIL'] } }, shop.serverKey));
  expect(fresh.upsertMember).toMatchObject({ created: true, member: { email: null } });
});

test('a field given a value and cleared at once is refused, and nothing changes', async () => {
  const externalId = uniqueKey('customer');
  const member = await createMember(s, shop.serverKey, { externalId, email: 'kept@example.com', name: 'Kept' });
  const res = await s.request(UpsertMemberDocument, { input: { externalId, name: 'New name', email: 'other@example.com', clear: ['EMAIL'] } }, shop.serverKey);
  expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
  expect(res.errors![0].extensions).toMatchObject({ field: 'clear' });
  expect(res.errors![0].message).toBe('clear names email, which the input also gives a value: give it, or clear it');
  expect(ok(await s.request(MemberDocument, { id: member.id }, shop.serverKey)).member).toMatchObject({ email: 'kept@example.com', name: 'Kept' });
  expect(await changesOf(member.id)).toEqual([]);
});
