import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { GraphQLArmorConfig } from '@escape.tech/graphql-armor-types';
import { NoSchemaIntrospectionCustomRule, type ValidationRule } from 'graphql';

/** Largest HTTP body and WebSocket message (256 KiB). */
export const MAX_REQUEST_BYTES = 256 * 1024;

/** Tokens per document: enforced by graphql-js's parser itself, on both transports. */
export const MAX_TOKENS = 2000;

/** The same limits guard HTTP and WebSocket operations. */
export const LIMITS: GraphQLArmorConfig = {
  maxDepth: { n: 10 },
  // The largest page (200 entries with every field) must fit.
  costLimit: { maxCost: 15000 },
  maxAliases: { n: 15 },
  maxDirectives: { n: 20 },
  // Armor's token plugin re-parses inside Apollo and turns syntax errors into 500s; the parser's
  // own maxTokens (parseOptions) gives the proper GRAPHQL_PARSE_FAILED instead.
  maxTokens: { enabled: false },
  // "Did you mean …?" helps whoever writes a query; production drops it from every message (the
  // error formatter), where armor's plugin would leave "[Suggestion hidden]?" in the sentence.
  blockFieldSuggestion: { enabled: false },
};

/**
 * In production the limits' messages name no figures ("Query depth limit of 10 exceeded, found
 * 12" tells a prober exactly how far to go); elsewhere they help whoever writes the query.
 */
function withoutFigures(limits: GraphQLArmorConfig): GraphQLArmorConfig {
  const hidden = (what: string) => ({ exposeLimits: false, errorMessage: `Query ${what} limit exceeded.` });
  return {
    ...limits,
    maxDepth: { ...limits.maxDepth, ...hidden('depth') },
    costLimit: { ...limits.costLimit, ...hidden('cost') },
    maxAliases: { ...limits.maxAliases, ...hidden('aliases') },
    maxDirectives: { ...limits.maxDirectives, ...hidden('directives') },
  };
}

export function armor(introspection: boolean, exposeLimits = true) {
  const protection = new ApolloArmor(exposeLimits ? LIMITS : withoutFigures(LIMITS)).protect();
  const validationRules: ValidationRule[] = [...protection.validationRules];
  return {
    plugins: protection.plugins,
    validationRules,
    /** Apollo refuses introspection itself over HTTP; WebSocket operations need the rule. */
    webSocketRules: introspection ? validationRules : [...validationRules, NoSchemaIntrospectionCustomRule],
  };
}
