import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type ExecutionArgs, type ExecutionResult } from 'graphql';
import pino from 'pino';
import { LocalPubSub } from '../../src/graphql/pubsub';
import { createSharedSubscribe, groupKeyOf } from '../../src/graphql/shared-subscriptions';
import type { Context, Identity } from '../../src/graphql/context';
import { ApiKeyRole } from '../../src/entities/api-key';

/** The shared subscribe against graphql-js directly: the field resolver itself counts its runs. */
const pubsub = new LocalPubSub({ logger: pino({ level: 'silent' }) });
let resolverRuns = 0;
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString } } }),
  subscription: new GraphQLObjectType({
    name: 'Subscription',
    fields: {
      changed: {
        type: new GraphQLObjectType({ name: 'Changed', fields: { n: { type: GraphQLInt }, label: { type: GraphQLString } } }),
        args: { key: { type: GraphQLString } },
        subscribe: (_root, args: { key: string }) => pubsub.subscribe('CHANGED', args.key),
        resolve: (event: { n: number }, args: { key: string }) => {
          resolverRuns++;
          return { n: event.n, label: args.key };
        },
      },
    },
  }),
});
const query = 'subscription Watch($key: String) { changed(key: $key) { n label } }';
type KeyIdentity = Extract<Identity, { kind: 'key' }>;
const key: KeyIdentity = { kind: 'key', programId: 'p1', keyId: 'k1', role: ApiKeyRole.SERVER, operator: false };
const argsFor = (identity: Identity, variables: Record<string, unknown>): ExecutionArgs => ({
  schema,
  document: parse(query),
  operationName: 'Watch',
  variableValues: variables,
  contextValue: { identity } as Context,
});

async function open(subscribe: ReturnType<typeof createSharedSubscribe>, args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult>> {
  const result = await subscribe(args);
  if (!(Symbol.asyncIterator in result)) throw new Error(JSON.stringify(result));
  return result;
}

afterAll(() => pubsub.close());

test('one resolver run per event for a group; each subscriber gets the result; return() unsubscribes', async () => {
  const subscribe = createSharedSubscribe();
  const iterators = await Promise.all(Array.from({ length: 5 }, () => open(subscribe, argsFor(key, { key: 'a' }))));
  expect(pubsub.subscriberCount).toBe(5);
  resolverRuns = 0;
  pubsub.publish('CHANGED', 'a', { n: 1 });
  pubsub.publish('CHANGED', 'a', { n: 2 });
  for (const iterator of iterators) {
    expect((await iterator.next()).value).toEqual({ data: { changed: { n: 1, label: 'a' } } });
    expect((await iterator.next()).value).toEqual({ data: { changed: { n: 2, label: 'a' } } });
  }
  expect(resolverRuns).toBe(2);
  await Promise.all(iterators.map((iterator) => iterator.return!()));
  expect(pubsub.subscriberCount).toBe(0);
});

test('subscribers of other audiences run their own execution; a refused subscribe returns its errors', async () => {
  const subscribe = createSharedSubscribe();
  const admin: Identity = { ...key, role: ApiKeyRole.ADMIN };
  const otherKeySameRole: Identity = { ...key, keyId: 'k2' };
  const customer: Identity = { kind: 'customer', programId: 'p1', memberId: 'm1', expiresAt: new Date() };
  const otherProgram: Identity = { ...key, programId: 'p2' };
  const all = await Promise.all([key, otherKeySameRole, admin, customer, otherProgram].map((identity) => open(subscribe, argsFor(identity, { key: 'b' }))));
  resolverRuns = 0;
  pubsub.publish('CHANGED', 'b', { n: 3 });
  for (const iterator of all) expect((await iterator.next()).value).toEqual({ data: { changed: { n: 3, label: 'b' } } });
  // The two server keys of one program share; admin, customer and the other program do not.
  expect(resolverRuns).toBe(4);
  await Promise.all(all.map((iterator) => iterator.return!()));

  const refused = await subscribe({ ...argsFor(key, {}), document: parse('subscription { changed(key: 1.5) { n } }'), operationName: undefined });
  expect('errors' in refused && refused.errors?.length).toBeTruthy();
});

test('the group key names document text, operation, variables and audience', () => {
  const base = groupKeyOf(argsFor(key, { key: 'a' }));
  expect(groupKeyOf(argsFor({ ...key, keyId: 'another' }, { key: 'a' }))).toBe(base);
  expect(groupKeyOf(argsFor(key, { key: 'b' }))).not.toBe(base);
  expect(groupKeyOf(argsFor({ ...key, operator: true, role: ApiKeyRole.ADMIN }, { key: 'a' }))).not.toBe(groupKeyOf(argsFor({ ...key, role: ApiKeyRole.ADMIN }, { key: 'a' })));
  const customerOf = (memberId: string): Identity => ({ kind: 'customer', programId: 'p1', memberId, expiresAt: new Date() });
  expect(groupKeyOf(argsFor(customerOf('m1'), {}))).not.toBe(groupKeyOf(argsFor(customerOf('m2'), {})));
  expect(groupKeyOf(argsFor({ kind: 'anonymous' }, {}))).toBeNull();
});
