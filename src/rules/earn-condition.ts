import { ArgDefs, ArgDescription, ArgIssue, ArgValues, describeArgs, parseArgs } from './args';
import type { RuleContext, ValidationError } from './types';

/**
 * What a condition's `check` returns:
 * - `true` when the context satisfies the condition;
 * - a short reason when it does not, e.g. `'90000 < min 100000'` (the engine prefixes the code,
 *   giving `orderTotal: 90000 < min 100000` in dry runs);
 * - `false` when there is nothing more useful to say than "did not match".
 */
export type ConditionOutcome = boolean | string;

/**
 * Configures an {@link EarnCondition}.
 *
 * @typeParam A - the argument definitions; `check` and `validate` receive their parsed values
 *   already typed (an `int` arrives as a number, a `decimal` as an exact Decimal, a `datetime`
 *   as a Date, a required or defaulted argument is never undefined).
 */
export interface EarnConditionConfig<A extends ArgDefs> {
  /** Stable identifier stored in rule definitions; never rename it once rules use it. */
  code: string;
  /** One line for admin tools: what the condition tests. */
  description: string;
  /** Typed argument definitions; raw values are checked against them when a rule is saved. */
  args: A;
  /**
   * Tests the context. Must be pure and synchronous: no I/O, no clock (use `context.now` or
   * `context.event.occurredAt`), no randomness, so a dry run shows exactly what a real run does.
   */
  check: (context: RuleContext, args: ArgValues<A>) => ConditionOutcome;
  /**
   * Optional checks across arguments that types alone cannot express (min ≤ max, at least one
   * of two lists). Runs after every argument has parsed; issues become validation errors.
   */
  validate?: (args: ArgValues<A>) => ArgIssue[];
  /** Tests the paid order (or what it adds to the member), which only order_paid events carry: other triggers are refused it when a rule is saved. */
  readsOrder?: boolean;
}

/** A condition with its arguments parsed, ready to test contexts. */
export type BoundCondition = (context: RuleContext) => ConditionOutcome;

/** Arguments parsed and bound, or why they could not be. */
export type ConditionBinding = { test: BoundCondition; readsOrder: boolean; errors: [] } | { errors: ValidationError[] };

/**
 * A condition of the rule catalogue: a named, typed predicate over the {@link RuleContext}.
 * A rule's condition tree refers to it as `{ condition: code, args }`.
 *
 * Adding one takes a small object and one line in `catalogue.ts`:
 *
 * ```ts
 * export const minLines = new EarnCondition({
 *   code: 'minLines',
 *   description: 'The order has at least `count` lines',
 *   args: { count: { type: 'int', required: true, min: 1, description: 'Fewest lines' } },
 *   check: (context, { count }) => {
 *     const lines = context.order?.lines.length ?? 0;
 *     return lines >= count || `${lines} < ${count} lines`;
 *   },
 * });
 * ```
 *
 * Modelled on Vendure's `PromotionCondition`; unlike it, `check` explains a mismatch.
 */
export class EarnCondition<const A extends ArgDefs = ArgDefs> {
  readonly code: string;
  readonly description: string;
  readonly args: A;
  readonly readsOrder: boolean;
  // Closes over the typed config, so the class stays assignable to EarnCondition<ArgDefs>.
  private readonly bindArgs: (rawArgs: unknown, path: string) => ConditionBinding;

  constructor(config: EarnConditionConfig<A>) {
    this.code = config.code;
    this.description = config.description;
    this.args = config.args;
    this.readsOrder = config.readsOrder ?? false;
    this.bindArgs = (rawArgs, path) => {
      const parsed = parseArgs(config.args, rawArgs, path, config.validate);
      if (!parsed.values) return { errors: parsed.errors };
      const values = parsed.values;
      return { test: (context) => config.check(context, values), readsOrder: this.readsOrder, errors: [] };
    };
  }

  /**
   * Parses raw arguments (JSON from a stored rule) and binds them; `path` prefixes error paths.
   * Returns the errors instead when the arguments are invalid.
   */
  bind(rawArgs: unknown, path: string): ConditionBinding {
    return this.bindArgs(rawArgs, path);
  }

  describe(): { code: string; description: string; readsOrder: boolean; args: ArgDescription[] } {
    return { code: this.code, description: this.description, readsOrder: this.readsOrder, args: describeArgs(this.args) };
  }
}
