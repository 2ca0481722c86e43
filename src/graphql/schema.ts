import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import type { PubSub } from 'type-graphql';
import { ArgumentValidationError, buildSchema } from 'type-graphql';
import { validate } from 'class-validator';
import { EventResolver } from '../resolvers/event-resolver';
import { LedgerResolver, AccountResolver, LedgerEntryIdResolver } from '../resolvers/ledger-resolver';
import { OperationsResolver } from '../resolvers/operations-resolver';
import { MemberResolver } from '../resolvers/member-resolver';
import { OrderResolver } from '../resolvers/order-resolver';
import { ProgramResolver } from '../resolvers/program-resolver';
import { MemberReferralResolver, ReferralResolver } from '../resolvers/referral-resolver';
import { LedgerEntryRuleResolver, RuleResolver } from '../resolvers/rule-resolver';
import { BalanceChangeResolver, SubscriptionResolver } from '../resolvers/subscription-resolver';
import { MemberTierResolver, TierResolver } from '../resolvers/tier-resolver';
import { authChecker } from './auth';
import { applyInputPolicy } from './input-policy';

/** Every resolver class of the API, in one place. */
export const resolvers = [
  ProgramResolver,
  MemberResolver,
  LedgerResolver,
  AccountResolver,
  LedgerEntryIdResolver,
  SubscriptionResolver,
  BalanceChangeResolver,
  OrderResolver,
  RuleResolver,
  LedgerEntryRuleResolver,
  EventResolver,
  OperationsResolver,
  TierResolver,
  MemberTierResolver,
  ReferralResolver,
  MemberReferralResolver,
] as const;

export async function createSchema(pubSub: PubSub): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: resolvers as unknown as [Function, ...Function[]],
    authChecker,
    authMode: 'error',
    pubSub,
    validateFn: validateArguments,
  });
  // Every argument passes one text and depth policy before resolvers (and authorization) see it.
  return applyInputPolicy(schema);
}

/**
 * class-validator over input objects, imported once (type-graphql's default path requires it
 * anew for every validated argument); failures surface as type-graphql's ArgumentValidationError.
 */
async function validateArguments(value: unknown): Promise<void> {
  const objects = (Array.isArray(value) ? value : [value]).filter((v): v is object => v !== null && typeof v === 'object');
  const errors = (await Promise.all(objects.map((o) => validate(o, { skipMissingProperties: true, forbidUnknownValues: false })))).flat();
  if (errors.length > 0) throw new ArgumentValidationError(errors);
}

/** The SDL committed as schema.graphql: sorted, so it changes only when the API does. */
export function printSdl(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}
