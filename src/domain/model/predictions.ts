// Per-customer predictions from a fitted model, and the model fit with its guard rails. Time is in
// weeks on a UTC-day grid: same-day orders are one purchase (their net values summed), t_x is the
// days from the first to the last purchase day, T the days from the first purchase day to the day
// of `asOf` (CDNOW: T = (1997-09-30 − first purchase day) / 7 for any asOf on 1997-09-30).
import { conditionalExpectedPurchases, fitBgNbd, pAlive, pAliveFallsBelowAt, type BgNbdParams, type RfmRow } from './bgnbd.ts';
import { customerLifetimeValue } from './clv.ts';
import { expectedAverageSpend, fitGammaGamma, type GammaGammaParams, type SpendRow } from './gamma-gamma.ts';
import type { CustomerDigest } from '../facts/digest.ts';
import { fitsMoneyColumn, money, sumMoney } from '../money.ts';
import { DAY_MS } from '../time.ts';

export interface ModelParams {
  bgnbd: BgNbdParams & { log_likelihood: number };
  gamma_gamma: GammaGammaParams & { log_likelihood: number };
}

export interface CustomerSummary {
  /** repeat purchase days */
  x: number;
  /** weeks from the first to the last purchase day */
  t_x: number;
  /** weeks from the first purchase day to the day of asOf */
  T: number;
  /** mean net spend of the repeat purchase days (0 when x = 0) */
  zbar: number;
  firstDay: number;
}

export const utcDay = (at: Date) => Math.floor(at.getTime() / DAY_MS);
export const EXPECTED_ORDERS_DAYS = 90;

/** The model's view of a customer's counted orders up to asOf; null for a customer with none. */
export function summarizeOrders(orders: readonly { occurredAt: Date; net: string }[], asOf: Date): CustomerSummary | null {
  const byDay = new Map<number, string[]>();
  for (const o of orders) {
    if (o.occurredAt.getTime() > asOf.getTime()) continue;
    const day = utcDay(o.occurredAt);
    byDay.set(day, [...(byDay.get(day) ?? []), o.net]);
  }
  const days = [...byDay.keys()].sort((a, b) => a - b);
  const first = days[0];
  if (first === undefined) return null;
  const repeat = days.slice(1);
  const repeatSpend = sumMoney(repeat.flatMap((d) => byDay.get(d)!));
  return {
    x: repeat.length,
    t_x: (days.at(-1)! - first) / 7,
    T: (utcDay(asOf) - first) / 7,
    zbar: repeat.length === 0 ? 0 : repeatSpend.div(repeat.length).toNumber(),
    firstDay: first,
  };
}

/** Identical (x, t_x, T) customers become one weighted row: the likelihood's cost follows distinct rows. */
export function compressRows(summaries: Iterable<Pick<CustomerSummary, 'x' | 't_x' | 'T'>>): RfmRow[] {
  const rows: RfmRow[] = [];
  const byX = new Map<number, Map<number, Map<number, RfmRow>>>();
  for (const { x, t_x, T } of summaries) {
    let byTx = byX.get(x);
    if (!byTx) byX.set(x, (byTx = new Map()));
    let byT = byTx.get(t_x);
    if (!byT) byTx.set(t_x, (byT = new Map()));
    const row = byT.get(T);
    if (row) row.weight++;
    else {
      const created = { x, t_x, T, weight: 1 };
      byT.set(T, created);
      rows.push(created);
    }
  }
  return rows;
}

export interface PredictionResult {
  predictions: Predictions;
  /** the next instant P(alive) drops below the threshold with no new order, if after now */
  pAliveBelowAt: Date | null;
  /** when P(alive), below the threshold now, fell below it (not before the fit existed); else null */
  pAliveBelowSince: Date | null;
}

/** The model in force: its parameters and when it was fitted. */
export interface FittedModel {
  params: ModelParams;
  fittedAt: Date;
}

/** p_alive, expected orders in 90 days and discounted 12-month CLV as of now; null without a model purchase. */
export function predictCustomer(
  fit: ModelParams,
  orders: readonly { occurredAt: Date; net: string }[],
  now: Date,
  pAliveBelow: number,
  fittedAt: Date | null = null,
): PredictionResult | null {
  const s = summarizeOrders(orders, now);
  if (!s) return null;
  const { bgnbd, gamma_gamma } = fit;
  const crossing = pAliveCrossing(bgnbd, s, pAliveBelow);
  const p = pAlive(bgnbd, s.x, s.t_x, s.T);
  const expected = conditionalExpectedPurchases(bgnbd, EXPECTED_ORDERS_DAYS / 7, s.x, s.t_x, s.T);
  const clv = customerLifetimeValue(bgnbd, expectedAverageSpend(gamma_gamma, s.x, s.zbar), s);
  // Beyond what the column stores (a degenerate fit), a stored CLV would fail the customer's recompute.
  const clvMoney = Number.isFinite(clv) ? money(clv.toFixed(2)) : null;
  return {
    predictions: {
      p_alive: finite(p),
      expected_orders_90d: finite(expected),
      clv_12m: clvMoney && fitsMoneyColumn(clvMoney) ? clvMoney.toString() : null,
    },
    pAliveBelowAt: crossing && crossing.getTime() > now.getTime() ? crossing : null,
    pAliveBelowSince:
      crossing && crossing.getTime() <= now.getTime() && p < pAliveBelow ? new Date(Math.max(crossing.getTime(), fittedAt?.getTime() ?? 0)) : null,
  };
}

/** predictCustomer over a customer's digest (its orders are the model's purchases) as of now; null without a fit */
export function predictFromDigest(fit: FittedModel | null, digest: CustomerDigest, now: Date, pAliveBelow: number): PredictionResult | null {
  return fit ? predictCustomer(fit.params, digest.orders, now, pAliveBelow, fit.fittedAt) : null;
}

// T moves in whole days, so the crossing is the first UTC midnight at which P(alive) < threshold
// (since the last purchase: P(alive) only falls between purchases).
function pAliveCrossing(bg: BgNbdParams, s: CustomerSummary, threshold: number): Date | null {
  const boundary = pAliveFallsBelowAt(bg, s.x, s.t_x, threshold);
  if (boundary === null || boundary > 1e7) return null;
  const lastDay = Math.round(s.t_x * 7);
  let days = Math.max(Math.floor(boundary * 7), lastDay);
  while (pAlive(bg, s.x, s.t_x, days / 7) >= threshold) days++;
  while (days > lastDay && pAlive(bg, s.x, s.t_x, (days - 1) / 7) < threshold) days--;
  return new Date((s.firstDay + days) * DAY_MS);
}

const finite = (v: number) => (Number.isFinite(v) ? v : null);

export const MIN_BUYERS = 20;
export const MIN_REPEAT_BUYERS = 10;

export type FitResult =
  | { ok: true; params: ModelParams; customers: number; iterations: number }
  | { ok: false; reason: string; customers: number };

/**
 * Fits both models, or says why not. A refused fit leaves the previous one in force: too few
 * buyers, an optimiser that did not converge, or parameters the predictions cannot use (a = 1 or
 * q ≤ 1 make the expectations infinite).
 */
export function fitModel(rows: readonly RfmRow[], spend: readonly SpendRow[]): FitResult {
  const customers = rows.reduce((s, r) => s + r.weight, 0);
  const repeat = spend.reduce((s, r) => s + (r.x > 0 && r.m > 0 ? r.weight : 0), 0);
  if (customers < MIN_BUYERS) return { ok: false, customers, reason: `too few buyers: ${customers} (at least ${MIN_BUYERS} needed)` };
  if (repeat < MIN_REPEAT_BUYERS) {
    return { ok: false, customers, reason: `too few repeat buyers: ${repeat} (at least ${MIN_REPEAT_BUYERS} needed)` };
  }
  const bg = fitBgNbd(rows);
  const values = [bg.params.r, bg.params.alpha, bg.params.a, bg.params.b, bg.log_likelihood];
  if (!bg.converged || !values.every(Number.isFinite)) return { ok: false, customers, reason: 'BG/NBD fit did not converge' };
  if (Math.abs(bg.params.a - 1) < 1e-6) return { ok: false, customers, reason: 'BG/NBD fit gave a = 1, where expected purchases are undefined' };
  const gg = fitGammaGamma(spend);
  if (!gg.converged || ![gg.params.p, gg.params.q, gg.params.v, gg.log_likelihood].every(Number.isFinite)) {
    return { ok: false, customers, reason: 'Gamma-Gamma fit did not converge' };
  }
  if (gg.params.q <= 1) return { ok: false, customers, reason: `Gamma-Gamma fit gave q = ${gg.params.q.toFixed(4)} ≤ 1: mean spend is unbounded` };
  return {
    ok: true,
    customers,
    iterations: bg.iterations + gg.iterations,
    params: { bgnbd: { ...bg.params, log_likelihood: bg.log_likelihood }, gamma_gamma: { ...gg.params, log_likelihood: gg.log_likelihood } },
  };
}

/** What the model in force predicts for one customer; null fields where it cannot say. */
export interface Predictions {
  p_alive: number | null;
  expected_orders_90d: number | null;
  clv_12m: string | null;
}
