import { describe, expect, it } from 'vitest';
import { conditionalExpectedPurchases } from './bgnbd.ts';
import { customerLifetimeValue, WEEKS_PER_MONTH } from './clv.ts';
import { expectedAverageSpend } from './gamma-gamma.ts';
import { CDNOW_BGNBD, CDNOW_GAMMA_GAMMA, loadCdnowSummary } from '../../../test/fixtures/model.fixtures.ts';

describe('12-month CLV, 1% a month, weekly time (lifetimes customer_lifetime_value with freq="W")', () => {
  const EXPECTED = [36.2785, 4.6375, 8.3441, 8.3441, 8.3441, 283.5236, 6.8814, 8.3441, 43.3536, 8.3441];
  const ids = loadCdnowSummary().slice(0, 10);

  it.each(ids.map((c, i) => [c.id, c, EXPECTED[i]!] as const))('CDNOW id %i', (_id, c, expected) => {
    const spend = expectedAverageSpend(CDNOW_GAMMA_GAMMA, c.x, c.zbar);
    expect(Math.abs(customerLifetimeValue(CDNOW_BGNBD, spend, c) - expected)).toBeLessThan(0.01);
  });

  it('without discounting is spend × expected purchases over 12 months', () => {
    const c = ids[0]!;
    const undiscounted = customerLifetimeValue(CDNOW_BGNBD, 10, c, 12, 0);
    expect(undiscounted).toBeCloseTo(10 * conditionalExpectedPurchases(CDNOW_BGNBD, 12 * WEEKS_PER_MONTH, c.x, c.t_x, c.T), 9);
  });
});
