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

export function bgnbdLogLikelihood(p: BgNbdParams, rows: readonly RfmRow[]): number {
  const byX = new Map<number, number>();
  let total = 0;
  for (const row of rows) {
    let ln = byX.get(row.x);
    if (ln === undefined) byX.set(row.x, (ln = lnTermsFor(p, row.x)));
    total += row.weight * bgnbdRowLogLikelihood(p, row.x, row.t_x, row.T, ln);
  }
  return total;
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
  const toParams = ([r, alpha, a, b]: number[]) => ({ r: Math.exp(r!), alpha: Math.exp(alpha!), a: Math.exp(a!), b: Math.exp(b!) });
  const result = minimize((v) => -bgnbdLogLikelihood(toParams(v), rows) / n, [0, 0, 0, 0]);
  const params = toParams(result.x);
  return { params, log_likelihood: bgnbdLogLikelihood(params, rows), iterations: result.iterations, converged: result.converged };
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
