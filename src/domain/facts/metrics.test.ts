import { describe, expect, it } from 'vitest';
import { cancel, day, interaction, order, orders, refund, traitsEvent } from '../../../test/fixtures/events.fixtures.ts';
import type { StoredEvent } from '../events/events.types.ts';
import { digestEvents } from './digest.ts';
import { computeMetrics, priceSensitivity, type Metrics } from './metrics.ts';
import { DAY_MS } from '../time.ts';

const NOW = day(400);
const m = (events: StoredEvent[], traits: Record<string, unknown> = {}, now = NOW) => computeMetrics(events, traits, now);

describe('computeMetrics: which orders count', () => {
  it.each<[string, StoredEvent[], Partial<Metrics>]>([
    ['no events at all', [], { order_count: 0, net_revenue: '0', avg_order_value: null, tenure_days: 0, first_event_at: null, recency_days: null }],
    ['one order', [order(390, '25.50')], { order_count: 1, net_revenue: '25.5', avg_order_value: '25.5', recency_days: 10, cadence_days: null, previous_order_at: null }],
    ['a zero-amount order is not counted', [order(390, '0')], { order_count: 0, net_revenue: '0', tenure_days: 10 }],
    ['a fully refunded order is not counted', [order(390, '40', { orderId: 'o1' }), refund(391, 'o1', '40')], { order_count: 0, net_revenue: '0' }],
    ['refunds above the amount floor at 0', [order(390, '40', { orderId: 'o1' }), refund(391, 'o1', '30'), refund(392, 'o1', '30')], { order_count: 0, net_revenue: '0' }],
    ['a partial refund lowers net value', [order(390, '40', { orderId: 'o1' }), refund(391, 'o1', '15.25')], { order_count: 1, net_revenue: '24.75' }],
    ['a refund stamped before its order still applies', [refund(100, 'o1', '10'), order(390, '40', { orderId: 'o1' })], { net_revenue: '30' }],
    ['a whole-order refund refunds the full amount', [order(390, '40', { orderId: 'o1' }), refund(391, 'o1', null)], { order_count: 0, net_revenue: '0' }],
    ['a whole-order refund stamped before its order still applies', [refund(100, 'o1', null), order(390, '40', { orderId: 'o1' }), order(392, '7')], { order_count: 1, net_revenue: '7' }],
    ['a whole-order refund after a partial one leaves nothing', [order(390, '40', { orderId: 'o1' }), refund(391, 'o1', '5'), refund(392, 'o1', null)], { order_count: 0, net_revenue: '0' }],
    ['a whole-order refund of another order leaves this one', [order(390, '40', { orderId: 'o1' }), refund(391, 'o2', null)], { order_count: 1, net_revenue: '40' }],
    ['a refund for an unknown order is ignored', [order(390, '40', { orderId: 'o1' }), refund(391, 'nope', '10')], { net_revenue: '40' }],
    ['a cancelled order is not counted', [order(390, '40', { orderId: 'o1' }), cancel(391, 'o1'), order(395, '5')], { order_count: 1, net_revenue: '5', first_order_at: day(395) }],
    ['a cancellation stamped before its order still applies', [cancel(10, 'o1'), order(390, '40', { orderId: 'o1' })], { order_count: 0 }],
    ['a duplicate order id: the earliest occurredAt wins', [order(395, '99', { orderId: 'o1' }), order(390, '40', { orderId: 'o1' })], { order_count: 1, net_revenue: '40', last_order_at: day(390) }],
    ['a duplicate order id at the same instant: the smaller event id wins', [order(390, '99', { orderId: 'o1', id: 'b' }), order(390, '40', { orderId: 'o1', id: 'a' })], { net_revenue: '40' }],
    ['events after now are ignored', [order(390, '40'), order(401, '1000'), interaction(400.5)], { order_count: 1, net_revenue: '40', interactions_90d: 0 }],
    ['only interactions: a prospect with tenure', [interaction(320), interaction(350, 'complaint')], { order_count: 0, tenure_days: 80, interactions_90d: 2, complaints_90d: 1, last_interaction_at: day(350) }],
    ['tenure counts from the first event of any type', [traitsEvent(100, { email: 'x' }), order(390, '1')], { tenure_days: 300, first_event_at: day(100) }],
  ])('%s', (_name, events, expected) => {
    expect(m(events)).toMatchObject(expected);
  });

  it('gives the same answer for any input order', () => {
    const events = [order(10, '5', { orderId: 'a' }), refund(5, 'a', '1'), order(20, '7'), interaction(30, 'complaint', 2), cancel(40, 'zz'), order(15, '3', { orderId: 'a' })];
    const expected = m(events);
    expect(m([...events].reverse())).toEqual(expected);
    expect(m([events[3]!, events[0]!, events[5]!, events[1]!, events[4]!, events[2]!])).toEqual(expected);
  });
});

describe('computeMetrics: orders and windows', () => {
  it('derives counts, sums, averages and order instants', () => {
    const r = m([order(100, '10'), order(200, '20'), order(300, '10')]);
    expect(r).toMatchObject({
      order_count: 3,
      net_revenue: '40',
      avg_order_value: '13.3333',
      first_order_at: day(100),
      last_order_at: day(300),
      previous_order_at: day(200),
      cadence_days: 100,
      recency_days: 100,
    });
  });

  it.each([
    ['exactly 365 days old: out of the window', 0, 0, '0'],
    ['1 ms younger than 365 days: in the window', 1, 1, '10'],
  ])('%s', (_name, offsetMs, count, revenue) => {
    const at = new Date(NOW.getTime() - 365 * DAY_MS + offsetMs);
    expect(m([order(at, '10')])).toMatchObject({ orders_365d: count, revenue_365d: revenue });
  });

  it.each([
    ['exactly 90 days old', 0, 0],
    ['1 ms younger than 90 days', 1, 1],
  ])('interaction %s', (_name, offsetMs, count) => {
    const at = new Date(NOW.getTime() - 90 * DAY_MS + offsetMs);
    const ev = interaction(0, 'complaint', null, { occurredAt: at });
    expect(m([ev])).toMatchObject({ interactions_90d: count, complaints_90d: count });
  });

  it('counts only counted orders in the 365-day window, at net value', () => {
    const r = m([order(10, '10'), order(300, '50', { orderId: 'x' }), refund(301, 'x', '20'), order(350, '5', { orderId: 'c' }), cancel(351, 'c')]);
    expect(r).toMatchObject({ orders_365d: 1, revenue_365d: '30', net_revenue: '40' });
  });
});

describe('computeMetrics: categories', () => {
  const items = [
    { category: 'shoes', quantity: 2, unit_price: '30' },
    { category: 'socks', quantity: 1, unit_price: '20' },
    { category: 'hats', unit_price: '0' },
  ];
  it('apportions net value by line value and ranks by spend', () => {
    // net 40 of a 80 list price: shoes 30, socks 10, hats 0 (no spend, so not "top")
    const r = m([order(390, '80', { orderId: 'o', items }), refund(391, 'o', '40')]);
    expect(r).toMatchObject({ distinct_categories: 3, top_categories: ['shoes', 'socks'] });
  });
  it('splits evenly when no line has a price, breaks spend ties by name, keeps at most 3', () => {
    const plain = ['d', 'c', 'b', 'a'].map((category) => ({ category }));
    const r = m([order(390, '40', { items: plain })]);
    expect(r).toMatchObject({ distinct_categories: 4, top_categories: ['a', 'b', 'c'] });
  });
  it('ignores items of uncounted orders', () => {
    const r = m([order(390, '0', { items: [{ category: 'x', unit_price: '1' }] })]);
    expect(r).toMatchObject({ distinct_categories: 0, top_categories: [] });
  });
});

describe('computeMetrics: discounts, channel, region, satisfaction', () => {
  it.each<[number | null, string | null]>([
    [null, null],
    [0, 'low'],
    [0.19, 'low'],
    [0.2, 'medium'],
    [0.49, 'medium'],
    [0.5, 'high'],
    [1, 'high'],
  ])('price sensitivity for share %s is %s', (share, expected) => {
    expect(priceSensitivity(share)).toBe(expected);
  });

  it('discount share is over counted orders only, null without any', () => {
    const r = m([order(1, '10', { discountAmount: '1' }), order(2, '10', { discountAmount: '0' }), order(3, '10', { discountAmount: '2', orderId: 'c' }), cancel(4, 'c')]);
    expect(r).toMatchObject({ discount_order_share: 0.5, price_sensitivity: 'high' });
    expect(m([])).toMatchObject({ discount_order_share: null, price_sensitivity: null });
  });

  it.each<[string, StoredEvent[], string | null]>([
    ['most counted orders', [order(1, '1', { channel: 'store' }), order(2, '1', { channel: 'store' }), order(3, '1', { channel: 'app' })], 'store'],
    ['tie goes to the most recent', [order(1, '1', { channel: 'store' }), order(2, '1', { channel: 'app' }), order(3, '1', { channel: 'store' }), order(4, '1', { channel: 'app' })], 'app'],
    ['uncounted orders do not vote', [order(1, '1', { channel: 'store' }), order(2, '0', { channel: 'app' }), order(3, '0', { channel: 'app' })], 'store'],
    ['no channel anywhere', [order(1, '1')], null],
  ])('preferred channel: %s', (_name, events, expected) => {
    expect(m(events).preferred_channel).toBe(expected);
  });

  it.each<[string, Record<string, unknown>, StoredEvent[], string | null]>([
    ['trait wins', { region: 'EU' }, [order(1, '1', { region: 'US' })], 'EU'],
    ['blank trait falls back to the latest counted order', { region: ' ' }, [order(1, '1', { region: 'US' }), order(2, '1', { region: 'CA' }), order(3, '0', { region: 'MX' })], 'CA'],
    ['non-string trait falls back', { region: 42 }, [order(1, '1', { region: 'US' })], 'US'],
    ['no counted order: latest order of any kind', {}, [order(1, '0', { region: 'US' }), order(2, '0', { region: 'MX' })], 'MX'],
    ['nothing known', {}, [interaction(1)], null],
  ])('region: %s', (_name, traits, events, expected) => {
    expect(m(events, traits).region).toBe(expected);
  });

  it('averages the last 5 satisfaction values by occurredAt', () => {
    const events = [interaction(6, 'survey', 1), interaction(1, 'survey', 5), interaction(2, 'review', 5), interaction(3, 'call'), interaction(4, 'chat', 4), interaction(5, 'survey', 2), interaction(7, 'survey', 3)];
    expect(m(events).satisfaction_avg).toBe((5 + 4 + 2 + 1 + 3) / 5);
    expect(m([interaction(1)]).satisfaction_avg).toBeNull();
  });
});

describe('the digest of the orders', () => {
  it('lists counted orders in time order with net values, and free ones as uncounted purchases', () => {
    const { orders: list } = digestEvents([order(5, '10', { orderId: 'b' }), order(1, '20', { orderId: 'a' }), refund(6, 'a', '5'), ...orders(1, 9, 1, '0')], NOW);
    expect(list.map((o) => [o.occurredAt, o.net, o.counted])).toEqual([[day(1), '15', true], [day(5), '10', true], [day(9), '0', false]]);
  });
});
