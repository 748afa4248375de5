import { describe, expect, it } from 'vitest';
import { day, order } from '../../../test/fixtures/events.fixtures.ts';
import { computeMetrics } from '../facts/metrics.ts';
import { evaluateRule, parseRule, referencedSegments, type Rule, type RuleRecord } from './rules.ts';

const cond = (field: string, op: string, value?: unknown) => (value === undefined ? { field, op } : { field, op, value });
const nest = (depth: number): unknown => (depth === 1 ? cond('order_count', 'gt', 1) : { not: nest(depth - 1) });

describe('parseRule', () => {
  it.each<[string, unknown]>([
    ['a condition', cond('order_count', 'gte', 2)],
    ['all/any/not', { all: [cond('value_score', 'gte', 70), { any: [cond('tier', 'eq', 'gold'), { not: cond('at_risk', 'eq', true) }] }] }],
    ['decimal as string or number', { all: [cond('net_revenue', 'gt', '100.50'), cond('revenue_365d', 'lte', 99)] }],
    ['between with equal ends', cond('recency_days', 'between', [30, 30])],
    ['timestamp with offset', cond('last_order_at', 'gte', '2024-05-01T12:00:00+02:00')],
    ['exists without a value', cond('predictions.p_alive', 'exists')],
    ['exists false', cond('region', 'exists', false)],
    ['enum in', cond('rfm_segment', 'in', ['champions', 'loyal'])],
    ['contains on top_categories', cond('top_categories', 'contains', 'shoes')],
    ['traits with any scalar', { all: [cond('traits.vip', 'eq', true), cond('traits.age', 'between', [18, 30]), cond('traits.tags', 'contains', 'b2b')] }],
    ['segment membership', cond('segment', 'in', ['vip', 'newsletter'])],
    ['depth 6', nest(6)],
    ['100 conditions', { all: Array.from({ length: 100 }, () => cond('order_count', 'gt', 0)) }],
  ])('accepts %s', (_name, input) => {
    expect(parseRule(input)).toEqual({ ok: true, rule: input });
  });

  it.each<[string, unknown, string[]]>([
    ['not an object', 'order_count > 1', ['tiers[0].rule: a rule must be an object']],
    ['two kinds at once', { field: 'order_count', op: 'gt', value: 1, all: [] }, ['tiers[0].rule: a rule must have exactly one of']],
    ['unknown key', { ...cond('order_count', 'gt', 1), valu: 2 }, ["tiers[0].rule.valu: unknown key 'valu'"]],
    ['unknown field deep inside', { all: [cond('order_count', 'gt', 1), cond('favourite_colour', 'eq', 'red')] }, ["tiers[0].rule.all[1].field: unknown field 'favourite_colour'"]],
    ['forbidden field', { any: [cond('tier', 'eq', 'gold'), cond('segment', 'eq', 'vip')] }, ["tiers[0].rule.any[0].field: field 'tier' is not allowed", "tiers[0].rule.any[1].field: field 'segment' is not allowed"]],
    ['unknown op', cond('order_count', 'greater', 1), ['tiers[0].rule.op: op must be one of']],
    ['gt on an enum', cond('rfm_segment', 'gt', 'loyal'), ["tiers[0].rule.op: op 'gt' does not apply to rfm_segment (enum)"]],
    ['gt on a plain string', cond('region', 'gte', 'M'), ["tiers[0].rule.op: op 'gte' does not apply to region (string)"]],
    ['a string for a number field', cond('order_count', 'gt', '5'), ['tiers[0].rule.value: expected a number']],
    ['a decimal in exponent form', cond('net_revenue', 'gt', '1e3'), ['tiers[0].rule.value: expected a decimal']],
    ['between with 3 values', cond('recency_days', 'between', [1, 2, 3]), ['tiers[0].rule.value: between needs [low, high]']],
    ['between reversed', cond('net_revenue', 'between', ['100', 5]), ['tiers[0].rule.value: between needs [low, high] with low ≤ high']],
    ['between mixed trait types', cond('traits.age', 'between', [1, 'z']), ['tiers[0].rule.value: between needs two values of the same type']],
    ['in with an empty array', cond('abc_class', 'in', []), ['tiers[0].rule.value: in needs a non-empty array']],
    ['in with a bad element', cond('abc_class', 'nin', ['A', 'D']), ['tiers[0].rule.value[1]: expected one of: A, B, C']],
    ['an unparsable timestamp', cond('first_order_at', 'lt', '2024-13-99'), ['tiers[0].rule.value: expected an RFC 3339 timestamp']],
    ['a timestamp without offset', cond('first_order_at', 'lt', '2024-01-01T00:00:00'), ['tiers[0].rule.value: expected an RFC 3339 timestamp']],
    ['missing value', cond('order_count', 'eq'), ["tiers[0].rule.value: op 'eq' needs a value"]],
    ['exists with a non-boolean', cond('region', 'exists', 'yes'), ['tiers[0].rule.value: exists takes true, false or no value']],
    ['a boolean for an ordered trait op', cond('traits.vip', 'gt', true), ['tiers[0].rule.value: expected a number or a string']],
    ['an empty trait key', cond('traits.', 'eq', 1), ["tiers[0].rule.field: unknown field 'traits.'"]],
    ['contains with a number on top_categories', cond('top_categories', 'contains', 3), ['tiers[0].rule.value: expected a string']],
    ['eq on an array field', cond('top_categories', 'eq', 'x'), ["tiers[0].rule.op: op 'eq' does not apply"]],
    ['an empty all', { all: [] }, ['tiers[0].rule.all: all must be a non-empty array']],
    ['depth 7', nest(7), ['tiers[0].rule.not.not.not.not.not.not: rules may nest at most 6 levels deep']],
    ['101 conditions', { any: Array.from({ length: 101 }, () => cond('order_count', 'gt', 0)) }, ['tiers[0].rule: a rule may hold at most 100 conditions (found 101)']],
    [
      'every problem, not just the first',
      { all: [cond('nope', 'eq', 1), cond('order_count', 'gt', 'x'), { not: 5 }] },
      ["tiers[0].rule.all[0].field: unknown field 'nope'", 'tiers[0].rule.all[1].value: expected a number', 'tiers[0].rule.all[2].not: a rule must be an object'],
    ],
  ])('rejects %s', (_name, input, expected) => {
    const result = parseRule(input, { path: 'tiers[0].rule', forbiddenFields: ['tier', 'segment'] });
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);
    expect(errors).toHaveLength(expected.length);
    expected.forEach((prefix, i) => expect(errors[i]).toContain(prefix));
  });

  it('formats paths without a prefix', () => {
    const result = parseRule({ all: [cond('x', 'eq', 1)] });
    expect(result.ok ? [] : result.errors.map((e) => e.path)).toEqual(['all[0].field']);
  });
});

const NOW = day(100);
const base = computeMetrics([order(40, '120.50', { channel: 'app', items: [{ category: 'shoes', unit_price: '1' }] }), order(90, '30')], { region: 'EU' }, NOW);
const RECORD: RuleRecord = {
  ...base,
  r_score: 4,
  f_score: 2,
  m_score: 5,
  value_score: 58,
  rfm_segment: 'potential_loyalists',
  abc_class: 'A',
  tier: 'gold',
  lifecycle_stage: 'active',
  at_risk: false,
  segments: ['vip', 'newsletter'],
  predictions: { p_alive: 0.8, expected_orders_90d: null, clv_12m: '310.1' },
  traits: { region: 'EU', age: 31, vip: true, name: 'Ada', tags: ['b2b', 'early'], signup_at: '2023-01-01' },
};

describe('evaluateRule', () => {
  it.each<[string, Rule, boolean]>([
    ['number eq', { field: 'order_count', op: 'eq', value: 2 }, true],
    ['number gt at the boundary', { field: 'order_count', op: 'gt', value: 2 }, false],
    ['number gte at the boundary', { field: 'order_count', op: 'gte', value: 2 }, true],
    ['number between inclusive', { field: 'recency_days', op: 'between', value: [10, 10] }, true],
    ['decimal exact compare', { field: 'net_revenue', op: 'eq', value: '150.500' }, true],
    ['decimal gt', { field: 'net_revenue', op: 'gt', value: 150.49 }, true],
    ['decimal lt', { field: 'net_revenue', op: 'lt', value: '150.5' }, false],
    ['timestamp gte same instant in another offset', { field: 'last_order_at', op: 'gte', value: '2024-03-31T02:00:00+02:00' }, true],
    ['timestamp lt at the same instant', { field: 'first_order_at', op: 'lt', value: '2024-02-10T00:00:00Z' }, false],
    ['timestamp lte at the same instant', { field: 'first_order_at', op: 'lte', value: '2024-02-10T00:00:00.000z' }, true],
    ['enum in', { field: 'rfm_segment', op: 'in', value: ['loyal', 'potential_loyalists'] }, true],
    ['enum nin', { field: 'abc_class', op: 'nin', value: ['B', 'C'] }, true],
    ['string neq', { field: 'preferred_channel', op: 'neq', value: 'store' }, true],
    ['boolean eq', { field: 'at_risk', op: 'eq', value: false }, true],
    ['array contains', { field: 'top_categories', op: 'contains', value: 'shoes' }, true],
    ['array contains (miss)', { field: 'top_categories', op: 'contains', value: 'hats' }, false],
    ['segment eq', { field: 'segment', op: 'eq', value: 'vip' }, true],
    ['segment neq', { field: 'segment', op: 'neq', value: 'vip' }, false],
    ['segment in', { field: 'segment', op: 'in', value: ['x', 'newsletter'] }, true],
    ['segment nin', { field: 'segment', op: 'nin', value: ['x', 'y'] }, true],
    ['predictions number', { field: 'predictions.p_alive', op: 'gt', value: 0.5 }, true],
    ['predictions decimal', { field: 'predictions.clv_12m', op: 'gte', value: '310.10' }, true],
    ['trait number', { field: 'traits.age', op: 'between', value: [30, 40] }, true],
    ['trait string lexical', { field: 'traits.name', op: 'lt', value: 'Bob' }, true],
    ['trait boolean', { field: 'traits.vip', op: 'eq', value: true }, true],
    ['trait type mismatch is not equal', { field: 'traits.age', op: 'eq', value: '31' }, false],
    ['trait type mismatch is neq', { field: 'traits.age', op: 'neq', value: '31' }, true],
    ['trait number vs string order is false', { field: 'traits.age', op: 'gt', value: 'A' }, false],
    ['trait array contains', { field: 'traits.tags', op: 'contains', value: 'b2b' }, true],
    ['trait from the prototype does not exist', { field: 'traits.constructor', op: 'exists' }, false],
    ['null: exists', { field: 'cadence_days', op: 'exists' }, true],
    ['null: exists false', { field: 'predictions.expected_orders_90d', op: 'exists', value: false }, true],
    ['null: eq is false', { field: 'predictions.expected_orders_90d', op: 'eq', value: 1 }, false],
    ['null: lt is false', { field: 'satisfaction_avg', op: 'lt', value: 5 }, false],
    ['null: gte is false', { field: 'satisfaction_avg', op: 'gte', value: 0 }, false],
    ['null: neq is true', { field: 'satisfaction_avg', op: 'neq', value: 3 }, true],
    ['null: nin is true', { field: 'traits.missing', op: 'nin', value: [1] }, true],
    ['null: between is false', { field: 'satisfaction_avg', op: 'between', value: [0, 5] }, false],
    ['not of a null comparison', { not: { field: 'satisfaction_avg', op: 'lt', value: 5 } }, true],
    ['all', { all: [{ field: 'tier', op: 'eq', value: 'gold' }, { field: 'region', op: 'eq', value: 'EU' }] }, true],
    ['all with one false', { all: [{ field: 'tier', op: 'eq', value: 'gold' }, { field: 'at_risk', op: 'eq', value: true }] }, false],
    ['any', { any: [{ field: 'tier', op: 'eq', value: 'x' }, { field: 'lifecycle_stage', op: 'eq', value: 'active' }] }, true],
    ['unknown field never matches', { field: 'nope', op: 'exists' }, false],
  ])('%s → %s', (_name, rule, expected) => {
    expect(parseRule(rule).ok || _name.startsWith('unknown')).toBe(true);
    expect(evaluateRule(rule, RECORD)).toBe(expected);
  });
});

describe('referencedSegments', () => {
  it('collects segment keys anywhere in the rule', () => {
    const rule: Rule = { any: [{ field: 'segment', op: 'eq', value: 'a' }, { not: { field: 'segment', op: 'nin', value: ['b', 'a'] } }, { field: 'tier', op: 'eq', value: 'a' }] };
    expect(referencedSegments(rule)).toEqual(['a', 'b']);
  });
});
