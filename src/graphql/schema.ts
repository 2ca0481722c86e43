import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import type { PubSub } from 'type-graphql';
import { buildSchema } from 'type-graphql';
import { LedgerResolver, AccountResolver } from '../resolvers/ledger-resolver';
import { MemberResolver } from '../resolvers/member-resolver';
import { ProgramResolver } from '../resolvers/program-resolver';
import { SubscriptionResolver } from '../resolvers/subscription-resolver';
import { authChecker } from './auth';

/** Every resolver class of the API, in one place. */
export const resolvers = [
  ProgramResolver,
  MemberResolver,
  LedgerResolver,
  AccountResolver,
  SubscriptionResolver,
] as const;

export async function createSchema(pubSub: PubSub): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: resolvers as unknown as [Function, ...Function[]],
    authChecker,
    authMode: 'error',
    pubSub,
    validate: { forbidUnknownValues: false },
  });
}

/** The SDL committed as schema.graphql: sorted, so it changes only when the API does. */
export function printSdl(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}
