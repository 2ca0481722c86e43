/** The rule engine: pure evaluation of loyalty rules (no I/O). */
export * from './types';
export { EarnCondition, type EarnConditionConfig, type ConditionOutcome } from './earn-condition';
export {
  EarnAction,
  type EarnActionConfig,
  type ActionInput,
  type ActionOutput,
  type ActionStage,
} from './earn-action';
export type { ArgDef, ArgDefs, ArgType, ArgValues, ArgDescription, ArgIssue } from './args';
export { type Decimal, parseDecimal, formatDecimal, mulDivFloor } from './decimal';
export { listConditions, listActions, findCondition, findAction, type CatalogueEntry } from './catalogue';
export { validateRule, compileRule, MAX_CONDITION_DEPTH, MAX_CONDITION_NODES } from './compile';
export { evaluateRules } from './evaluate';
