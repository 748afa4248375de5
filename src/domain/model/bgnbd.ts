// BG/NBD (Fader, Hardie & Lee 2005): purchases while alive follow a Poisson process whose rate is
// Gamma(r, α) across customers; after each purchase the customer drops out with a probability that
// is Beta(a, b) across customers. Per customer: x repeat purchases, the last at t_x, observed for T
// (all in weeks since the first purchase). Formulas follow lifetimes' BetaGeoFitter.
import { minimize } from './optimize.nelder-mead.ts';
import { expit, lnGamma, lnHyp2f1 } from './model.special.ts';

export interface BgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

/** one customer, or `weight` customers with the same (x, t_x, T) */
export interface RfmRow {
  x: number;
  t_x: number;
  T: number;
  weight: number;
}

/**
 * Per-row log-likelihood in the numerically stable log-sum-exp form (lifetimes; Hardie note 027):
 * ln L = A1 + A2 + ln(e^A3 + [x > 0] e^A4), computed around max(A3, A4) so neither exponent overflows.
 */
export function bgnbdRowLogLikelihood(p: BgNbdParams, x: number, t_x: number, T: number, ln = lnTermsFor(p, x)): number {
  const a3 = -(p.r + x) * Math.log(p.alpha + T);
  if (x === 0) return ln + a3;
  const a4 = Math.log(p.a) - Math.log(p.b + x - 1) - (p.r + x) * Math.log(p.alpha + t_x);
  const top = Math.max(a3, a4);
  return ln + top + Math.log(Math.exp(a3 - top) + Math.exp(a4 - top));
}

/** A1 + A2: the part that depends on x only, computed once per distinct x */
function lnTermsFor(p: BgNbdParams, x: number): number {
  const a1 = lnGamma(p.r + x) - lnGamma(p.r) + p.r * Math.log(p.alpha);
  const a2 = lnGamma(p.a + p.b) + lnGamma(p.b + x) - lnGamma(p.b) - lnGamma(p.a + p.b + x);
  return a1 + a2;
}

/**
 * The rows as typed arrays of indices into their distinct x, t_x and T values, so one likelihood
 * evaluation costs a few lnΓ and logs per distinct value and one exp + log1p per row.
 */
interface PreparedRows {
  xs: Float64Array;
  txs: Float64Array;
  Ts: Float64Array;
  xIndex: Uint32Array;
  txIndex: Uint32Array;
  TIndex: Uint32Array;
  weight: Float64Array;
}

function prepare(rows: readonly RfmRow[]): PreparedRows {
  const distinct = (values: number[]) => {
    const list = [...new Set(values)];
    const index = new Map(list.map((v, i) => [v, i]));
    return { values: Float64Array.from(list), indexOf: (v: number) => index.get(v)! };
  };
  const x = distinct(rows.map((r) => r.x));
  const tx = distinct(rows.map((r) => r.t_x));
  const T = distinct(rows.map((r) => r.T));
  return {
    xs: x.values,
    txs: tx.values,
    Ts: T.values,
    xIndex: Uint32Array.from(rows, (r) => x.indexOf(r.x)),
    txIndex: Uint32Array.from(rows, (r) => tx.indexOf(r.t_x)),
    TIndex: Uint32Array.from(rows, (r) => T.indexOf(r.T)),
    weight: Float64Array.from(rows, (r) => r.weight),
  };
}

// Same terms as bgnbdRowLogLikelihood, with ln(e^A3 + e^A4) = max + log1p(e^−|A3 − A4|).
function preparedLogLikelihood(p: BgNbdParams, d: PreparedRows): number {
  const lnAlphaT = d.Ts.map((T) => Math.log(p.alpha + T));
  const lnAlphaTx = d.txs.map((t) => Math.log(p.alpha + t));
  const common = d.xs.map((x) => lnTermsFor(p, x));
  const lnDropout = d.xs.map((x) => (x === 0 ? Number.NEGATIVE_INFINITY : Math.log(p.a) - Math.log(p.b + x - 1)));
  let total = 0;
  for (let i = 0; i < d.weight.length; i++) {
    const xi = d.xIndex[i]!;
    const rx = p.r + d.xs[xi]!;
    const a3 = -rx * lnAlphaT[d.TIndex[i]!]!;
    const a4 = lnDropout[xi]! - rx * lnAlphaTx[d.txIndex[i]!]!;
    const top = a3 > a4 ? a3 : a4;
    const rest = a4 === Number.NEGATIVE_INFINITY ? 0 : Math.log1p(Math.exp(-Math.abs(a3 - a4)));
    total += d.weight[i]! * (common[xi]! + top + rest);
  }
  return total;
}

export function bgnbdLogLikelihood(p: BgNbdParams, rows: readonly RfmRow[]): number {
  return preparedLogLikelihood(p, prepare(rows));
}

const COARSE_ABOVE = 5_000;

function coarsen(rows: readonly RfmRow[]): RfmRow[] {
  const merged = new Map<string, RfmRow>();
  for (const r of rows) {
    const t_x = Math.round(r.t_x);
    const T = Math.max(Math.round(r.T), t_x);
    const key = `${r.x}|${t_x}|${T}`;
    const row = merged.get(key);
    if (row) row.weight += r.weight;
    else merged.set(key, { x: r.x, t_x, T, weight: r.weight });
  }
  return [...merged.values()];
}

export interface FitOutcome<P> {
  params: P;
  log_likelihood: number;
  iterations: number;
  converged: boolean;
}

// Log-parameters keep every parameter positive without constraints; the scale of the objective is
// per customer so the tolerances mean the same for 2,000 and 1,000,000 customers.
export function fitBgNbd(rows: readonly RfmRow[]): FitOutcome<BgNbdParams> {
  const n = rows.reduce((s, r) => s + r.weight, 0);
  const data = prepare(rows);
  const toParams = ([r, alpha, a, b]: number[]) => ({ r: Math.exp(r!), alpha: Math.exp(alpha!), a: Math.exp(a!), b: Math.exp(b!) });
  // Many distinct rows: start from the optimum on whole weeks (a few thousand rows, close to the
  // same optimum), so the exact data only has to refine it.
  const coarse = rows.length > COARSE_ABOVE ? prepare(coarsen(rows)) : null;
  const start = coarse ? minimize((v) => -preparedLogLikelihood(toParams(v), coarse) / n, [0, 0, 0, 0]).x : [0, 0, 0, 0];
  const result = minimize((v) => -preparedLogLikelihood(toParams(v), data) / n, start, coarse ? { step: 0.05 } : {});
  const params = toParams(result.x);
  return { params, log_likelihood: preparedLogLikelihood(params, data), iterations: result.iterations, converged: result.converged };
}

/** ln of the odds of having dropped out: ln(a / (b + x − 1)) + (r + x) ln((α + T) / (α + t_x)) */
function lnDropoutOdds(p: BgNbdParams, x: number, t_x: number, T: number): number {
  return Math.log(p.a / (p.b + x - 1)) + (p.r + x) * Math.log((p.alpha + T) / (p.alpha + t_x));
}

/** P(alive | x, t_x, T); exactly 1 with no repeat purchase (the model's dropouts happen after purchases) */
export function pAlive(p: BgNbdParams, x: number, t_x: number, T: number): number {
  if (x === 0) return 1;
  return expit(-lnDropoutOdds(p, x, t_x, T));
}

/**
 * E[Y(t) | x, t_x, T], the expected purchases in the next t:
 *   (a + b + x − 1)/(a − 1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))] · P(alive).
 */
export function conditionalExpectedPurchases(p: BgNbdParams, t: number, x: number, t_x: number, T: number): number {
  if (t <= 0) return 0;
  const z = t / (p.alpha + T + t);
  const lnRest = lnHyp2f1(p.r + x, p.b + x, p.a + p.b + x - 1, z) + (p.r + x) * Math.log1p(-z);
  const first = (p.a + p.b + x - 1) / (p.a - 1);
  return first * -Math.expm1(lnRest) * pAlive(p, x, t_x, T);
}

/** E[X(t)] for a new customer: (a+b−1)/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b; a+b−1; t/(α+t))] */
export function expectedPurchases(p: BgNbdParams, t: number): number {
  if (t <= 0) return 0;
  const z = t / (p.alpha + t);
  const lnRest = lnHyp2f1(p.r, p.b, p.a + p.b - 1, z) + p.r * Math.log1p(-z);
  return ((p.a + p.b - 1) / (p.a - 1)) * -Math.expm1(lnRest);
}

/**
 * The smallest T (weeks, ≥ 0) at which P(alive | x, t_x, T) < threshold, or null if never. P(alive)
 * falls in T for x > 0, and the condition inverts in closed form:
 *   T > (α + t_x) · exp((ln((1−θ)/θ) − ln(a/(b+x−1))) / (r+x)) − α.
 * Returns the boundary; the caller rounds up to its time grid and checks there.
 */
export function pAliveFallsBelowAt(p: BgNbdParams, x: number, t_x: number, threshold: number): number | null {
  if (x === 0 || !(threshold > 0)) return null;
  if (threshold >= 1) return t_x;
  const k = Math.log((1 - threshold) / threshold) - Math.log(p.a / (p.b + x - 1));
  const T = (p.alpha + t_x) * Math.exp(k / (p.r + x)) - p.alpha;
  return Number.isFinite(T) ? Math.max(T, t_x) : null;
}
