import { formatPath } from '../events/field-problem.ts';
import { money, isDecimalString } from '../money.ts';
import { fieldSpec, OPS_BY_TYPE, type FieldSpec } from './rules.fields.ts';
import { MAX_RULE_CONDITIONS, MAX_RULE_DEPTH, RULE_OPS, type Rule, type RuleOp, type RuleParseResult } from './rules.types.ts';
import { parseTimestamp } from '../time.ts';

export type PathSegment = string | number;
export interface RuleIssue {
  path: PathSegment[];
  message: string;
}

export interface ParseRuleOptions {
  /** prefix for error paths, e.g. `tiers[0].rule` */
  path?: string;
  /** fields this kind of rule may not use (tier rules: `tier`, `segment`) */
  forbiddenFields?: readonly string[];
}

export function parseRule(input: unknown, opts: ParseRuleOptions = {}): RuleParseResult {
  const issues = ruleIssues(input, opts.forbiddenFields ?? []);
  if (issues.length === 0) return { ok: true, rule: input as Rule };
  return { ok: false, errors: issues.map((i) => ({ path: formatPath(i.path, opts.path ?? ''), message: i.message })) };
}


/** every problem in a rule, with paths relative to the rule (zod superRefine uses these) */
export function ruleIssues(input: unknown, forbiddenFields: readonly string[] = []): RuleIssue[] {
  const issues: RuleIssue[] = [];
  let conditions = 0;
  const add = (path: PathSegment[], message: string): void => {
    issues.push({ path, message });
  };

  const walk = (node: unknown, path: PathSegment[], depth: number): void => {
    if (depth > MAX_RULE_DEPTH) return add(path, `rules may nest at most ${MAX_RULE_DEPTH} levels deep`);
    if (!isObject(node)) return add(path, 'a rule must be an object: {field, op, value}, {all: [...]}, {any: [...]} or {not: rule}');
    const kinds = ['field', 'all', 'any', 'not'].filter((k) => k in node);
    const kind = kinds[0];
    if (kinds.length !== 1 || kind === undefined) {
      return add(path, 'a rule must have exactly one of: field, all, any, not');
    }
    const allowed = kind === 'field' ? ['field', 'op', 'value'] : [kind];
    for (const key of Object.keys(node)) if (!allowed.includes(key)) add([...path, key], `unknown key '${key}'`);
    if (kind === 'not') return walk(node['not'], [...path, 'not'], depth + 1);
    if (kind === 'field') {
      conditions++;
      return checkCondition(node, path, forbiddenFields, add);
    }
    const children = node[kind];
    if (!Array.isArray(children) || children.length === 0) return add([...path, kind], `${kind} must be a non-empty array of rules`);
    children.forEach((child, i) => walk(child, [...path, kind, i], depth + 1));
  };

  walk(input, [], 1);
  if (conditions > MAX_RULE_CONDITIONS) add([], `a rule may hold at most ${MAX_RULE_CONDITIONS} conditions (found ${conditions})`);
  return issues;
}

type Add = (path: PathSegment[], message: string) => void;

function checkCondition(node: Record<string, unknown>, path: PathSegment[], forbidden: readonly string[], add: Add): void {
  const { field, op, value } = node;
  let spec: FieldSpec | null = null;
  if (typeof field !== 'string') add([...path, 'field'], 'field must be a string');
  else if (forbidden.includes(field)) add([...path, 'field'], `field '${field}' is not allowed in this rule`);
  else if (!(spec = fieldSpec(field))) add([...path, 'field'], `unknown field '${field}'`);

  if (typeof op !== 'string' || !(RULE_OPS as readonly string[]).includes(op)) {
    return add([...path, 'op'], `op must be one of: ${RULE_OPS.join(', ')}`);
  }
  if (!spec) return;
  const allowed = OPS_BY_TYPE[spec.type];
  if (!allowed.includes(op as RuleOp)) {
    return add([...path, 'op'], `op '${op}' does not apply to ${String(field)} (${typeLabel(spec)}); use one of: ${allowed.join(', ')}`);
  }
  checkValue(spec, op as RuleOp, value, 'value' in node, [...path, 'value'], add);
}

function checkValue(spec: FieldSpec, op: RuleOp, value: unknown, present: boolean, path: PathSegment[], add: Add): void {
  if (op === 'exists') {
    if (present && typeof value !== 'boolean') add(path, 'exists takes true, false or no value');
    return;
  }
  if (!present) return add(path, `op '${op}' needs a value`);
  const ordered = op === 'gt' || op === 'gte' || op === 'lt' || op === 'lte' || op === 'between';
  const check = (v: unknown, at: PathSegment[]) => {
    const problem = scalarProblem(spec, v, ordered);
    if (problem) add(at, problem);
    return !problem;
  };
  if (op === 'in' || op === 'nin') {
    if (!Array.isArray(value) || value.length === 0) return add(path, `${op} needs a non-empty array`);
    value.forEach((v, i) => check(v, [...path, i]));
    return;
  }
  if (op === 'between') {
    if (!Array.isArray(value) || value.length !== 2) return add(path, 'between needs [low, high]');
    const [lo, hi] = value as [unknown, unknown];
    if (check(lo, [...path, 0]) && check(hi, [...path, 1])) {
      const order = compareValues(spec, lo, hi);
      if (order === null) add(path, 'between needs two values of the same type');
      else if (order > 0) add(path, 'between needs [low, high] with low ≤ high');
    }
    return;
  }
  check(value, path);
}

function scalarProblem(spec: FieldSpec, v: unknown, ordered: boolean): string | null {
  switch (spec.type) {
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? null : 'expected a number';
    case 'decimal':
      return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && isDecimalString(v))
        ? null
        : 'expected a decimal number or a decimal string like "12.50"';
    case 'timestamp':
      return parseTimestamp(v) !== null ? null : 'expected an RFC 3339 timestamp with offset, like "2024-05-01T00:00:00Z"';
    case 'enum':
      return typeof v === 'string' && spec.values?.includes(v) ? null : `expected one of: ${spec.values?.join(', ')}`;
    case 'boolean':
      return typeof v === 'boolean' ? null : 'expected true or false';
    case 'segment':
      return typeof v === 'string' && v !== '' ? null : 'expected a segment key';
    case 'string':
    case 'string[]':
      return typeof v === 'string' ? null : 'expected a string';
    case 'any':
      if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return null;
      if (typeof v === 'boolean' && !ordered) return null;
      return ordered ? 'expected a number or a string' : 'expected a string, number or boolean';
  }
}

/** order of two already-valid rule values of one field; null when they cannot be ordered */
export function compareValues(spec: FieldSpec, a: unknown, b: unknown): number | null {
  if (spec.type === 'decimal') return money(a as string).cmp(money(b as string));
  if (spec.type === 'timestamp') return Math.sign((parseTimestamp(a) ?? NaN) - (parseTimestamp(b) ?? NaN));
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b);
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return null;
}

/** keys of the saved segments a rule refers to (for cycle checks) */
export function referencedSegments(rule: Rule): string[] {
  if ('all' in rule) return [...new Set(rule.all.flatMap(referencedSegments))];
  if ('any' in rule) return [...new Set(rule.any.flatMap(referencedSegments))];
  if ('not' in rule) return referencedSegments(rule.not);
  if (rule.field !== 'segment') return [];
  return Array.isArray(rule.value) ? rule.value.filter((v): v is string => typeof v === 'string') : typeof rule.value === 'string' ? [rule.value] : [];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeLabel(spec: FieldSpec): string {
  return spec.type === 'any' ? 'trait' : spec.type;
}
