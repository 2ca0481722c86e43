/**
 * Turns a rule definition (data, possibly straight from JSON) into a checked, executable form:
 * every condition and action bound to its parsed arguments. Validation is compilation that
 * reports its errors, so what is saved is exactly what will run.
 */
import { isPlainObject } from './args';
import { findAction, findCondition } from './catalogue';
import type { ActionStage, BoundAction } from './earn-action';
import {
  CAP_KEYS,
  RULE_STATUSES,
  KnownTrigger,
  RuleCaps,
  RuleContext,
  RuleDefinition,
  RuleStatus,
  ValidationError,
  ValidationResult,
} from './types';

/** Why a condition tree did not match: the node that failed and its reason. */
export interface ConditionMismatch {
  path: string;
  message: string;
}
export type CompiledCondition = (context: RuleContext) => true | ConditionMismatch;

export interface CompiledAction {
  code: string;
  stage: ActionStage;
  run: BoundAction;
}

export interface CompiledRule {
  trigger: string;
  condition: CompiledCondition | null;
  actions: CompiledAction[];
  lifetimeDays: number | null;
  delayDays: number | null;
  caps: RuleCaps;
  priority: number;
  exclusive: boolean;
  oncePerMember: boolean;
  activeFrom: Date | null;
  activeTo: Date | null;
  status: RuleStatus;
}

export type CompileResult = { rule: CompiledRule; errors: [] } | { rule?: undefined; errors: ValidationError[] };

const DEFINITION_KEYS = new Set<string>([
  'trigger',
  'condition',
  'actions',
  'lifetimeDays',
  'delayDays',
  'caps',
  'priority',
  'exclusive',
  'oncePerMember',
  'activeFrom',
  'activeTo',
  'status',
] satisfies (keyof RuleDefinition)[]);

/**
 * Checks a definition before it is saved; error paths name the offending node. Beyond what
 * compiling needs, a condition or action that reads the paid order is refused on another trigger:
 * only order_paid events carry one, so elsewhere it tests nothing (a rule stored before this check
 * still compiles and runs as it did).
 */
export function validateRule(definition: unknown): ValidationResult {
  const orderReaders: OrderReader[] = [];
  const errors: ValidationError[] = [...compileRule(definition, orderReaders).errors];
  const trigger = isPlainObject(definition) ? definition.trigger : undefined;
  if (typeof trigger === 'string' && trigger !== ORDER_TRIGGER) {
    for (const { path, what } of orderReaders) {
      errors.push({ path, message: `${what} reads the paid order, which only ${ORDER_TRIGGER} events carry` });
    }
  }
  return errors.length === 0 ? { ok: true } : { ok: false, errors };
}

/** Compiles a definition; `orderReaders`, when given, collects what in it reads the paid order. */
export function compileRule(definition: unknown, orderReaders: OrderReader[] = []): CompileResult {
  const errors: ValidationError[] = [];
  const error = (path: string, message: string) => errors.push({ path, message });
  if (!isPlainObject(definition)) return { errors: [{ path: '', message: 'must be an object' }] };

  for (const key of Object.keys(definition)) if (!DEFINITION_KEYS.has(key)) error(key, 'unknown field');

  const { trigger, status, priority = 0, exclusive = false, oncePerMember = false } = definition;
  if (typeof trigger !== 'string' || trigger.trim() === '') error('trigger', 'is required: an event type');
  if (!RULE_STATUSES.includes(status as RuleStatus)) error('status', `must be one of ${RULE_STATUSES.join(', ')}`);
  if (!Number.isSafeInteger(priority)) error('priority', 'must be an integer');
  if (typeof exclusive !== 'boolean') error('exclusive', 'must be a boolean');
  if (typeof oncePerMember !== 'boolean') error('oncePerMember', 'must be a boolean');

  const lifetimeDays = optionalInt(definition.lifetimeDays, 1, 'lifetimeDays', error);
  const delayDays = optionalInt(definition.delayDays, 0, 'delayDays', error);
  const caps = compileCaps(definition.caps, error);
  const activeFrom = optionalDate(definition.activeFrom, 'activeFrom', error);
  const activeTo = optionalDate(definition.activeTo, 'activeTo', error);
  if (activeFrom && activeTo && activeFrom >= activeTo) error('activeTo', 'must be after activeFrom');

  const condition = definition.condition == null
    ? null
    : compileCondition(definition.condition, 'condition', errors, { depth: 1, nodes: { count: 0 } }, orderReaders);
  const actions = compileActions(definition.actions, errors, orderReaders);

  if (errors.length > 0) return { errors };
  return {
    rule: {
      trigger: trigger as string,
      condition,
      actions,
      lifetimeDays,
      delayDays,
      caps,
      priority: priority as number,
      exclusive: exclusive as boolean,
      oncePerMember: oncePerMember as boolean,
      activeFrom,
      activeTo,
      status: status as RuleStatus,
    },
    errors: [],
  };
}

type ReportError = (path: string, message: string) => void;

/** The one trigger whose events carry the paid order (`context.order`). */
const ORDER_TRIGGER: KnownTrigger = 'order_paid';

/** A condition or action of the rule that reads the paid order, where it sits and what it is. */
export interface OrderReader {
  path: string;
  what: string;
}

function optionalInt(value: unknown, min: number, path: string, error: ReportError): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min) return value;
  error(path, `must be an integer ≥ ${min}, or null for the program default`);
  return null;
}

function optionalDate(value: unknown, path: string, error: ReportError): Date | null {
  if (value === undefined || value === null) return null;
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value;
  error(path, 'must be a valid Date or null');
  return null;
}

function compileCaps(value: unknown, error: ReportError): RuleCaps {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) {
    error('caps', 'must be an object');
    return {};
  }
  const caps: RuleCaps = {};
  for (const [key, cap] of Object.entries(value)) {
    const path = `caps.${key}`;
    if (!(CAP_KEYS as readonly string[]).includes(key)) {
      error(path, `unknown cap; expected ${CAP_KEYS.join(', ')}`);
    } else if (typeof cap === 'number' && Number.isSafeInteger(cap) && cap > 0) {
      caps[key as keyof RuleCaps] = cap;
    } else if (cap !== undefined && cap !== null) {
      error(path, 'must be a positive integer');
    }
  }
  return caps;
}

const NODE_KINDS = ['all', 'any', 'not', 'condition'] as const;

/**
 * How deep a condition tree may nest (nodes on its longest path) and how many nodes it may
 * have. Compiling and evaluating recurse once per level, and a mismatch names its node's path:
 * a tree thousands deep would fail (or crawl through) every event of its trigger. The GraphQL
 * edge bounds JSON depth already; these bounds hold for a rule saved any other way too.
 */
export const MAX_CONDITION_DEPTH = 20;
export const MAX_CONDITION_NODES = 500;

/** Where a node sits: its depth (the root is 1) and the nodes of its tree counted so far. */
interface TreeSize {
  depth: number;
  nodes: { count: number };
}

function compileCondition(node: unknown, path: string, errors: ValidationError[], size: TreeSize, orderReaders: OrderReader[]): CompiledCondition {
  const never: CompiledCondition = () => ({ path, message: 'invalid' });
  const fail = (at: string, message: string) => {
    errors.push({ path: at, message });
    return never;
  };
  // Stop at the bound: nothing below it is compiled, so a huge tree costs no more than a refused one.
  if (size.depth > MAX_CONDITION_DEPTH) return fail(path, `nests deeper than ${MAX_CONDITION_DEPTH} levels`);
  if (++size.nodes.count > MAX_CONDITION_NODES) {
    return size.nodes.count === MAX_CONDITION_NODES + 1 ? fail(path, `the condition has more than ${MAX_CONDITION_NODES} nodes`) : never;
  }
  const below: TreeSize = { depth: size.depth + 1, nodes: size.nodes };
  if (!isPlainObject(node)) return fail(path, 'must be an object with one of all, any, not, condition');

  const kinds = NODE_KINDS.filter((kind) => Object.hasOwn(node, kind));
  if (kinds.length !== 1) return fail(path, 'must have exactly one of all, any, not, condition');
  const [kind] = kinds;
  for (const key of Object.keys(node)) {
    if (key !== kind && !(kind === 'condition' && key === 'args')) {
      errors.push({ path: `${path}.${key}`, message: 'unknown field' });
    }
  }

  if (kind === 'not') {
    const inner = compileCondition(node.not, `${path}.not`, errors, below, orderReaders);
    return (context) =>
      inner(context) === true ? { path: `${path}.not`, message: 'not: the negated condition matched' } : true;
  }
  if (kind === 'all' || kind === 'any') {
    const list = node[kind];
    const listPath = `${path}.${kind}`;
    if (!Array.isArray(list) || list.length === 0) return fail(listPath, 'must be a non-empty list of conditions');
    const children: CompiledCondition[] = [];
    for (let index = 0; index < list.length && size.nodes.count <= MAX_CONDITION_NODES; index++) {
      children.push(compileCondition(list[index], `${listPath}[${index}]`, errors, below, orderReaders));
    }
    return kind === 'all' ? allOf(children) : anyOf(children, listPath);
  }

  const code = node.condition;
  const condition = typeof code === 'string' ? findCondition(code) : undefined;
  if (!condition) return fail(`${path}.condition`, `unknown condition ${JSON.stringify(code)}`);
  const binding = condition.bind(node.args, `${path}.args`);
  if (!('test' in binding)) {
    errors.push(...binding.errors);
    return never;
  }
  const { test } = binding;
  if (binding.readsOrder) orderReaders.push({ path, what: condition.code });
  return (context) => {
    const outcome = test(context);
    if (outcome === true) return true;
    return { path, message: `${condition.code}: ${outcome === false ? 'did not match' : outcome}` };
  };
}

/** The first failing child explains the mismatch. */
function allOf(children: CompiledCondition[]): CompiledCondition {
  return (context) => {
    for (const child of children) {
      const outcome = child(context);
      if (outcome !== true) return outcome;
    }
    return true;
  };
}

/** Every child failed, so every reason is worth showing. */
function anyOf(children: CompiledCondition[], path: string): CompiledCondition {
  return (context) => {
    const reasons: string[] = [];
    for (const child of children) {
      const outcome = child(context);
      if (outcome === true) return true;
      reasons.push(outcome.message);
    }
    return { path, message: `none of ${children.length} matched: ${reasons.join('; ')}` };
  };
}

function compileActions(value: unknown, errors: ValidationError[], orderReaders: OrderReader[]): CompiledAction[] {
  if (!Array.isArray(value) || value.length === 0) {
    errors.push({ path: 'actions', message: 'must be a non-empty list of actions' });
    return [];
  }
  const actions: CompiledAction[] = [];
  for (const [index, spec] of value.entries()) {
    const path = `actions[${index}]`;
    if (!isPlainObject(spec)) {
      errors.push({ path, message: 'must be an object { code, args }' });
      continue;
    }
    for (const key of Object.keys(spec)) {
      if (key !== 'code' && key !== 'args') errors.push({ path: `${path}.${key}`, message: 'unknown field' });
    }
    const action = typeof spec.code === 'string' ? findAction(spec.code) : undefined;
    if (!action) {
      const message =
        spec.code === undefined ? 'is required: an action code' : `unknown action ${JSON.stringify(spec.code)}`;
      errors.push({ path: `${path}.code`, message });
      continue;
    }
    const binding = action.bind(spec.args, `${path}.args`);
    if ('run' in binding) {
      actions.push({ code: action.code, stage: action.stage, run: binding.run });
      if (binding.readsOrder) orderReaders.push({ path, what: binding.readsOrder });
    } else {
      errors.push(...binding.errors);
    }
  }
  return actions;
}
