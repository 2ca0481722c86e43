/**
 * Evaluates rules against one event. Pure: the same rules and context always give the same
 * result, so a dry run is the real run without the writes. Caps are not applied here — they need
 * database counts — but every award carries its rule's caps for the service to apply.
 */
import { CompiledRule, CompileResult, compileRule } from './compile';
import type { ActionInput, ActionOutput, ActionStage } from './earn-action';
import { isValidTimeZone } from './time-zone';
import type { Award, EvaluationResult, EvaluationTotals, MismatchReason, Rule, RuleContext, RuleResult } from './types';

interface Entry {
  rule: Rule;
  compiled?: CompiledRule;
  result: RuleResult;
}

/**
 * A definition is compiled once per object: the active-rules cache hands out the same objects
 * until it reloads, so a paid order no longer parses every rule's arguments again (stored
 * definitions are never changed in place; an edit is a new version, read as a new object).
 */
const compiledDefinitions = new WeakMap<object, CompileResult>();

export function compiledOnce(definition: unknown): CompileResult {
  if (typeof definition !== 'object' || definition === null) return compileRule(definition);
  let result = compiledDefinitions.get(definition);
  if (!result) compiledDefinitions.set(definition, (result = compileRule(definition)));
  return result;
}

/**
 * Rules run by priority (higher first; ties by id). A matched exclusive rule stops every rule of
 * strictly lower priority. Multipliers run last, over what the other applied rules awarded.
 * An invalid stored rule does not stop the others: it is reported with reason `invalid`.
 * Throws a TypeError when the context itself is malformed (a bug in the caller).
 */
export function evaluateRules(rules: readonly Rule[], context: RuleContext): EvaluationResult {
  assertValidContext(context);
  const entries: Entry[] = rules.map((rule) => {
    const compiled = compiledOnce(rule.definition);
    const result: RuleResult = {
      ruleId: rule.id,
      versionId: rule.versionId,
      matched: false,
      awards: [],
      sideEffects: [],
    };
    if (!compiled.rule) result.reason = { code: 'invalid', ...compiled.errors[0] };
    return { rule, compiled: compiled.rule, result };
  });
  entries.sort(byPriorityThenId);

  let exclusiveWinner: { ruleId: string; priority: number } | undefined;
  for (const { rule, compiled, result } of entries) {
    if (!compiled) continue;
    const reason = whyNotApplied(compiled, context, exclusiveWinner);
    if (reason) {
      result.reason = reason;
      continue;
    }
    result.matched = true;
    runStage('award', compiled, result, { context, otherRulesMemberPoints: 0 });
    if (compiled.exclusive && !exclusiveWinner) exclusiveWinner = { ruleId: rule.id, priority: compiled.priority };
  }

  // Base awards are all known now; each multiplier scales what the other rules gave the member.
  const basePoints = new Map(entries.map(({ result }) => [result, memberPoints(result.awards)]));
  const allBasePoints = [...basePoints.values()].reduce((sum, points) => sum + points, 0);
  for (const { compiled, result } of entries) {
    if (!compiled || !result.matched) continue;
    runStage('multiply', compiled, result, {
      context,
      otherRulesMemberPoints: allBasePoints - basePoints.get(result)!,
    });
  }

  const results = entries.map(({ result }) => result);
  return { results, totals: totalsOf(results) };
}

function whyNotApplied(
  rule: CompiledRule,
  context: RuleContext,
  exclusiveWinner: { ruleId: string; priority: number } | undefined,
): MismatchReason | undefined {
  if (rule.trigger !== context.event.type) {
    return { code: 'trigger', path: 'trigger', message: `waits for '${rule.trigger}', not '${context.event.type}'` };
  }
  if (rule.status !== 'active') return { code: 'inactive', path: 'status', message: `status is ${rule.status}` };
  if (rule.activeFrom && context.now < rule.activeFrom) {
    return { code: 'window', path: 'activeFrom', message: `starts at ${rule.activeFrom.toISOString()}` };
  }
  if (rule.activeTo && context.now >= rule.activeTo) {
    return { code: 'window', path: 'activeTo', message: `ended at ${rule.activeTo.toISOString()}` };
  }
  if (exclusiveWinner && rule.priority < exclusiveWinner.priority) {
    return { code: 'excluded', path: 'priority', message: `excluded by rule ${exclusiveWinner.ruleId}` };
  }
  const outcome = rule.condition?.(context) ?? true;
  return outcome === true ? undefined : { code: 'condition', ...outcome };
}

function runStage(stage: ActionStage, rule: CompiledRule, result: RuleResult, input: ActionInput): void {
  for (const action of rule.actions) {
    if (action.stage === stage) collect(result, rule, action.code, action.run(input));
  }
}

function collect(result: RuleResult, rule: CompiledRule, actionCode: string, output: ActionOutput): void {
  const { points = 0, beneficiary = 'member', sideEffects = [] } = output;
  if (!Number.isSafeInteger(points) || points < 0) {
    throw new RangeError(`action '${actionCode}' returned ${points} points; expected a non-negative integer`);
  }
  if (points > 0) {
    const award: Award = {
      points,
      beneficiary,
      lifetimeDays: rule.lifetimeDays,
      delayDays: rule.delayDays,
      actionCode,
      caps: rule.caps,
    };
    result.awards.push(award);
  }
  for (const effect of sideEffects) result.sideEffects.push({ ...effect, actionCode });
}

function memberPoints(awards: Award[]): number {
  return awards.reduce((sum, award) => sum + (award.beneficiary === 'member' ? award.points : 0), 0);
}

function totalsOf(results: RuleResult[]): EvaluationTotals {
  const awards = results.flatMap((result) => result.awards);
  const byLevel = new Map<number, number>();
  for (const { beneficiary, points } of awards) {
    if (beneficiary !== 'member') {
      byLevel.set(beneficiary.referrerLevel, (byLevel.get(beneficiary.referrerLevel) ?? 0) + points);
    }
  }
  return {
    memberPoints: memberPoints(awards),
    referrerPoints: [...byLevel]
      .sort(([a], [b]) => a - b)
      .map(([referrerLevel, points]) => ({ referrerLevel, points })),
  };
}

function byPriorityThenId(a: Entry, b: Entry): number {
  const priority = (entry: Entry) => entry.compiled?.priority ?? 0;
  return priority(b) - priority(a) || compareIds(a.rule.id, b.rule.id);
}

/** Numeric ids ('9' < '10') compare as numbers; others (UUIDs) as text. */
function compareIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b) && a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Bad money or dates would turn into NaN points deep inside an action; stop them at the door. */
function assertValidContext(context: RuleContext): void {
  const problems: string[] = [];
  const isDate = (value: unknown) => value instanceof Date && !Number.isNaN(value.getTime());
  const isMoney = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

  if (!isDate(context.now)) problems.push('now must be a valid Date');
  if (!isDate(context.event?.occurredAt)) problems.push('event.occurredAt must be a valid Date');
  if (!isDate(context.member?.registeredAt)) problems.push('member.registeredAt must be a valid Date');
  if (!isValidTimeZone(context.timeZone)) problems.push(`timeZone '${context.timeZone}' is not an IANA time zone`);
  if (!Number.isSafeInteger(context.pointValueMinor) || context.pointValueMinor <= 0) {
    problems.push('pointValueMinor must be a positive integer');
  }
  const spend = context.member?.cumulativeSpend;
  if (spend && !(isMoney(spend.beforeMinor) && isMoney(spend.afterMinor) && spend.afterMinor >= spend.beforeMinor)) {
    problems.push('member.cumulativeSpend must be non-negative integers with afterMinor ≥ beforeMinor');
  }
  if (context.order) {
    if (!isMoney(context.order.totalMinor)) problems.push('order.totalMinor must be a non-negative integer');
    context.order.lines.forEach((line, index) => {
      if (!isMoney(line.eligibleMoneyMinor)) {
        problems.push(`order.lines[${index}].eligibleMoneyMinor must be a non-negative integer`);
      }
      if (!isMoney(line.unitPriceMinor)) {
        problems.push(`order.lines[${index}].unitPriceMinor must be a non-negative integer`);
      }
      if (!(Number.isFinite(line.quantity) && line.quantity > 0)) {
        problems.push(`order.lines[${index}].quantity must be positive`);
      }
    });
  }
  if (problems.length > 0) throw new TypeError(`invalid rule context: ${problems.join('; ')}`);
}
