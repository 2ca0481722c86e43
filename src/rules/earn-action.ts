import { ArgDefs, ArgDescription, ArgIssue, ArgValues, describeArgs, parseArgs } from './args';
import type { Beneficiary, RuleContext, SideEffectRequest, ValidationError } from './types';

/**
 * When an action runs:
 * - `award`: with the other actions of its rule, in priority order;
 * - `multiply`: after every matched rule's `award` actions, so it can see what they awarded.
 */
export type ActionStage = 'award' | 'multiply';

/**
 * The most points an action's argument may name: as many as one accrue may add (the ledger's
 * MAX_POINTS, which a unit test holds it to). Rule awards are bounded only by what an account may
 * hold (9 000 000 000): a few awards of more would fill it, and every later event the rule matched
 * would be refused whole. A rule stored with more is reported `invalid` and the others still run.
 */
export const MAX_AWARD_POINTS = 1_000_000_000;

export interface ActionInput {
  context: RuleContext;
  /**
   * Stage `multiply` only: points awarded to the member by the `award` actions of the OTHER
   * matched rules for this event. Always 0 in stage `award`.
   */
  otherRulesMemberPoints: number;
}

/**
 * What an action produces. The engine turns `points` into an award carrying the rule's lifetime,
 * delay and caps; 0 points means no award.
 */
export interface ActionOutput {
  /** A non-negative safe integer; anything else is a bug in the action and throws. */
  points?: number;
  /** Defaults to the member. */
  beneficiary?: Beneficiary;
  sideEffects?: SideEffectRequest[];
}

/**
 * Configures an {@link EarnAction}.
 *
 * @typeParam A - the argument definitions; `execute` and `validate` receive their parsed values.
 */
export interface EarnActionConfig<A extends ArgDefs> {
  /** Stable identifier stored in rule definitions; never rename it once rules use it. */
  code: string;
  /** One line for admin tools: what the action awards. */
  description: string;
  /** Typed argument definitions; raw values are checked against them when a rule is saved. */
  args: A;
  /** Default `award`. Use `multiply` only for actions that scale other rules' awards. */
  stage?: ActionStage;
  /**
   * Computes the award. Must be pure and synchronous. Money is in integer minor units; convert to
   * points with `context.pointValueMinor` and round down with exact arithmetic (see `mulDivFloor`).
   */
  execute: (input: ActionInput, args: ArgValues<A>) => ActionOutput;
  /** Optional checks across arguments; issues become validation errors. */
  validate?: (args: ArgValues<A>) => ArgIssue[];
  /**
   * Reads the paid order (`context.order`), which only order_paid events carry: other triggers are
   * refused it when a rule is saved. A function decides by the arguments, naming the ones that read
   * it ('with percent'), or null.
   */
  readsOrder?: boolean | ((args: ArgValues<A>) => string | null);
}

export type BoundAction = (input: ActionInput) => ActionOutput;

/**
 * Arguments parsed and bound, or why they could not be. `readsOrder` names what of it reads the
 * paid order ('percentOfAmount', 'rewardReferrer with percent'), or is null.
 */
export type ActionBinding = { run: BoundAction; readsOrder: string | null; errors: [] } | { errors: ValidationError[] };

/**
 * An action of the rule catalogue: what a matched rule does — award points to the member or a
 * referrer, or ask the service for a side effect such as issuing a coupon. A rule lists actions
 * as `{ code, args }`.
 *
 * Adding one takes a small object and one line in `catalogue.ts`:
 *
 * ```ts
 * export const pointsPerLine = new EarnAction({
 *   code: 'pointsPerLine',
 *   description: 'Fixed points for every order line',
 *   args: { points: { type: 'int', required: true, min: 1, description: 'Points per line' } },
 *   execute: ({ context }, { points }) => ({ points: points * (context.order?.lines.length ?? 0) }),
 * });
 * ```
 *
 * Modelled on Vendure's `PromotionAction`.
 */
export class EarnAction<const A extends ArgDefs = ArgDefs> {
  readonly code: string;
  readonly description: string;
  readonly args: A;
  readonly stage: ActionStage;
  /** Whatever its arguments, it reads the paid order (see {@link EarnActionConfig.readsOrder}). */
  readonly readsOrder: boolean;
  // Closes over the typed config, so the class stays assignable to EarnAction<ArgDefs>.
  private readonly bindArgs: (rawArgs: unknown, path: string) => ActionBinding;

  constructor(config: EarnActionConfig<A>) {
    this.code = config.code;
    this.description = config.description;
    this.args = config.args;
    this.stage = config.stage ?? 'award';
    const { readsOrder = false } = config;
    this.readsOrder = readsOrder === true;
    this.bindArgs = (rawArgs, path) => {
      const parsed = parseArgs(config.args, rawArgs, path, config.validate);
      if (!parsed.values) return { errors: parsed.errors };
      const values = parsed.values;
      let reader = readsOrder === true ? config.code : null;
      if (typeof readsOrder === 'function') {
        const readingArgs = readsOrder(values);
        if (readingArgs !== null) reader = `${config.code} ${readingArgs}`;
      }
      return { run: (input) => config.execute(input, values), readsOrder: reader, errors: [] };
    };
  }

  /** Parses raw arguments and binds them; returns the errors instead when they are invalid. */
  bind(rawArgs: unknown, path: string): ActionBinding {
    return this.bindArgs(rawArgs, path);
  }

  describe(): { code: string; description: string; stage: ActionStage; readsOrder: boolean; args: ArgDescription[] } {
    return { code: this.code, description: this.description, stage: this.stage, readsOrder: this.readsOrder, args: describeArgs(this.args) };
  }
}
