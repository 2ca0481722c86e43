/**
 * Typed comparison of a field read from the event payload or member attributes against a rule
 * operand. Numbers are compared as numbers, never as text: an operand 100 matches a field 100 or
 * the numeric string '100', and `gt` never orders '9' after '10'. A string operand matches only a
 * string field; a missing field fails every operator (wrap the condition in `not` to match absence).
 */
import type { ArgIssue, JsonOperand, JsonScalar } from './args';

export const OPERATORS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'notIn', 'contains'] as const;
export type Operator = (typeof OPERATORS)[number];

const ORDERING: Record<string, (a: number, b: number) => boolean> = {
  gt: (a, b) => a > b,
  gte: (a, b) => a >= b,
  lt: (a, b) => a < b,
  lte: (a, b) => a <= b,
};
const SYMBOL: Record<Operator, string> = {
  eq: '=',
  ne: '≠',
  gt: '>',
  gte: '≥',
  lt: '<',
  lte: '≤',
  in: 'in',
  notIn: 'not in',
  contains: 'contains',
};

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

/** Issues with a dotted path such as `utm.source` or `answers.0.score`. */
export function pathIssues(path: string): ArgIssue[] {
  const segments = path.split('.');
  if (segments.some((segment) => segment === '')) return [{ arg: 'path', message: 'must be dot-separated names' }];
  if (segments.some((segment) => FORBIDDEN_SEGMENTS.has(segment))) {
    return [{ arg: 'path', message: 'names a reserved property' }];
  }
  return [];
}

/** Issues with an operator / operand pair, found when the rule is saved. */
export function operandIssues(operator: Operator, value: JsonOperand): ArgIssue[] {
  const isList = Array.isArray(value);
  if (operator === 'in' || operator === 'notIn') {
    return isList && value.length > 0 ? [] : [{ arg: 'value', message: `${operator} needs a non-empty list` }];
  }
  if (isList) return [{ arg: 'value', message: `${operator} needs a single value, not a list` }];
  if (operator in ORDERING && typeof value !== 'number') {
    return [{ arg: 'value', message: `${operator} needs a number` }];
  }
  return [];
}

/** Reads own properties only, so a path can never reach the prototype chain. */
export function readPath(source: unknown, path: string): unknown {
  let current: unknown = source;
  for (const segment of path.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/** `true` when `actual operator value` holds, otherwise the reason, e.g. `amount: 90 is not > 100`. */
export function compare(label: string, actual: unknown, operator: Operator, value: JsonOperand): true | string {
  if (actual === undefined || actual === null) return `${label} is missing`;
  const failure = `${label}: ${show(actual)} is not ${SYMBOL[operator]} ${show(value)}`;
  const ordering = ORDERING[operator];
  if (ordering) {
    const number = asNumber(actual);
    if (number === undefined) return `${label}: ${show(actual)} is not a number`;
    return ordering(number, value as number) || failure;
  }
  const list = Array.isArray(value) ? value : [value];
  switch (operator) {
    case 'eq':
    case 'in':
      return list.some((item) => sameValue(actual, item)) || failure;
    case 'ne':
    case 'notIn':
      return !list.some((item) => sameValue(actual, item)) || failure;
    case 'contains':
      if (typeof actual === 'string') return (typeof value === 'string' && actual.includes(value)) || failure;
      if (Array.isArray(actual)) return actual.some((item) => sameValue(item, value as JsonScalar)) || failure;
      return `${label}: ${show(actual)} is neither text nor a list`;
    default:
      return failure;
  }
}

function sameValue(actual: unknown, expected: JsonScalar): boolean {
  if (typeof expected === 'number') return asNumber(actual) === expected;
  return actual === expected;
}

const NUMERIC_TEXT = /^-?\d+(\.\d+)?$/;

/** A JSON payload may carry numbers as text ('1500'); those count as numbers, nothing else does. */
function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && NUMERIC_TEXT.test(value.trim())) return Number(value);
  return undefined;
}

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value));
}
