import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import type { PubSub } from 'type-graphql';
import { ArgumentValidationError, buildSchema } from 'type-graphql';
import { getMetadataStorage, validate, validateSync, type ValidatorOptions } from 'class-validator';
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
  rememberValidationMetadata();
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

const VALIDATION: ValidatorOptions = { skipMissingProperties: true, forbidUnknownValues: false };

/**
 * class-validator over input objects, imported once (type-graphql's default path requires it
 * anew for every validated argument); failures surface as type-graphql's ArgumentValidationError.
 * While no constraint is asynchronous (none of ours is), validateSync gives the same answer
 * without a promise per object and property.
 */
async function validateArguments(value: unknown): Promise<void> {
  const objects = (Array.isArray(value) ? value : [value]).filter((v): v is object => v !== null && typeof v === 'object');
  if (objects.length === 0) return;
  const errors = anyAsyncConstraint()
    ? (await Promise.all(objects.map((o) => validate(o, VALIDATION)))).flat()
    : objects.flatMap((o) => validateSync(o, VALIDATION));
  if (errors.length > 0) throw new ArgumentValidationError(errors);
}

/** Whether a custom constraint is declared async (`@ValidatorConstraint({ async: true })`): remembered until one is added. */
let asyncConstraint: boolean | undefined;
function anyAsyncConstraint(): boolean {
  if (asyncConstraint === undefined) {
    const constraints = (getMetadataStorage() as unknown as { constraintMetadatas: Map<unknown, Array<{ async: boolean }>> }).constraintMetadatas;
    asyncConstraint = [...constraints.values()].some((list) => list.some((c) => c.async));
  }
  return asyncConstraint;
}

type MetadataStorage = ReturnType<typeof getMetadataStorage>;
let metadataRemembered = false;

/**
 * class-validator looks a class's validation metadata up anew for every object it validates, by
 * testing every decorated class of the program with instanceof, then groups it by property: most
 * of what validating an argument costs (measured: 3.8 µs of a MemberRefInput's 5). Decorators
 * run as modules load, so both are remembered per class, for the validator's usual options (no
 * groups, no schema), and forgotten whenever metadata is added.
 */
function rememberValidationMetadata(): void {
  if (metadataRemembered) return;
  metadataRemembered = true;
  const storage = getMetadataStorage();
  const lookUp = storage.getTargetValidationMetadatas.bind(storage);
  const group = storage.groupByPropertyName.bind(storage);
  const addValidation = storage.addValidationMetadata.bind(storage);
  const addConstraint = storage.addConstraintMetadata.bind(storage);
  let byClass = new Map<string, Map<Function, ReturnType<MetadataStorage['getTargetValidationMetadatas']>>>();
  let grouped = new WeakMap<object, ReturnType<MetadataStorage['groupByPropertyName']>>();
  const forget = () => {
    asyncConstraint = undefined;
    byClass = new Map();
    grouped = new WeakMap();
  };
  storage.addValidationMetadata = (metadata) => {
    forget();
    addValidation(metadata);
  };
  storage.addConstraintMetadata = (metadata) => {
    forget();
    addConstraint(metadata);
  };
  storage.getTargetValidationMetadatas = (target, schema, always, strictGroups, groups) => {
    if (schema || groups?.length) return lookUp(target, schema, always, strictGroups, groups);
    const options = `${always}:${strictGroups}`;
    let known = byClass.get(options);
    if (!known) byClass.set(options, (known = new Map()));
    let metadata = known.get(target);
    if (!metadata) known.set(target, (metadata = lookUp(target, schema, always, strictGroups, groups)));
    return metadata;
  };
  storage.groupByPropertyName = (metadata) => {
    let byProperty = grouped.get(metadata);
    if (!byProperty) grouped.set(metadata, (byProperty = group(metadata)));
    return byProperty;
  };
}

/** The SDL committed as schema.graphql: sorted, so it changes only when the API does. */
export function printSdl(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}
