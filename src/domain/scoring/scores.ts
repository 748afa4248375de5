import { Decimal } from 'decimal.js';
import type { Metrics } from '../facts/metrics.ts';
import { compareMoney, money, moneyString, sumMoney, ZERO } from '../money.ts';

type Quartet = [number, number, number, number];

/** population p20, p40, p60, p80 of each metric over buyers */
export interface Breakpoints {
  recency_days: Quartet;
  order_count: Quartet;
  net_revenue: Quartet;
}

export interface RfmScores {
  r: number;
  f: number;
  m: number;
}

export interface ValueWeights {
  r: number;
  f: number;
  m: number;
}

export const RFM_SEGMENTS = [
  'champions',
  'loyal',
  'potential_loyalists',
  'new',
  'promising',
  'need_attention',
  'about_to_sleep',
  'at_risk',
  'cant_lose',
  'hibernating',
] as const;
export type RfmSegment = (typeof RFM_SEGMENTS)[number];

export const ABC_CLASSES = ['A', 'B', 'C'] as const;
export type AbcClass = (typeof ABC_CLASSES)[number];

export interface AbcCutoffs {
  a_min: string | null;
  b_min: string | null;
}

// Prospects (no counted order) have no scores at all.
export function scoreRfm(metrics: Metrics, bp: Breakpoints): RfmScores | null {
  if (metrics.order_count === 0 || metrics.recency_days === null) return null;
  const recency = metrics.recency_days;
  let r = 5;
  let f = 1;
  let m = 1;
  for (const p of bp.recency_days) if (recency > p) r--;
  for (const p of bp.order_count) if (metrics.order_count > p) f++;
  for (const p of revenueBreakpoints(bp)) if (compareMoney(metrics.net_revenue, p) > 0) m++;
  return { r, f, m };
}

/** The revenue breakpoints as the decimal strings a Decimal would be made from, once per breakpoints object (never changed once read). */
function revenueBreakpoints(bp: Breakpoints): readonly string[] {
  let texts = revenueTexts.get(bp);
  if (!texts) revenueTexts.set(bp, (texts = bp.net_revenue.map((p) => String(p))));
  return texts;
}

const revenueTexts = new WeakMap<Breakpoints, string[]>();

// Computed in exact decimal so fractional weights cannot turn 70 into 69.999…; exact halves
// round up (Math.round semantics: the score is never negative, so half-up is the same thing).
// Scores are whole numbers 1 to 5, so a policy's weights give at most 125 value scores: each is
// computed once per weights object and then looked up.
export function valueScore(r: number, f: number, m: number, weights: ValueWeights): number {
  if (!isScore(r) || !isScore(f) || !isScore(m)) return exactValueScore(r, f, m, weights);
  let known = valueScores.get(weights);
  if (!known) valueScores.set(weights, (known = new Map()));
  const key = r * 100 + f * 10 + m;
  let score = known.get(key);
  if (score === undefined) known.set(key, (score = exactValueScore(r, f, m, weights)));
  return score;
}

function isScore(s: number): boolean {
  return Number.isInteger(s) && s >= 1 && s <= 5;
}

/** Value scores already computed, per weights object (a policy's weights are never changed once parsed). */
const valueScores = new WeakMap<ValueWeights, Map<number, number>>();

function exactValueScore(r: number, f: number, m: number, weights: ValueWeights): number {
  const w = { r: money(weights.r), f: money(weights.f), m: money(weights.m) };
  const total = w.r.plus(w.f).plus(w.m);
  if (total.lte(0)) return 0;
  const weighted = w.r.times(r - 1).plus(w.f.times(f - 1)).plus(w.m.times(m - 1));
  return weighted.times(100).div(total.times(4)).toDecimalPlaces(0, Decimal.ROUND_HALF_UP).toNumber();
}

// Rows are R 5..1, columns F 1..5, exactly the grid of docs/architecture.md, Population statistics and scores.
const GRID: readonly (readonly RfmSegment[])[] = [
  ['new', 'potential_loyalists', 'potential_loyalists', 'champions', 'champions'],
  ['promising', 'potential_loyalists', 'potential_loyalists', 'loyal', 'loyal'],
  ['about_to_sleep', 'about_to_sleep', 'need_attention', 'loyal', 'loyal'],
  ['hibernating', 'hibernating', 'at_risk', 'at_risk', 'cant_lose'],
  ['hibernating', 'hibernating', 'at_risk', 'at_risk', 'cant_lose'],
];

export function rfmSegment(r: number, f: number): RfmSegment {
  const segment = GRID[5 - clampScore(r)]?.[clampScore(f) - 1];
  if (!segment) throw new Error(`no RFM segment for R${r} F${f}`);
  return segment;
}

function clampScore(score: number): number {
  return Math.min(5, Math.max(1, Math.trunc(score)));
}

// The definition of the ABC classes; the DB computes the same cut-offs in SQL. Buyers sorted by
// net revenue descending are A while the cumulative share is ≤ 80% (the first buyer always is),
// then B while ≤ 95%, then C. Expressed as the smallest revenue in A and in B, so that classing a
// customer is a comparison and tied revenues always share a class (ties at a boundary go to the
// better class).
export function abcCutoffs(netRevenuesDescending: string[]): AbcCutoffs {
  const revenues = netRevenuesDescending.map((v) => money(v)).sort((a, b) => b.cmp(a));
  const total = sumMoney(revenues);
  let cumulative = ZERO;
  let aMin: Decimal | null = null;
  let bMin: Decimal | null = null;
  for (const [index, revenue] of revenues.entries()) {
    cumulative = cumulative.plus(revenue);
    // cumulative / total ≤ share, without dividing (a zero total puts everyone in A)
    const within = (share: number) => cumulative.lte(total.times(share));
    if (index === 0 || (bMin === null && within(0.8))) aMin = revenue;
    else if (within(0.95)) bMin = revenue;
  }
  return {
    a_min: aMin === null ? null : moneyString(aMin),
    b_min: bMin === null ? null : moneyString(bMin),
  };
}

// Without any cut-off there were no buyers in the statistics, so this one would be the first: A.
export function abcClass(netRevenue: string, cutoffs: AbcCutoffs): AbcClass {
  if (cutoffs.a_min === null || compareMoney(netRevenue, cutoffs.a_min) >= 0) return 'A';
  if (cutoffs.b_min !== null && compareMoney(netRevenue, cutoffs.b_min) >= 0) return 'B';
  return 'C';
}
