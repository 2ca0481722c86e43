import fc from 'fast-check';
import { PatronError } from '../../src/errors';
import { MAX_DEPTH, MAX_VALUES, checkArguments } from '../../src/graphql/input-policy';

/**
 * The input policy checks on a fast path that builds no argument paths and, only when it finds
 * a problem, walks again to name it. This model holds it to the plain one-pass policy (what it
 * was before, less the `input.` its paths started with): the same arguments pass, the same are
 * refused, with the same message and field.
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const PLAIN_KEY = /^[A-Za-z_$][\w$]*$/;

function reference(args: Record<string, unknown>): string | null {
  const budget = { values: 0 };
  const walk = (value: unknown, path: string, depth: number): string | null => {
    if (++budget.values > MAX_VALUES) return `${path}: carries more than ${MAX_VALUES} values`;
    if (typeof value === 'string') return UNSTORABLE.test(value) ? `${path}: contains` : null;
    if (value === null || typeof value !== 'object' || value instanceof Date) return null;
    if (depth >= MAX_DEPTH) return `${path}: nests deeper than ${MAX_DEPTH} levels`;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const problem = walk(value[i], `${path}[${i}]`, depth + 1);
        if (problem) return problem;
      }
      return null;
    }
    for (const key of Object.keys(value)) {
      if (UNSTORABLE.test(key)) return `${path}: has a key`;
      const item = (value as Record<string, unknown>)[key];
      const at = PLAIN_KEY.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
      if (key === 'idempotencyKey' && typeof item === 'string' && item.trim() === '') return `${at}: must not be blank`;
      const problem = walk(item, at, depth + 1);
      if (problem) return problem;
    }
    return null;
  };
  for (const name of Object.keys(args)) {
    const problem = walk(args[name], name, 1);
    // Named within the operation's input, as every BAD_USER_INPUT names its field.
    if (problem) return problem.startsWith('input.') ? problem.slice('input.'.length) : problem;
  }
  return null;
}

function actual(args: Record<string, unknown>): string | null {
  try {
    checkArguments(args);
    return null;
  } catch (error) {
    if (!(error instanceof PatronError)) throw error;
    return error.message;
  }
}

const text = fc.array(fc.constantFrom('a', 'Z', ' ', '\t', '\u0000', '\uD800', '\uDC00', '😀', 'ё', '.', '"'), { maxLength: 6 }).map((chars) => chars.join(''));
const key = fc.oneof(fc.constantFrom('idempotencyKey', 'sku', 'a b', '$x', '1st'), text);
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, text, fc.integer(), fc.boolean(), fc.constant(null), fc.date(), tie('list'), tie('object')),
  list: fc.array(tie('node'), { maxLength: 4 }),
  object: fc.dictionary(key, tie('node'), { maxKeys: 4 }),
})).node;

const nested = (depth: number, leaf: unknown): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { x: v };
  return v;
};

describe('input policy: the fast path agrees with the plain policy', () => {
  it('on random arguments', () => {
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 3 }), (args) => {
        const expected = reference(args);
        const got = actual(args);
        if (expected === null) expect(got).toBeNull();
        else expect(got).toContain(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it.each([
    ['deep', { input: nested(MAX_DEPTH + 3, 'leaf') }],
    ['deep, with a NUL below the bound', { input: nested(MAX_DEPTH + 3, 'a\u0000') }],
    ['too many values', { input: { many: Array.from({ length: MAX_VALUES + 1 }, () => 1) } }],
    ['too many values across arguments', { a: Array.from({ length: MAX_VALUES / 2 }, () => 1), b: Array.from({ length: MAX_VALUES / 2 }, () => 'x') }],
    ['a blank key after a good one', { input: { lines: [{ sku: 'A' }], idempotencyKey: ' ' } }],
    ['a bad second argument', { externalId: 'ok', email: 'a\uDC00' }],
  ])('on %s', (_name, args) => {
    const expected = reference(args as Record<string, unknown>);
    expect(expected).not.toBeNull();
    expect(actual(args as Record<string, unknown>)).toContain(expected);
  });
});
