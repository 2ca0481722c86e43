/**
 * Typed arguments of conditions and actions: their definitions, how raw (JSON) values are
 * checked and parsed into typed values, and how they are described to admin tools.
 */
import { Decimal, decimalToNumber, formatDecimal, parseDecimal } from './decimal';
import type { ValidationError } from './types';

/**
 * - `int`: a JSON integer; `decimal`: a number or decimal string, parsed to an exact {@link Decimal};
 * - `string[]`: `options`, when given, restrict each item;
 * - `datetime`: a Date or an ISO-8601 string with an explicit offset (`Z` or `+03:00`);
 * - `enum`: one of `options`;
 * - `json`: a string, number or boolean, or a flat list of them (a comparison operand);
 * - `table`: a list of rows whose fields are described by `columns`.
 */
export type ArgType = 'int' | 'decimal' | 'string' | 'string[]' | 'boolean' | 'datetime' | 'enum' | 'json' | 'table';

export interface ArgDef {
  type: ArgType;
  description: string;
  /** A required list must not be empty. */
  required?: boolean;
  options?: readonly string[];
  /** Bounds for `int` and `decimal`, inclusive. */
  min?: number;
  max?: number;
  /** Used when the argument is absent; makes it always present in the parsed values. */
  default?: unknown;
  columns?: Readonly<Record<string, ArgDef>>;
}
export type ArgDefs = Readonly<Record<string, ArgDef>>;

export type JsonScalar = string | number | boolean;
export type JsonOperand = JsonScalar | JsonScalar[];

type Option<D extends ArgDef> = D['options'] extends readonly (infer O extends string)[] ? O : string;
type ArgValue<D extends ArgDef> = D['type'] extends 'int'
  ? number
  : D['type'] extends 'decimal'
    ? Decimal
    : D['type'] extends 'string'
      ? string
      : D['type'] extends 'string[]'
        ? Option<D>[]
        : D['type'] extends 'boolean'
          ? boolean
          : D['type'] extends 'datetime'
            ? Date
            : D['type'] extends 'enum'
              ? Option<D>
              : D['type'] extends 'json'
                ? JsonOperand
                : D['type'] extends 'table'
                  ? D['columns'] extends ArgDefs
                    ? ArgValues<D['columns']>[]
                    : never
                  : never;

/** The parsed values a `check` / `execute` receives: required or defaulted args are always set. */
export type ArgValues<A extends ArgDefs> = {
  [K in keyof A]: A[K] extends { required: true } | { default: unknown } ? ArgValue<A[K]> : ArgValue<A[K]> | undefined;
};

/** An issue found by a cross-argument check; `arg` names the argument, if one is to blame. */
export interface ArgIssue {
  arg?: string;
  message: string;
}

/** How an argument is listed to admin tools. */
export interface ArgDescription {
  name: string;
  type: ArgType;
  required: boolean;
  description: string;
  options?: string[];
  min?: number;
  max?: number;
  default?: unknown;
  columns?: ArgDescription[];
}

export function describeArgs(defs: ArgDefs): ArgDescription[] {
  return Object.entries(defs).map(([name, def]) => ({
    name,
    type: def.type,
    required: def.required === true,
    description: def.description,
    ...(def.options && { options: [...def.options] }),
    ...(def.min !== undefined && { min: def.min }),
    ...(def.max !== undefined && { max: def.max }),
    ...(def.default !== undefined && { default: def.default }),
    ...(def.columns && { columns: describeArgs(def.columns) }),
  }));
}

export type ParsedArgs<A extends ArgDefs> =
  { values: ArgValues<A>; errors: [] } | { values?: undefined; errors: ValidationError[] };

/**
 * Checks raw args against their definitions, then runs `validate` (cross-argument checks) on the
 * parsed values; `path` prefixes error paths (e.g. `actions[0].args`).
 */
export function parseArgs<A extends ArgDefs>(
  defs: A,
  raw: unknown,
  path: string,
  validate?: (values: ArgValues<A>) => ArgIssue[],
): ParsedArgs<A> {
  const errors: ValidationError[] = [];
  const values = parseRecord(defs, raw ?? {}, path, errors) as ArgValues<A>;
  if (errors.length > 0) return { errors };
  for (const issue of validate?.(values) ?? []) {
    errors.push({ path: issue.arg ? `${path}.${issue.arg}` : path, message: issue.message });
  }
  return errors.length === 0 ? { values, errors: [] } : { errors };
}

function parseRecord(defs: ArgDefs, raw: unknown, path: string, errors: ValidationError[]): Record<string, unknown> {
  if (!isPlainObject(raw)) {
    errors.push({ path, message: 'must be an object' });
    return {};
  }
  for (const name of Object.keys(raw)) {
    if (!Object.hasOwn(defs, name)) errors.push({ path: `${path}.${name}`, message: 'unknown argument' });
  }
  const values: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(defs)) {
    const argPath = `${path}.${name}`;
    const given = Object.hasOwn(raw, name) ? raw[name] : undefined;
    if (given === undefined || given === null) {
      if (def.required) errors.push({ path: argPath, message: 'is required' });
      // Defaults go through the same parsing, so a `decimal` default also arrives as a Decimal.
      else if (def.default !== undefined) values[name] = parseValue(def, def.default, argPath, errors);
      continue;
    }
    const parsed = parseValue(def, given, argPath, errors);
    if (parsed !== undefined) values[name] = parsed;
  }
  return values;
}

function parseValue(def: ArgDef, raw: unknown, path: string, errors: ValidationError[]): unknown {
  const fail = (message: string) => {
    errors.push({ path, message });
    return undefined;
  };
  switch (def.type) {
    case 'int': {
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) return fail('must be an integer');
      const problem = outOfBounds(def, raw, String(raw));
      return problem ? fail(problem) : raw;
    }
    case 'decimal': {
      const value = parseDecimal(raw);
      if (!value) return fail('must be a decimal number');
      const problem = outOfBounds(def, decimalToNumber(value), formatDecimal(value));
      return problem ? fail(problem) : value;
    }
    case 'string':
      if (typeof raw !== 'string' || raw.trim() === '') return fail('must be a non-empty string');
      return raw;
    case 'string[]': {
      if (!Array.isArray(raw) || !raw.every((item) => typeof item === 'string' && item !== '')) {
        return fail('must be a list of non-empty strings');
      }
      if (def.required && raw.length === 0) return fail('must not be empty');
      const unknown = def.options ? raw.filter((item) => !def.options!.includes(item)) : [];
      if (unknown.length > 0) {
        return fail(`unknown option(s) ${unknown.join(', ')}; expected ${def.options!.join(', ')}`);
      }
      return [...raw];
    }
    case 'boolean':
      return typeof raw === 'boolean' ? raw : fail('must be a boolean');
    case 'datetime':
      return parseDateTime(raw) ?? fail('must be an ISO-8601 date-time with an offset, e.g. 2024-11-29T00:00:00+03:00');
    case 'enum':
      if (typeof raw !== 'string' || !def.options?.includes(raw)) {
        return fail(`must be one of ${def.options?.join(', ')}`);
      }
      return raw;
    case 'json':
      if (isJsonScalar(raw)) return raw;
      if (Array.isArray(raw) && raw.every(isJsonScalar)) return [...raw];
      return fail('must be a string, number, boolean or a list of them');
    case 'table': {
      if (!Array.isArray(raw)) return fail('must be a list');
      if (def.required && raw.length === 0) return fail('must not be empty');
      return raw.map((row, index) => parseRecord(def.columns ?? {}, row, `${path}[${index}]`, errors));
    }
  }
}

function outOfBounds(def: ArgDef, value: number, text: string): string | undefined {
  if (def.min !== undefined && value < def.min) return `${text} is below the minimum ${def.min}`;
  if (def.max !== undefined && value > def.max) return `${text} is above the maximum ${def.max}`;
  return undefined;
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/** An offset is required so a window never depends on the server's own time zone. */
export function parseDateTime(raw: unknown): Date | undefined {
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? undefined : raw;
  if (typeof raw !== 'string' || !ISO_WITH_OFFSET.test(raw)) return undefined;
  const date = new Date(raw);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function isJsonScalar(value: unknown): value is JsonScalar {
  return (
    typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))
  );
}
