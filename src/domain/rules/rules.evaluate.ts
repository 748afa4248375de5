import { fieldSpec, readField, type FieldSpec, type RuleRecord } from './rules.fields.ts';
import { compareValues } from './rules.parse.ts';
import type { Rule, RuleCondition } from './rules.types.ts';
import { parseTimestamp } from '../time.ts';

// Two-valued logic, so `not` is a plain negation and SQL must wrap each leaf in coalesce(…, false):
// a missing (null) value fails every comparison except `exists: false`, `neq` and `nin`, which hold.
export function evaluateRule(rule: Rule, record: RuleRecord): boolean {
  if ('all' in rule) return rule.all.every((r) => evaluateRule(r, record));
  if ('any' in rule) return rule.any.some((r) => evaluateRule(r, record));
  if ('not' in rule) return !evaluateRule(rule.not, record);
  return evaluateCondition(rule, record);
}

function evaluateCondition(c: RuleCondition, record: RuleRecord): boolean {
  const spec = fieldSpec(c.field);
  if (!spec) return false;
  if (spec.type === 'segment') return segmentCondition(c, record.segments);
  const actual = readField(record, c.field);
  if (c.op === 'exists') return (actual !== null) === (c.value ?? true);
  if (actual === null) return c.op === 'neq' || c.op === 'nin';
  const values = Array.isArray(c.value) ? (c.value as unknown[]) : [];
  // Every derivation evaluates its tier rules: no closure per condition.
  switch (c.op) {
    case 'eq':
      return compareActual(spec, actual, c.value) === 0;
    case 'neq':
      return compareActual(spec, actual, c.value) !== 0;
    case 'in':
      return values.some((v) => compareActual(spec, actual, v) === 0);
    case 'nin':
      return !values.some((v) => compareActual(spec, actual, v) === 0);
    case 'gt':
      return holds(compareActual(spec, actual, c.value), (o) => o > 0);
    case 'gte':
      return holds(compareActual(spec, actual, c.value), (o) => o >= 0);
    case 'lt':
      return holds(compareActual(spec, actual, c.value), (o) => o < 0);
    case 'lte':
      return holds(compareActual(spec, actual, c.value), (o) => o <= 0);
    case 'between':
      return holds(compareActual(spec, actual, values[0]), (o) => o >= 0) && holds(compareActual(spec, actual, values[1]), (o) => o <= 0);
    case 'contains':
      return Array.isArray(actual) && actual.some((item) => item === c.value);
  }
}

// Record values are compared in their own type: money strings as exact decimals, Dates by instant
// against RFC 3339 rule values; traits only match values of the same JSON type (the trait "5" is
// not the number 5), strings compare by code unit. null means "not comparable", i.e. false.
function compareActual(spec: FieldSpec, actual: unknown, expected: unknown): number | null {
  if (spec.type === 'timestamp') {
    const at = actual instanceof Date ? actual.getTime() : parseTimestamp(actual);
    const exp = parseTimestamp(expected);
    return at === null || exp === null ? null : Math.sign(at - exp);
  }
  if (spec.type === 'decimal') {
    const ok = (v: unknown) => typeof v === 'string' || typeof v === 'number';
    return ok(actual) && ok(expected) ? safe(() => compareValues(spec, actual, expected)) : null;
  }
  if (typeof actual === 'boolean' || typeof expected === 'boolean') return actual === expected ? 0 : null;
  return compareValues(spec, actual, expected);
}

function segmentCondition(c: RuleCondition, segments: string[]): boolean {
  const inAny = (keys: unknown[]) => keys.some((k) => typeof k === 'string' && segments.includes(k));
  if (c.op === 'eq') return inAny([c.value]);
  if (c.op === 'neq') return !inAny([c.value]);
  if (c.op === 'in') return Array.isArray(c.value) && inAny(c.value);
  if (c.op === 'nin') return !(Array.isArray(c.value) && inAny(c.value));
  return false;
}

function holds(order: number | null, test: (order: number) => boolean): boolean {
  return order !== null && !Number.isNaN(order) && test(order);
}

function safe(fn: () => number | null): number | null {
  try {
    return fn();
  } catch {
    return null;
  }
}
