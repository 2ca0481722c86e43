import type { ApolloClient } from '@apollo/client';
import WebSocket from 'ws';
import { createPatronApolloClient } from '../../client/apollo';
import { CabinetDocument, MyBalanceChangesDocument, MyBalanceDocument, RedeemPointsDocument, SignInMemberDocument } from '../../client/index';
import { createPatronUrqlClient } from '../../client/urql';
import { OPERATOR_KEY, startTestServer, type TestServer } from '../support/server';
import { accrue, createMember, createProgram, ok, uniqueKey, waitFor, type ProgramFixture } from './helpers';

/**
 * The GraphQL clients shops already use, with their defaults, against the real server:
 * Apollo Client 4 (POST, InMemoryCache, graphql-ws link) and urql (GET queries).
 */
let s: TestServer;
let p: ProgramFixture;
beforeAll(async () => {
  s = await startTestServer();
  p = await createProgram(s);
});
afterAll(() => s.close());

async function customer(points: number) {
  const member = await createMember(s, p.serverKey);
  await accrue(s, p.serverKey, member.id, points);
  const { issueCustomerToken } = ok(await s.request(SignInMemberDocument, { member: { id: member.id } }, p.serverKey));
  return { member, token: issueCustomerToken.token };
}

/** A fetch that records the method of every request it sends. */
function recordingFetch(methods: string[]): typeof fetch {
  return (input, init) => {
    methods.push(init?.method ?? 'GET');
    return fetch(input, init);
  };
}

describe('CSRF prevention lets requests with credentials in headers through', () => {
  const get = (headers: Record<string, string>) => fetch(`${s.url}?query=${encodeURIComponent('{ program { name } }')}`, { headers });

  test('a GET query with Authorization and no content type is answered', async () => {
    const res = await get({ authorization: `Bearer ${OPERATOR_KEY}` });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { program: { name: string } } }).data.program.name).toBeTruthy();
  });

  test('a GET query with no credential header, as a cross-site <img> or form would send, is still refused', async () => {
    const res = await get({});
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/CSRF/i);
  });

  test('a simple POST (text/plain, no credential header) is still refused', async () => {
    const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(res.status).toBe(400);
  });
});

test('urql with its defaults: queries go as GET and are answered', async () => {
  const { member, token } = await customer(120);
  const methods: string[] = [];
  const urql = createPatronUrqlClient({ httpUrl: s.url, wsUrl: s.wsUrl, credential: token, webSocketImpl: WebSocket, fetch: recordingFetch(methods) });
  // urql sends a query as GET while its URL stays under 2 048 characters (then POST).
  const result = await urql.query(MyBalanceDocument, {}).toPromise();
  expect(result.error).toBeUndefined();
  expect(methods).toEqual(['GET']);
  expect(result.data?.me.account).toMatchObject({ id: member.id, available: 120 });
  // A document too long for a URL still works: urql posts it, and the CSRF policy lets it through.
  const cabinet = await urql.query(CabinetDocument, { historyFirst: 5 }).toPromise();
  expect(cabinet.error).toBeUndefined();
  expect(methods).toEqual(['GET', 'POST']);
  expect(cabinet.data?.me.id).toBe(member.id);
});

test('urql subscriptions over graphql-ws receive myBalance events', async () => {
  const { member, token } = await customer(50);
  const urql = createPatronUrqlClient({ httpUrl: s.url, wsUrl: s.wsUrl, credential: token, webSocketImpl: WebSocket });
  const seen: number[] = [];
  const subscription = urql.subscription(MyBalanceChangesDocument, {}).subscribe((r) => {
    if (r.data) seen.push(r.data.myBalance.account.available);
  });
  try {
    // No acknowledgement when a subscription is registered: accrue until an event arrives.
    let points = 50;
    for (let i = 0; i < 10 && seen.length === 0; i++) {
      await accrue(s, p.serverKey, member.id, 1);
      points += 1;
      await waitFor(() => seen.length > 0, 1000);
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(await waitFor(() => seen.at(-1) === points)).toBe(true);
  } finally {
    subscription.unsubscribe();
  }
});

describe('Apollo Client 4 with InMemoryCache and a graphql-ws link', () => {
  let apollo: ApolloClient;
  afterEach(() => apollo?.stop());

  test('defaults work: queries go as POST', async () => {
    const { member, token } = await customer(70);
    const methods: string[] = [];
    apollo = createPatronApolloClient({ httpUrl: s.url, wsUrl: s.wsUrl, credential: token, webSocketImpl: WebSocket, fetch: recordingFetch(methods) });
    const { data } = await apollo.query({ query: CabinetDocument, variables: { historyFirst: 5 } });
    expect(methods).toEqual(['POST']);
    expect(data?.me.account).toMatchObject({ id: member.id, available: 70 });
    expect(data?.ledgerEntries.edges).toHaveLength(1);
  });

  test('a watched `me { account { available } }` updates from a myBalance event alone: no refetch, no cache code', async () => {
    const { member, token } = await customer(300);
    const methods: string[] = [];
    apollo = createPatronApolloClient({ httpUrl: s.url, wsUrl: s.wsUrl, credential: token, webSocketImpl: WebSocket, fetch: recordingFetch(methods) });

    const watched: number[] = [];
    const watch = apollo.watchQuery({ query: MyBalanceDocument }).subscribe((result) => {
      if (result.dataState === 'complete') watched.push(result.data.me.account.available);
    });
    expect(await waitFor(() => watched.length > 0)).toBe(true);
    expect(watched[0]).toBe(300);

    // The app only subscribes; it never touches the cache.
    let events = 0;
    const live = apollo.subscribe({ query: MyBalanceChangesDocument }).subscribe(() => (events += 1));
    try {
      let expected = 300;
      for (let i = 0; i < 10 && events === 0; i++) {
        await accrue(s, p.serverKey, member.id, 1);
        expected += 1;
        await waitFor(() => events > 0, 1000);
      }
      expect(events).toBeGreaterThan(0);

      // A redemption made elsewhere (the shop's backend, not this client).
      const redeemed = ok(await s.request(RedeemPointsDocument, { input: { member: { id: member.id }, points: 100, idempotencyKey: uniqueKey('redeem') } }, p.serverKey));
      expected -= 100;
      expect(redeemed.redeem.account.available).toBe(expected);
      expect(await waitFor(() => watched.at(-1) === expected)).toBe(true);
      // The watched query was fetched over HTTP once; every later value came over the socket.
      expect(methods).toEqual(['POST']);
      expect((apollo.cache.extract() as Record<string, unknown>)[`Account:${member.id}`]).toMatchObject({ available: expected });
    } finally {
      live.unsubscribe();
      watch.unsubscribe();
    }
  });
});
