import { describe, expect, it } from 'vitest';
import { pAlive } from './bgnbd.ts';
import { CDNOW_BGNBD, CDNOW_GAMMA_GAMMA, loadCdnowSummary } from '../../../test/fixtures/model.fixtures.ts';
import type { ResolvedOrder } from '../facts/metrics.orders.ts';
import { modelPurchases } from '../facts/metrics.orders.ts';
import { compressRows, fitModel, predictCustomer, summarizeOrders, type ModelParams } from './predictions.ts';
import { DAY_MS } from '../time.ts';

const at = (iso: string) => new Date(iso);
const order = (iso: string, net: string) => ({ occurredAt: at(iso), net });

describe('summarizeOrders', () => {
  it.each([
    ['no orders', [], '2026-01-10T00:00:00Z', null],
    ['one order: nothing repeats', [order('2026-01-01T10:00:00Z', '10')], '2026-01-15T09:00:00Z', { x: 0, t_x: 0, T: 2, zbar: 0 }],
    [
      'same-day orders merge, the first day is excluded from spend',
      [order('2026-01-01T08:00:00Z', '10'), order('2026-01-01T20:00:00Z', '5'), order('2026-01-08T01:00:00Z', '7.5'), order('2026-01-08T23:59:59.999Z', '2.5'), order('2026-01-15T12:00:00Z', '30')],
      '2026-01-29T00:00:00Z',
      { x: 2, t_x: 2, T: 4, zbar: 20 },
    ],
    [
      'orders after asOf are not observed; T counts to the day of asOf',
      [order('1997-01-01T00:00:00Z', '29.33'), order('1997-01-18T00:00:00Z', '29.73'), order('1997-10-02T00:00:00Z', '14.96')],
      '1997-09-30T23:59:59.999Z',
      { x: 1, t_x: 17 / 7, T: 272 / 7, zbar: 29.73 },
    ],
  ] as const)('%s', (_name, orders, asOf, expected) => {
    const s = summarizeOrders(orders, at(asOf));
    if (expected === null) expect(s).toBeNull();
    else expect(s).toMatchObject(expected);
  });
});

describe('modelPurchases', () => {
  const resolved = (over: Partial<ResolvedOrder>): ResolvedOrder => ({
    id: 'e', orderId: 'o', occurredAt: at('2026-01-01T00:00:00Z'), amount: '10', net: '10', cancelled: false, refunded: false, counted: true,
    discounted: false, channel: null, region: null, items: [], ...over,
  });
  it.each([
    ['a counted order', resolved({}), true],
    ['a free order (amount 0)', resolved({ amount: '0', net: '0', counted: false }), true],
    ['a cancelled free order', resolved({ amount: '0', net: '0', counted: false, cancelled: true }), false],
    ['a fully refunded order', resolved({ net: '0', refunded: true, counted: false }), false],
    ['a partly refunded order', resolved({ net: '4', refunded: true }), true],
    ['a refunded free order', resolved({ amount: '0', net: '0', refunded: true, counted: false }), false],
    ['a cancelled order', resolved({ cancelled: true, counted: false }), false],
  ])('%s: %s', (_name, order, kept) => {
    expect(modelPurchases([order])).toHaveLength(kept ? 1 : 0);
  });
});

describe('compressRows', () => {
  it('counts identical rows once with their weight', () => {
    const rows = compressRows([
      { x: 0, t_x: 0, T: 3 },
      { x: 0, t_x: 0, T: 3 },
      { x: 1, t_x: 1, T: 3 },
    ]);
    expect(rows).toEqual([
      { x: 0, t_x: 0, T: 3, weight: 2 },
      { x: 1, t_x: 1, T: 3, weight: 1 },
    ]);
  });
});

const FIT: ModelParams = {
  bgnbd: { ...CDNOW_BGNBD, log_likelihood: -9582.43 },
  gamma_gamma: { ...CDNOW_GAMMA_GAMMA, log_likelihood: -4055.92 },
};

describe('predictCustomer', () => {
  it('is null for a customer without orders', () => {
    expect(predictCustomer(FIT, [], at('2026-01-01T00:00:00Z'), 0.3)).toBeNull();
  });

  it('reproduces CDNOW id 1 (x=2, t_x=30.43, T=38.86) from its orders', () => {
    // first purchase 1997-01-01, repeats 213 days later (30.43 weeks), observed to 1997-09-30
    const orders = [order('1997-01-01T00:00:00Z', '10'), order('1997-01-20T00:00:00Z', '20'), order('1997-08-02T00:00:00Z', '24.7')];
    const result = predictCustomer(FIT, orders, at('1997-09-30T12:00:00Z'), 0.3)!;
    expect(result.predictions.p_alive).toBeCloseTo(pAlive(CDNOW_BGNBD, 2, 213 / 7, 272 / 7), 12);
    expect(result.predictions.expected_orders_90d).toBeGreaterThan(0);
    expect(result.predictions.clv_12m).toMatch(/^\d+(\.\d{1,2})?$/);
  });

  it('a one-order customer is alive for sure and never crosses the threshold', () => {
    const result = predictCustomer(FIT, [order('2026-01-01T10:00:00Z', '10')], at('2026-03-01T00:00:00Z'), 0.3)!;
    expect(result.predictions.p_alive).toBe(1);
    expect(result.pAliveBelowAt).toBeNull();
  });

  it('pAliveBelowAt is the first UTC midnight at which P(alive) is below the threshold', () => {
    const orders = [order('2026-01-01T10:00:00Z', '10'), order('2026-01-08T10:00:00Z', '10'), order('2026-01-15T10:00:00Z', '10')];
    const now = at('2026-01-20T15:00:00Z');
    const { pAliveBelowAt, predictions } = predictCustomer(FIT, orders, now, 0.3)!;
    expect(predictions.p_alive!).toBeGreaterThan(0.3);
    const crossing = pAliveBelowAt!;
    expect(crossing.getTime() % DAY_MS).toBe(0);
    const firstDay = at('2026-01-01T00:00:00Z').getTime();
    expect(predictCustomer(FIT, orders, crossing, 0.3)!.predictions.p_alive!).toBeLessThan(0.3);
    expect(predictCustomer(FIT, orders, new Date(crossing.getTime() - 1), 0.3)!.predictions.p_alive!).toBeGreaterThanOrEqual(0.3);
    expect(crossing.getTime()).toBeGreaterThan(firstDay);
  });

  it('once P(alive) is below: no future crossing, and it has been below since the crossing (not before the fit)', () => {
    const orders = [order('2025-01-01T10:00:00Z', '10'), order('2025-01-08T10:00:00Z', '10')];
    const now = at('2026-01-01T00:00:00Z');
    const result = predictCustomer(FIT, orders, now, 0.3)!;
    expect(result.predictions.p_alive!).toBeLessThan(0.3);
    expect(result.pAliveBelowAt).toBeNull();
    const since = result.pAliveBelowSince!;
    expect(since.getTime()).toBeLessThan(now.getTime());
    expect(predictCustomer(FIT, orders, since, 0.3)!.predictions.p_alive!).toBeLessThan(0.3);
    expect(predictCustomer(FIT, orders, new Date(since.getTime() - 1), 0.3)!.pAliveBelowAt).toEqual(since);
    const fittedAt = at('2025-12-01T00:00:00Z');
    expect(predictCustomer(FIT, orders, now, 0.3, fittedAt)!.pAliveBelowSince).toEqual(fittedAt);
  });
});

describe('fitModel guard rails', () => {
  const cdnow = loadCdnowSummary();
  const spendOf = (rows: readonly { x: number; zbar: number }[]) => rows.filter((c) => c.x > 0).map((c) => ({ x: c.x, m: c.zbar, weight: 1 }));

  it('fits CDNOW', () => {
    const result = fitModel(compressRows(cdnow), spendOf(cdnow));
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.customers).toBe(2357);
  });

  it.each([
    ['too few buyers', cdnow.slice(0, 5), /too few buyers: 5/],
    ['too few repeat buyers', cdnow.filter((c) => c.x === 0).slice(0, 100).concat(cdnow.filter((c) => c.x > 0).slice(0, 3)), /too few repeat buyers: 3/],
  ])('refuses %s', (_name, rows, reason) => {
    const result = fitModel(compressRows(rows), spendOf(rows));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('refuses a likelihood without a maximum (every buyer identical, spend identical)', () => {
    const rows = Array.from({ length: 50 }, () => ({ x: 2, t_x: 10, T: 10, zbar: 5 }));
    const result = fitModel(compressRows(rows), spendOf(rows));
    expect(result.ok).toBe(false);
  });
});
