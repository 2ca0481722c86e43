import { defaultFieldResolver, isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { badInput } from '../errors';

/**
 * One input policy for every argument of every operation, on both transports, before any
 * resolver (or authorization) runs. It walks the coerced argument values — literals and
 * variables alike, through input objects, lists and JSON scalars — and refuses:
 *
 * - text PostgreSQL cannot store faithfully: NUL (text and jsonb refuse it) and unpaired
 *   UTF-16 surrogates (they reach the database as U+FFFD, so two different idempotency keys
 *   would become one);
 * - a whitespace-only `idempotencyKey`, whatever the input type;
 * - arguments nested deeper than {@link MAX_DEPTH} levels or carrying more than
 *   {@link MAX_VALUES} values: deep JSON would overflow the stack of what walks it later.
 *
 * The error is BAD_USER_INPUT with the argument path (`input.lines[2].sku`) in the message and
 * in `extensions.field`. Everything else is stored as sent.
 */
export const MAX_DEPTH = 32;
export const MAX_VALUES = 10_000;

/** NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const PLAIN_KEY = /^[A-Za-z_$][\w$]*$/;

export function checkArguments(args: Record<string, unknown>): void {
  const budget = { values: 0 };
  for (const name of Object.keys(args)) walk(args[name], name, 1, budget);
}

function walk(value: unknown, path: string, depth: number, budget: { values: number }): void {
  if (++budget.values > MAX_VALUES) throw refuse(path, `carries more than ${MAX_VALUES} values`);
  if (typeof value === 'string') return checkText(value, path);
  if (value === null || typeof value !== 'object' || value instanceof Date) return;
  if (depth >= MAX_DEPTH) throw refuse(path, `nests deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) walk(value[i], `${path}[${i}]`, depth + 1, budget);
    return;
  }
  for (const key of Object.keys(value)) {
    if (UNSTORABLE.test(key)) throw refuse(path, `has a key ${describe(key)}`);
    const item = (value as Record<string, unknown>)[key];
    const at = PLAIN_KEY.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
    if (key === 'idempotencyKey' && typeof item === 'string' && item.trim() === '') throw refuse(at, 'must not be blank');
    walk(item, at, depth + 1, budget);
  }
}

function checkText(value: string, path: string): void {
  if (UNSTORABLE.test(value)) throw refuse(path, describe(value));
}

function describe(text: string): string {
  return text.includes('\u0000')
    ? 'contains a NUL character (U+0000), which cannot be stored'
    : 'contains an unpaired UTF-16 surrogate (not valid Unicode), which cannot be stored exactly';
}

const refuse = (field: string, problem: string) => badInput(`${field}: ${problem}`, { field });

/**
 * Applies the policy to every field that takes arguments (resolve, and subscribe for
 * subscriptions): fields without arguments pay nothing.
 */
export function applyInputPolicy(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.args.length === 0) continue;
      field.resolve = guarded(field.resolve ?? defaultFieldResolver);
      if (field.subscribe) field.subscribe = guarded(field.subscribe);
    }
  }
  return schema;
}

function guarded<S, C>(resolve: GraphQLFieldResolver<S, C>): GraphQLFieldResolver<S, C> {
  return (source, args, context, info) => {
    checkArguments(args);
    return resolve(source, args, context, info);
  };
}
