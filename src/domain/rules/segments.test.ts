import { describe, expect, it } from 'vitest';
import { orderSegments, segmentMembership, type SegmentDefinition } from './segments.ts';
import type { Rule, RuleRecord } from './rules.ts';

const seg = (key: string, rule: Rule): SegmentDefinition => ({ key, rule });
const inSeg = (key: string): Rule => ({ field: 'segment', op: 'eq', value: key });
const record = (over: Partial<RuleRecord>) => ({ order_count: 0, net_revenue: '0', segments: [], traits: {}, ...over }) as unknown as RuleRecord;

describe('orderSegments', () => {
  it.each([
    ['independent segments', [seg('b', { field: 'order_count', op: 'gt', value: 1 }), seg('a', { field: 'order_count', op: 'gt', value: 2 })], ['a', 'b']],
    ['a chain, declared backwards', [seg('top', inSeg('mid')), seg('mid', inSeg('base')), seg('base', { field: 'order_count', op: 'gte', value: 1 })], ['base', 'mid', 'top']],
    ['a diamond', [seg('d', { all: [inSeg('b'), inSeg('c')] }), seg('b', inSeg('a')), seg('c', inSeg('a')), seg('a', { field: 'order_count', op: 'gte', value: 1 })], ['a', 'b', 'c', 'd']],
  ])('orders %s', (_name, segments, keys) => {
    const result = orderSegments(segments);
    expect(result.ok && result.order.map((s) => s.key)).toEqual(keys);
  });

  it.each([
    ['a self-reference', [seg('a', inSeg('a'))], /cycle: a → a/],
    ['a two-step cycle', [seg('a', inSeg('b')), seg('b', { not: inSeg('a') })], /cycle: a → b → a/],
    ['an unknown segment', [seg('a', { any: [inSeg('ghost')] })], /unknown segment "ghost"/],
  ])('refuses %s', (_name, segments, message) => {
    const result = orderSegments(segments);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

describe('segmentMembership', () => {
  const ordered = orderSegments([
    seg('buyers', { field: 'order_count', op: 'gte', value: 1 }),
    seg('big', { all: [inSeg('buyers'), { field: 'net_revenue', op: 'gte', value: 100 }] }),
    seg('small_buyers', { all: [inSeg('buyers'), { not: inSeg('big') }] }),
  ]);
  if (!ordered.ok) throw new Error('setup');
  it.each([
    ['a prospect', record({}), []],
    ['a small buyer', record({ order_count: 2, net_revenue: '99.99' }), ['buyers', 'small_buyers']],
    ['exactly at the threshold', record({ order_count: 1, net_revenue: '100' }), ['big', 'buyers']],
  ])('%s', (_name, r, keys) => {
    expect(segmentMembership(ordered.order, r)).toEqual(keys);
  });
});
