import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEFAULT_AT_RISK, DEFAULT_LIFECYCLE } from '../lifecycle/lifecycle.ts';
import { computeMetrics } from '../facts/metrics.ts';
import {
  applyDowngradeGrace,
  DEFAULT_POLICY,
  parsePolicy,
  qualifyingTier,
  tierDirection,
  tierPolicySchema,
  type DowngradeGraceInput,
  type TierPolicy,
} from './policy.ts';
import type { RuleRecord } from '../rules/rules.ts';
import { day } from '../../../test/fixtures/events.fixtures.ts';

const fallback = { key: 'rest', name: 'Everyone else', rule: null };

describe('parsePolicy', () => {
  it('DEFAULT_POLICY is the rfm-value preset with every default', () => {
    expect(DEFAULT_POLICY.tiers.map((t) => [t.key, t.rule])).toEqual([
      ['high', { field: 'value_score', op: 'gte', value: 70 }],
      ['medium', { field: 'value_score', op: 'gte', value: 40 }],
      ['low', null],
    ]);
    expect(DEFAULT_POLICY).toMatchObject({ weights: { r: 1, f: 1, m: 1 }, downgrade_grace_days: 0, lifecycle: DEFAULT_LIFECYCLE, at_risk: DEFAULT_AT_RISK });
    expect(DEFAULT_POLICY.tiers.every((t) => t.playbook && t.playbook.actions.length > 0)).toBe(true);
  });

  it.each<[string, unknown, (p: TierPolicy) => unknown, unknown]>([
    ['pareto-abc', { preset: 'pareto-abc' }, (p) => p.tiers.map((t) => t.key), ['A', 'B', 'C']],
    ['frequency', { preset: 'frequency' }, (p) => p.tiers[0]?.rule, { field: 'orders_365d', op: 'gte', value: 12 }],
    ['a preset with partial weights and grace', { preset: 'rfm-value', weights: { m: 2 }, downgrade_grace_days: 14 }, (p) => [p.weights, p.downgrade_grace_days], [{ r: 1, f: 1, m: 2 }, 14]],
    ['a preset with partial lifecycle', { preset: 'frequency', lifecycle: { lapsed_after_days: 180 } }, (p) => p.lifecycle, { ...DEFAULT_LIFECYCLE, lapsed_after_days: 180 }],
    ['a minimal document', { tiers: [fallback] }, (p) => p, { tiers: [{ ...fallback, playbook: null }], weights: { r: 1, f: 1, m: 1 }, downgrade_grace_days: 0, lifecycle: DEFAULT_LIFECYCLE, at_risk: DEFAULT_AT_RISK }],
    ['a document rule', { tiers: [{ key: 'vip', name: 'VIP', rule: { field: 'traits.vip', op: 'eq', value: true } }, fallback] }, (p) => p.tiers[0]?.rule, { field: 'traits.vip', op: 'eq', value: true }],
  ])('accepts %s', (_name, input, pick, expected) => {
    const result = parsePolicy(input);
    expect(result.ok).toBe(true);
    if (result.ok) expect(pick(result.policy)).toEqual(expected);
  });

  it('hands out copies of the presets', () => {
    const a = parsePolicy({ preset: 'rfm-value' });
    if (a.ok) a.policy.tiers[0]!.name = 'changed';
    expect(DEFAULT_POLICY.tiers[0]?.name).toBe('High value');
    const b = parsePolicy({ preset: 'rfm-value' });
    expect(b.ok && b.policy.tiers[0]?.name).toBe('High value');
  });

  const gold = (rule: unknown) => ({ key: 'gold', name: 'Gold', rule });
  it.each<[string, unknown, [string, string][]]>([
    ['an unknown preset', { preset: 'gold' }, [['preset', 'Invalid option']]],
    ['a preset mixed with tiers', { preset: 'rfm-value', tiers: [] }, [['tiers', "unknown key 'tiers'"]]],
    ['no tiers', { tiers: [] }, [['tiers', 'Too small']]],
    ['a duplicate key', { tiers: [gold({ field: 'order_count', op: 'gt', value: 1 }), { ...fallback, key: 'gold' }] }, [['tiers[1].key', "duplicate tier key 'gold'"]]],
    ['a bad key', { tiers: [{ ...fallback, key: 'Gold Tier' }] }, [['tiers[0].key', 'key must be 1-64 characters']]],
    ['a last tier with a rule', { tiers: [gold({ field: 'order_count', op: 'gt', value: 1 })] }, [['tiers[0].rule', 'the last tier must have rule: null']]],
    ['a null rule before the last tier', { tiers: [gold(null), fallback] }, [['tiers[0].rule', 'only the last tier may have rule: null']]],
    ['rule errors with their paths', { tiers: [gold({ all: [{ field: 'order_count', op: 'gt', value: 1 }, { field: 'colour', op: 'eq', value: 'red' }] }), fallback] }, [['tiers[0].rule.all[1].field', "unknown field 'colour'"]]],
    ['a tier rule on tier or segment', { tiers: [gold({ any: [{ field: 'tier', op: 'eq', value: 'x' }, { field: 'segment', op: 'eq', value: 'x' }] }), fallback] }, [['tiers[0].rule.any[0].field', "field 'tier' is not allowed"], ['tiers[0].rule.any[1].field', "field 'segment' is not allowed"]]],
    ['all-zero weights', { preset: 'rfm-value', weights: { r: 0, f: 0, m: 0 } }, [['weights', 'weights must not all be 0']]],
    ['a negative weight', { preset: 'rfm-value', weights: { r: -1 } }, [['weights.r', 'Too small']]],
    ['an unknown lifecycle key', { preset: 'rfm-value', lifecycle: { lapsed_days: 3 } }, [['lifecycle.lapsed_days', "unknown key 'lapsed_days'"]]],
    ['a negative grace', { tiers: [fallback], downgrade_grace_days: -1 }, [['downgrade_grace_days', 'Too small']]],
    ['a fractional complaint threshold', { preset: 'rfm-value', at_risk: { complaints_90d_threshold: 1.5 } }, [['at_risk.complaints_90d_threshold', 'expected int']]],
    ['not an object', 'rfm-value', [['', 'expected object']]],
  ])('rejects %s', (_name, input, expected) => {
    const result = parsePolicy(input);
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.errors;
    expect(errors).toHaveLength(expected.length);
    expected.forEach(([path, message], i) => {
      expect(errors[i]?.path).toBe(path);
      expect(errors[i]?.message).toContain(message);
    });
  });

  it('tierPolicySchema can be turned into JSON Schema for OpenAPI', () => {
    expect(() => z.toJSONSchema(tierPolicySchema, { io: 'input' })).not.toThrow();
    expect(() => z.toJSONSchema(tierPolicySchema, { io: 'output' })).not.toThrow();
  });
});

describe('qualifyingTier', () => {
  const record = (over: Partial<RuleRecord>): RuleRecord => ({
    ...computeMetrics([], {}, day(0)),
    order_count: 3,
    r_score: null, f_score: null, m_score: null, value_score: null,
    rfm_segment: null, abc_class: null, tier: null, lifecycle_stage: 'active', at_risk: false,
    segments: [], predictions: null, traits: {},
    ...over,
  });
  it.each<[Partial<RuleRecord>, string | null]>([
    [{ order_count: 0, value_score: 100 }, null],
    [{ value_score: 100 }, 'high'],
    [{ value_score: 70 }, 'high'],
    [{ value_score: 69 }, 'medium'],
    [{ value_score: 40 }, 'medium'],
    [{ value_score: 39 }, 'low'],
    [{ value_score: null }, 'low'],
  ])('%o → %s', (over, expected) => {
    expect(qualifyingTier(DEFAULT_POLICY, record(over))).toBe(expected);
  });
});

describe('applyDowngradeGrace', () => {
  const TIERS = ['high', 'medium', 'low'];
  const base: DowngradeGraceInput = { previousTier: 'high', pendingTier: null, pendingSince: null, qualifiedTier: 'high', tiers: TIERS, graceDays: 10, now: day(20) };
  it.each<[string, Partial<DowngradeGraceInput>, { tier: string | null; pendingTier: string | null; pendingSince: Date | null; graceEndsAt: Date | null; graceEndedAt: Date | null }]>([
    ['first assignment is immediate', { previousTier: null, qualifiedTier: 'low' }, { tier: 'low', pendingTier: null, pendingSince: null, graceEndsAt: null, graceEndedAt: null }],
    ['an upgrade is immediate and clears a pending downgrade', { previousTier: 'medium', pendingTier: 'low', pendingSince: day(15), qualifiedTier: 'high' }, { tier: 'high', pendingTier: null, pendingSince: null, graceEndsAt: null, graceEndedAt: null }],
    ['requalifying for the current tier clears the pending state', { pendingTier: 'medium', pendingSince: day(15) }, { tier: 'high', pendingTier: null, pendingSince: null, graceEndsAt: null, graceEndedAt: null }],
    ['a downgrade starts a grace period', { qualifiedTier: 'medium' }, { tier: 'high', pendingTier: 'medium', pendingSince: day(20), graceEndsAt: day(30), graceEndedAt: null }],
    ['a due review starts the grace when it became true', { qualifiedTier: 'medium', qualifiedSince: day(19) }, { tier: 'high', pendingTier: 'medium', pendingSince: day(19), graceEndsAt: day(29), graceEndedAt: null }],
    ['a different lower tier keeps pendingSince', { qualifiedTier: 'low', pendingTier: 'medium', pendingSince: day(12) }, { tier: 'high', pendingTier: 'low', pendingSince: day(12), graceEndsAt: day(22), graceEndedAt: null }],
    ['1 ms before the grace ends', { qualifiedTier: 'medium', pendingTier: 'medium', pendingSince: day(10), now: new Date(day(20).getTime() - 1) }, { tier: 'high', pendingTier: 'medium', pendingSince: day(10), graceEndsAt: day(20), graceEndedAt: null }],
    ['exactly when the grace ends', { qualifiedTier: 'medium', pendingTier: 'medium', pendingSince: day(10) }, { tier: 'medium', pendingTier: null, pendingSince: null, graceEndsAt: null, graceEndedAt: day(20) }],
    ['no grace: downgrades are immediate', { qualifiedTier: 'low', graceDays: 0 }, { tier: 'low', pendingTier: null, pendingSince: null, graceEndsAt: null, graceEndedAt: null }],
    ['becoming a prospect is immediate', { qualifiedTier: null, pendingTier: 'low', pendingSince: day(19) }, { tier: null, pendingTier: null, pendingSince: null, graceEndsAt: null, graceEndedAt: null }],
    ['a tier removed from the policy is replaced at once', { previousTier: 'platinum', qualifiedTier: 'low' }, { tier: 'low', pendingTier: null, pendingSince: null, graceEndsAt: null, graceEndedAt: null }],
  ])('%s', (_name, over, expected) => {
    expect(applyDowngradeGrace({ ...base, ...over })).toEqual(expected);
  });
});

describe('tierDirection', () => {
  it.each([
    [null, 'low', 'initial'],
    ['low', 'high', 'up'],
    ['high', 'low', 'down'],
    ['low', null, 'down'],
    ['gone', 'low', 'up'],
    ['low', 'low', null],
  ] as const)('%s → %s is %s', (before, after, expected) => {
    expect(tierDirection(before, after, ['high', 'medium', 'low'])).toBe(expected);
  });
});
