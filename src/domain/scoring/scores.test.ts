import { describe, expect, it } from 'vitest';
import { computeMetrics, type Metrics } from '../facts/metrics.ts';
import { abcClass, abcCutoffs, rfmSegment, RFM_SEGMENTS, scoreRfm, valueScore, type Breakpoints } from './scores.ts';

const BP: Breakpoints = {
  recency_days: [10, 30, 60, 120],
  order_count: [1, 2, 4, 8],
  net_revenue: [50, 100, 250.5, 1000],
};

const metrics = (over: Partial<Metrics>): Metrics => ({
  ...computeMetrics([], {}, new Date(0)),
  order_count: 1,
  recency_days: 1,
  net_revenue: '1',
  ...over,
});

describe('scoreRfm', () => {
  it('is null for prospects', () => {
    expect(scoreRfm(metrics({ order_count: 0, recency_days: null, net_revenue: '0' }), BP)).toBeNull();
  });

  it.each([
    [0, 5],
    [10, 5], // exactly at p20: not greater, keeps 5
    [10.000001, 4],
    [30, 4],
    [60.5, 2],
    [120, 2],
    [500, 1],
  ])('recency %s days → R%s', (recency, r) => {
    expect(scoreRfm(metrics({ recency_days: recency }), BP)?.r).toBe(r);
  });

  it.each([
    [1, 1],
    [2, 2],
    [3, 3],
    [4, 3],
    [5, 4],
    [8, 4],
    [9, 5],
  ])('%s orders → F%s', (orders, f) => {
    expect(scoreRfm(metrics({ order_count: orders }), BP)?.f).toBe(f);
  });

  it.each([
    ['0.01', 1],
    ['50', 1],
    ['50.0001', 2],
    ['250.5', 3],
    ['250.50001', 4],
    ['1000', 4],
    ['99999999999999999999.99', 5],
  ])('net revenue %s → M%s (exact decimal comparison)', (revenue, m) => {
    expect(scoreRfm(metrics({ net_revenue: revenue }), BP)?.m).toBe(m);
  });
});

describe('valueScore', () => {
  const ones = { r: 1, f: 1, m: 1 };
  it.each([
    [1, 1, 1, ones, 0],
    [5, 5, 5, ones, 100],
    [5, 1, 1, ones, 33],
    [3, 3, 3, ones, 50],
    [4, 4, 3, ones, 67], // 66.67
    [2, 1, 1, { r: 1, f: 0, m: 1 }, 13], // 12.5, exact half rounds up
    [4, 3, 3, { r: 0.1, f: 0.2, m: 0.7 }, 53], // 52.5 in exact decimal
    [5, 5, 1, { r: 0, f: 0, m: 1 }, 0],
    [5, 5, 5, { r: 0, f: 0, m: 0 }, 0],
  ])('R%s F%s M%s with %o → %s', (r, f, m, weights, expected) => {
    expect(valueScore(r, f, m, weights)).toBe(expected);
  });
});

describe('rfmSegment', () => {
  it.each([
    [5, 1, 'new'], [5, 2, 'potential_loyalists'], [5, 3, 'potential_loyalists'], [5, 4, 'champions'], [5, 5, 'champions'],
    [4, 1, 'promising'], [4, 2, 'potential_loyalists'], [4, 3, 'potential_loyalists'], [4, 4, 'loyal'], [4, 5, 'loyal'],
    [3, 1, 'about_to_sleep'], [3, 2, 'about_to_sleep'], [3, 3, 'need_attention'], [3, 4, 'loyal'], [3, 5, 'loyal'],
    [2, 1, 'hibernating'], [2, 2, 'hibernating'], [2, 3, 'at_risk'], [2, 4, 'at_risk'], [2, 5, 'cant_lose'],
    [1, 1, 'hibernating'], [1, 2, 'hibernating'], [1, 3, 'at_risk'], [1, 4, 'at_risk'], [1, 5, 'cant_lose'],
  ] as const)('R%s F%s → %s', (r, f, segment) => {
    expect(rfmSegment(r, f)).toBe(segment);
    expect(RFM_SEGMENTS).toContain(segment);
  });
});

describe('abcCutoffs and abcClass', () => {
  it.each<[string, string[], { a_min: string | null; b_min: string | null }, Record<string, string>]>([
    ['no buyers', [], { a_min: null, b_min: null }, { '5': 'A' }],
    ['one buyer is always A', ['10'], { a_min: '10', b_min: null }, { '10': 'A', '1': 'C' }],
    ['the first buyer is A even above 80%; B can be empty', ['90', '6', '4'], { a_min: '90', b_min: null }, { '90': 'A', '6': 'C', '4': 'C' }],
    ['a B buyer tied with a C buyer lifts it to B', ['90', '5', '5'], { a_min: '90', b_min: '5' }, { '5': 'B', '4.9999': 'C' }],
    ['exactly 80% and 95% are inclusive', ['50', '30', '15', '5'], { a_min: '30', b_min: '15' }, { '30': 'A', '15': 'B', '5': 'C', '29.99': 'B' }],
    ['input order does not matter', ['5', '15', '50', '30'], { a_min: '30', b_min: '15' }, { '50': 'A' }],
    ['ties at a boundary go to the better class', ['50', '30', '10', '10'], { a_min: '30', b_min: '10' }, { '10': 'B', '9.99': 'C' }],
    ['equal revenues all share class A', ['10', '10', '10', '10', '10'], { a_min: '10', b_min: null }, { '10': 'A' }],
  ])('%s', (_name, revenues, cutoffs, classes) => {
    expect(abcCutoffs(revenues)).toEqual(cutoffs);
    for (const [revenue, expected] of Object.entries(classes)) expect(abcClass(revenue, cutoffs)).toBe(expected);
  });
});
