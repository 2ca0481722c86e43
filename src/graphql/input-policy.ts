import {
  defaultFieldResolver, getNullableType, isEnumType, isObjectType, isScalarType,
  type GraphQLArgument, type GraphQLFieldResolver, type GraphQLSchema,
} from 'graphql';
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
 * The error is BAD_USER_INPUT with the path in the message and in `extensions.field`, named as
 * every other BAD_USER_INPUT names it: within the operation's `input` (`lines[2].sku`), else
 * from the argument (`externalId`). Everything else is stored as sent.
 */
export const MAX_DEPTH = 32;
export const MAX_VALUES = 10_000;

/** NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const PLAIN_KEY = /^[A-Za-z_$][\w$]*$/;

/**
 * The same test as {@link UNSTORABLE}, done natively (about twice as fast on short text):
 * `isWellFormed` (ES2024, Node 20) is false exactly for text with an unpaired surrogate.
 */
const storable = (text: string): boolean => (text as WellFormed).isWellFormed() && !text.includes('\u0000');
type WellFormed = string & { isWellFormed(): boolean };

/**
 * The policy runs on every argument of every request, and nearly all of them pass. So the
 * check is made twice over: {@link passes} walks without building a path (no string per value);
 * only when it finds a problem does {@link walk}, which keeps the path, walk again to name it.
 * Both visit the values in the same order with the same budget, so they agree on the first
 * problem. Measured with bench/input-policy-micro.ts.
 */
export function checkArguments(args: Record<string, unknown>): void {
  const budget = { values: 0 };
  const names = Object.keys(args);
  for (const name of names) if (!passes(args[name], 1, budget)) refuseFirstProblem(args, names);
}

function refuseFirstProblem(args: Record<string, unknown>, names: string[]): never {
  const budget = { values: 0 };
  for (const name of names) walk(args[name], name, 1, budget);
  // Not reached: walk refuses whatever passes refused.
  throw refuse(names[0] ?? 'arguments', 'cannot be stored');
}

function passes(value: unknown, depth: number, budget: { values: number }): boolean {
  if (++budget.values > MAX_VALUES) return false;
  if (typeof value === 'string') return storable(value);
  if (value === null || typeof value !== 'object' || value instanceof Date) return true;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!passes(value[i], depth + 1, budget)) return false;
    return true;
  }
  for (const key of Object.keys(value)) {
    if (!storable(key)) return false;
    const item = (value as Record<string, unknown>)[key];
    if (key === 'idempotencyKey' && typeof item === 'string' && item.trim() === '') return false;
    if (!passes(item, depth + 1, budget)) return false;
  }
  return true;
}

/** {@link passes} with the argument path, to name what it refused: throws at the first problem. */
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

function refuse(path: string, problem: string) {
  const field = path.startsWith('input.') ? path.slice('input.'.length) : path;
  return badInput(`${field}: ${problem}`, { field });
}

/**
 * Applies the policy to every field that takes arguments (resolve, and subscribe for
 * subscriptions). Fields without arguments pay nothing, nor do fields whose arguments are all
 * single numbers, booleans or enum values (`tierHistory(first: 20)` on every member of a
 * list): such a value has no text and no depth for the policy to refuse.
 */
export function applyInputPolicy(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.args.every(isPlainValue)) continue;
      field.resolve = guarded(field.resolve ?? defaultFieldResolver);
      if (field.subscribe) field.subscribe = guarded(field.subscribe);
    }
  }
  return schema;
}

/** An argument that is one Int, Float, Boolean or enum value (not a list, not text, not JSON). */
function isPlainValue(arg: GraphQLArgument): boolean {
  const type = getNullableType(arg.type);
  return isEnumType(type) || (isScalarType(type) && PLAIN_SCALARS.has(type.name));
}
/** Built-in scalars (their names cannot be taken by others) that are one number or boolean. */
const PLAIN_SCALARS = new Set(['Int', 'Float', 'Boolean']);

function guarded<S, C>(resolve: GraphQLFieldResolver<S, C>): GraphQLFieldResolver<S, C> {
  return (source, args, context, info) => {
    checkArguments(args);
    return resolve(source, args, context, info);
  };
}
