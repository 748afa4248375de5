// Gamma-Gamma spend model (Fader & Hardie 2013, note 025): a customer's repeat transactions have
// values Gamma(p, ν) around their own mean, with ν Gamma(q, v) across customers. Fitted on the
// customers with at least one repeat purchase: x repeat transactions with mean value m (zbar).
import type { FitOutcome } from './bgnbd.ts';
import { lnGamma } from './model.special.ts';
import { minimize } from './optimize.nelder-mead.ts';

export interface GammaGammaParams {
  p: number;
  q: number;
  v: number;
}

/** `weight` customers with x repeat transactions of mean value m (x > 0, m > 0) */
export interface SpendRow {
  x: number;
  m: number;
  weight: number;
}

// Per x, the sums that make most of the likelihood linear in the parameters; only
// ln(x·m + v) has to be evaluated per row.
interface SpendGroup {
  x: number;
  weight: number;
  sumLnM: number;
  xm: Float64Array;
  weights: Float64Array;
}

function groupByX(rows: readonly SpendRow[]): SpendGroup[] {
  const groups = new Map<number, SpendRow[]>();
  for (const row of rows) {
    const list = groups.get(row.x);
    if (list) list.push(row);
    else groups.set(row.x, [row]);
  }
  return [...groups].map(([x, list]) => ({
    x,
    weight: list.reduce((s, r) => s + r.weight, 0),
    sumLnM: list.reduce((s, r) => s + r.weight * Math.log(r.m), 0),
    xm: Float64Array.from(list, (r) => x * r.m),
    weights: Float64Array.from(list, (r) => r.weight),
  }));
}

/**
 * Σ ln L = Σ lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(x m + v)
 */
function groupedLogLikelihood({ p, q, v }: GammaGammaParams, groups: readonly SpendGroup[]): number {
  let total = 0;
  const lnV = Math.log(v);
  const lnGq = lnGamma(q);
  for (const g of groups) {
    const px = p * g.x;
    total += g.weight * (lnGamma(px + q) - lnGamma(px) - lnGq + q * lnV + px * Math.log(g.x)) + (px - 1) * g.sumLnM;
    let tail = 0;
    for (let i = 0; i < g.xm.length; i++) tail += g.weights[i]! * Math.log(g.xm[i]! + v);
    total -= (px + q) * tail;
  }
  return total;
}

export function gammaGammaLogLikelihood(params: GammaGammaParams, rows: readonly SpendRow[]): number {
  return groupedLogLikelihood(params, groupByX(rows));
}

export function fitGammaGamma(rows: readonly SpendRow[]): FitOutcome<GammaGammaParams> {
  const groups = groupByX(rows.filter((r) => r.x > 0 && r.m > 0));
  const n = groups.reduce((s, g) => s + g.weight, 0);
  const toParams = ([p, q, v]: number[]) => ({ p: Math.exp(p!), q: Math.exp(q!), v: Math.exp(v!) });
  const result = minimize((x) => -groupedLogLikelihood(toParams(x), groups) / n, [0, 0, 0]);
  const params = toParams(result.x);
  return { params, log_likelihood: groupedLogLikelihood(params, groups), iterations: result.iterations, converged: result.converged };
}

/**
 * E[M | x, m]: a weighted mean of the population mean v·p/(q−1) and the customer's own mean m, the
 * weight p·x/(p·x + q − 1) growing with the evidence. With no repeat purchase it is the population
 * mean. Needs q > 1 (the fit refuses anything else).
 */
export function expectedAverageSpend({ p, q, v }: GammaGammaParams, x: number, m: number): number {
  const own = x > 0 ? (p * x) / (p * x + q - 1) : 0;
  return (1 - own) * ((v * p) / (q - 1)) + own * (x > 0 ? m : 0);
}
