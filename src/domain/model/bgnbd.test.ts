import { describe, expect, it } from 'vitest';
import {
  bgnbdLogLikelihood,
  bgnbdRowLogLikelihood,
  conditionalExpectedPurchases,
  expectedPurchases,
  fitBgNbd,
  pAlive,
  pAliveFallsBelowAt,
} from './bgnbd.ts';
import { CDNOW_BGNBD, loadCdnowSummary } from '../../../test/fixtures/model.fixtures.ts';
import { compressRows } from './predictions.ts';

const cdnow = loadCdnowSummary();
const rows = compressRows(cdnow);
const relative = (actual: number, expected: number) => Math.abs(actual / expected - 1);

describe('BG/NBD fit on the CDNOW summary (Fader, Hardie & Lee 2005)', () => {
  const fit = fitBgNbd(rows);

  it.each([
    ['r', 0.2426],
    ['alpha', 4.4135],
    ['a', 0.7929],
    ['b', 2.4258],
  ] as const)('%s = %f within 0.5%', (name, expected) => {
    expect(relative(fit.params[name], expected)).toBeLessThan(0.005);
  });

  it('reaches the published log-likelihood −9582.43 and says it converged', () => {
    expect(fit.converged).toBe(true);
    expect(Math.abs(fit.log_likelihood - -9582.43)).toBeLessThan(0.05);
  });

  it('compressing identical (x, t_x, T) rows changes nothing but the cost', () => {
    expect(rows.length).toBeLessThan(cdnow.length / 2);
    const uncompressed = cdnow.map((c) => ({ ...c, weight: 1 }));
    expect(bgnbdLogLikelihood(CDNOW_BGNBD, rows)).toBeCloseTo(bgnbdLogLikelihood(CDNOW_BGNBD, uncompressed), 8);
  });

  it('the fast likelihood equals the sum of the per-row log-sum-exp form', () => {
    const perRow = rows.reduce((s, r) => s + r.weight * bgnbdRowLogLikelihood(CDNOW_BGNBD, r.x, r.t_x, r.T), 0);
    expect(bgnbdLogLikelihood(CDNOW_BGNBD, rows)).toBeCloseTo(perRow, 8);
  });
});

describe('BG/NBD point checks at the CDNOW estimates', () => {
  const p = CDNOW_BGNBD;

  it('E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226 (lifetimes test_estimation)', () => {
    expect(Math.abs(conditionalExpectedPurchases(p, 39, 2, 30.43, 38.86) - 1.226)).toBeLessThan(0.001);
  });

  it.each([
    [0.1429, 0.0078],
    [1, 0.0532],
    [3, 0.1506],
    [31.8571, 1.0405],
    [32, 1.0437],
    [78, 1.8576],
  ])('E[X(%f)] = %f', (t, expected) => {
    expect(Math.abs(expectedPurchases(p, t) - expected)).toBeLessThan(0.0015);
  });

  const ids = cdnow.slice(0, 10);
  const P_ALIVE = [0.726609, 0.212227, 1, 1, 1, 0.641801, 0.314918, 1, 0.784808, 1];
  const E_Y39 = [1.2259, 0.2033, 0.1948, 0.1948, 0.1948, 3.3372, 0.3016, 0.1948, 1.3241, 0.1948];
  it.each(ids.map((c, i) => [c.id, c, P_ALIVE[i]!, E_Y39[i]!] as const))('CDNOW id %i: P(alive) and E[Y(39)]', (_id, c, alive, y39) => {
    expect(Math.abs(pAlive(p, c.x, c.t_x, c.T) - alive)).toBeLessThan(1e-5);
    expect(Math.abs(conditionalExpectedPurchases(p, 39, c.x, c.t_x, c.T) - y39)).toBeLessThan(1e-4);
  });

  it('P(alive) is exactly 1 without repeat purchases', () => {
    expect(pAlive(p, 0, 0, 38.86)).toBe(1);
    expect(pAlive(p, 0, 0, 1e6)).toBe(1);
  });

  it.each([
    ['x = 1000', 1000, 10, 100],
    ['x = 1000, just bought', 1000, 100, 100],
    ['x = 10⁵', 100_000, 50, 52],
  ])('no NaN or overflow for %s', (_name, x, t_x, T) => {
    for (const value of [pAlive(p, x, t_x, T), conditionalExpectedPurchases(p, 39, x, t_x, T), bgnbdRowLogLikelihood(p, x, t_x, T)]) {
      expect(Number.isFinite(value)).toBe(true);
    }
    expect(pAlive(p, 1000, 10, 100)).toBe(0);
  });

  it('the stable log-likelihood matches pymc-marketing (a=0.8, b=2.5, r=0.25, α=4, T=40)', () => {
    const q = { a: 0.8, b: 2.5, r: 0.25, alpha: 4 };
    expect(bgnbdRowLogLikelihood(q, 0, 0, 40)).toBeCloseTo(-0.59947382, 6);
    expect(bgnbdRowLogLikelihood(q, 200, 38, 40)).toBeCloseTo(100.7957, 4);
  });
});

describe('pAliveFallsBelowAt', () => {
  const p = CDNOW_BGNBD;
  it.each([
    [1, 2, 0.3],
    [2, 30.43, 0.5],
    [7, 20, 0.1],
    [40, 38, 0.3],
  ])('x=%i, t_x=%f: P(alive) is at the threshold %f at the returned T and below after', (x, t_x, threshold) => {
    const T = pAliveFallsBelowAt(p, x, t_x, threshold)!;
    expect(T).toBeGreaterThanOrEqual(t_x);
    expect(pAlive(p, x, t_x, T)).toBeCloseTo(threshold, 9);
    expect(pAlive(p, x, t_x, T + 1e-6)).toBeLessThan(threshold);
    expect(pAlive(p, x, t_x, Math.max(t_x, T - 1e-3))).toBeGreaterThan(threshold);
  });

  it('never for x = 0 or a zero threshold', () => {
    expect(pAliveFallsBelowAt(p, 0, 0, 0.3)).toBeNull();
    expect(pAliveFallsBelowAt(p, 3, 10, 0)).toBeNull();
  });

  it('at t_x when P(alive) is already below right after the last purchase', () => {
    expect(pAliveFallsBelowAt(p, 3, 10, 0.99)).toBe(10);
  });
});
