import { describe, expect, it } from 'vitest';
import { expectedAverageSpend, fitGammaGamma, gammaGammaLogLikelihood } from './gamma-gamma.ts';
import { CDNOW_GAMMA_GAMMA, loadCdnowSummary } from '../../../test/fixtures/model.fixtures.ts';

const repeatBuyers = loadCdnowSummary().filter((c) => c.x > 0);
const spend = repeatBuyers.map((c) => ({ x: c.x, m: c.zbar, weight: 1 }));

describe('Gamma-Gamma fit on the 946 CDNOW repeat buyers', () => {
  const fit = fitGammaGamma(spend);

  it('uses the 946 customers with x > 0', () => expect(repeatBuyers).toHaveLength(946));

  it.each([
    ['p', 6.2488],
    ['q', 3.7446],
    ['v', 15.4477],
  ] as const)('%s = %f within 0.5%', (name, expected) => {
    expect(Math.abs(fit.params[name] / expected - 1)).toBeLessThan(0.005);
  });

  it('converges to the log-likelihood −4055.923', () => {
    expect(fit.converged).toBe(true);
    expect(fit.log_likelihood).toBeCloseTo(-4055.923, 2);
    expect(gammaGammaLogLikelihood(fit.params, spend)).toBeCloseTo(fit.log_likelihood, 8);
  });

  it('ignores customers without repeat spend', () => {
    const withZeros = [...spend, { x: 0, m: 0, weight: 50 }];
    expect(fitGammaGamma(withZeros).params.p).toBeCloseTo(fit.params.p, 6);
  });
});

describe('expected average spend E[M | x, zbar]', () => {
  // Hardie note 025 sheet via lifetimes test_estimation, at the rounded (6.25, 3.74, 15.44)
  const ROUNDED = { p: 6.25, q: 3.74, v: 15.44 };
  const EXPECTED = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17];
  const ids = loadCdnowSummary().slice(0, 10);

  it.each(ids.map((c, i) => [c.id, c, EXPECTED[i]!] as const))('CDNOW id %i', (_id, c, expected) => {
    expect(Math.abs(expectedAverageSpend(ROUNDED, c.x, c.zbar) - expected)).toBeLessThan(0.1);
    expect(Math.abs(expectedAverageSpend(CDNOW_GAMMA_GAMMA, c.x, c.zbar) - expected)).toBeLessThan(0.1);
  });

  it('is the population mean v·p/(q − 1) without repeat purchases', () => {
    expect(expectedAverageSpend(ROUNDED, 0, 0)).toBeCloseTo((15.44 * 6.25) / 2.74, 12);
  });
});
