import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { GraphQLArmorConfig } from '@escape.tech/graphql-armor-types';
import { NoSchemaIntrospectionCustomRule, type ValidationRule } from 'graphql';

/** The same limits guard HTTP and WebSocket operations. */
export const LIMITS: GraphQLArmorConfig = {
  maxDepth: { n: 10 },
  costLimit: { maxCost: 5000 },
  maxAliases: { n: 15 },
  maxDirectives: { n: 20 },
  maxTokens: { n: 2000 },
  blockFieldSuggestion: { enabled: true },
};

export const MAX_TOKENS = 2000;

export function armor(introspection: boolean) {
  const protection = new ApolloArmor(LIMITS).protect();
  const validationRules: ValidationRule[] = [...protection.validationRules];
  if (!introspection) validationRules.push(NoSchemaIntrospectionCustomRule);
  return { plugins: protection.plugins, validationRules };
}
