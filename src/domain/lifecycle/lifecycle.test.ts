import { describe, expect, it } from 'vitest';
import { day, interaction, order, orders } from '../../../test/fixtures/events.fixtures.ts';
import type { StoredEvent } from '../events/events.types.ts';
import {
  atRiskStatus,
  complaintStreakStart,
  DEFAULT_AT_RISK,
  DEFAULT_LIFECYCLE,
  lifecycleStage,
  NOT_AT_RISK,
  stageSince,
  type AtRiskStatus,
  type LifecycleStage,
} from './lifecycle.ts';
import { computeMetrics, interactionHistory } from '../facts/metrics.ts';
import { DAY_MS } from '../time.ts';

const PARAMS = { ...DEFAULT_AT_RISK, lapsed_after_days: DEFAULT_LIFECYCLE.lapsed_after_days };
const ms = (days: number, extraMs = 0) => new Date(day(days).getTime() + extraMs);

function risk(events: StoredEvent[], now: Date, pAlive: number | null = null): AtRiskStatus {
  return atRiskStatus(computeMetrics(events, {}, now), PARAMS, pAlive, now, interactionHistory(events, now));
}

describe('atRiskStatus', () => {
  it.each<[string, StoredEvent[], Date, number | null, string[], Date | null]>([
    ['prospect with complaints', [interaction(1, 'complaint'), interaction(2, 'complaint')], day(10), null, [], null],
    ['one order exactly 90 days ago', [order(0, '10')], day(90), null, [], null],
    ['one order 90 days + 1 ms ago', [order(0, '10')], ms(90, 1), null, ['one_time_buyer_overdue'], day(90)],
    ['cadence 10: threshold is min_days 30, exactly 30', orders(3, 0, 10), day(50), null, [], null],
    ['cadence 10: 30 days + 1 ms', orders(3, 0, 10), ms(50, 1), null, ['overdue_vs_cadence'], day(50)],
    ['cadence 20: threshold 2 × 20 = 40, exactly 40', orders(2, 0, 20), day(60), null, [], null],
    ['cadence 20: 40 days + 1 ms', orders(2, 0, 20), ms(60, 1), null, ['overdue_vs_cadence'], day(60)],
    ['lapsed customers are never at risk', [order(0, '10'), interaction(360, 'complaint'), interaction(361, 'complaint')], ms(365, 1), 0.01, [], null],
    ['one complaint is below the threshold', [order(0, '10'), interaction(5, 'complaint')], day(10), null, [], null],
    ['two complaints reach the threshold at the second', [order(0, '10'), interaction(2, 'complaint'), interaction(5, 'complaint')], day(10), null, ['complaints'], day(5)],
    ['satisfaction average ≤ max since the first rating', [order(0, '10'), interaction(1, 'survey', 1), interaction(2, 'survey', 3)], day(10), null, ['low_satisfaction'], day(1)],
    ['satisfaction average drops to exactly the maximum', [order(0, '10'), interaction(1, 'survey', 4), interaction(2, 'survey', 1), interaction(3, 'chat', 1)], day(10), null, ['low_satisfaction'], day(3)],
    ['satisfaction average above the maximum', [order(0, '10'), interaction(1, 'survey', 2), interaction(2, 'survey', 3)], day(10), null, [], null],
    ['p_alive just below the bar starts now', [order(0, '10')], day(10), 0.29, ['low_p_alive'], day(10)],
    ['p_alive at the bar', [order(0, '10')], day(10), 0.3, [], null],
    [
      'every reason is reported; since is the earliest',
      [order(0, '10'), interaction(95, 'complaint'), interaction(96, 'complaint', 1)],
      day(100),
      0.1,
      ['one_time_buyer_overdue', 'complaints', 'low_satisfaction', 'low_p_alive'],
      day(90),
    ],
  ])('%s', (_name, events, now, pAlive, codes, since) => {
    const status = risk(events, now, pAlive);
    expect(status.reasons.map((r) => r.code)).toEqual(codes);
    expect(status.flagged).toBe(codes.length > 0);
    expect(status.since).toEqual(since);
  });

  it.each([
    ['the model says when P(alive) fell below the bar', day(7), day(7)],
    ['a crossing instant after now is not believed', day(11), day(10)],
  ])('low_p_alive since: %s', (_name, pAliveSince, since) => {
    const events = [order(0, '10')];
    const status = atRiskStatus(computeMetrics(events, {}, day(10)), PARAMS, 0.1, day(10), interactionHistory(events, day(10)), pAliveSince);
    expect(status.reasons.map((r) => [r.code, r.since])).toEqual([['low_p_alive', since]]);
  });

  it('explains overdue in words', () => {
    const [reason] = risk(orders(2, 0, 20), day(75)).reasons;
    expect(reason?.detail).toBe('no order since 2024-01-21; usual cadence 20 days (threshold 40 days)');
  });

  it('keeps the complaint streak start while older complaints hand over to newer ones', () => {
    // count: 1 at day 0, 2 at day 10, 3 at day 80, back to 2 at day 90 (day 0 leaves): ≥ 2 since day 10
    const complaints = [day(0), day(10), day(80)];
    expect(complaintStreakStart(complaints, day(95), 2)).toEqual(day(10));
    // day 10 leaves at day 100: count 1, then a new one at day 120 starts a new streak
    expect(complaintStreakStart([...complaints, day(120)], day(125), 2)).toEqual(day(120));
    expect(complaintStreakStart(complaints, day(175), 2)).toBeNull();
  });
});

describe('lifecycleStage', () => {
  const stage = (events: StoredEvent[], now: Date, flagged = false): LifecycleStage =>
    lifecycleStage(computeMetrics(events, {}, now), flagged, DEFAULT_LIFECYCLE, now);

  it.each<[string, StoredEvent[], Date, boolean, LifecycleStage]>([
    ['no counted orders', [order(0, '0'), interaction(1)], day(5), false, 'prospect'],
    ['recency exactly 365 days is not lapsed', orders(2, 0, 10), day(375), false, 'active'],
    ['recency 365 days + 1 ms is lapsed', orders(2, 0, 10), ms(375, 1), false, 'lapsed'],
    ['lapsed beats the at-risk flag', orders(2, 0, 10), day(400), true, 'lapsed'],
    ['at-risk flag beats reactivated and new', [order(0, '10'), order(400, '10')], day(401), true, 'at_risk'],
    ['gap over 365 days and recency ≤ 30: reactivated', [order(0, '10'), order(366, '10')], day(396), false, 'reactivated'],
    ['reactivated window ends after 30 days', [order(0, '10'), order(366, '10')], ms(396, 1), false, 'active'],
    ['a gap of exactly 365 days is no lapse', [order(0, '10'), order(365, '10')], day(370), false, 'active'],
    ['one counted order: new', [order(0, '10'), order(1, '0')], day(5), false, 'new'],
    ['5 orders, first exactly 180 days ago: loyal', orders(5, 0, 45), day(180), false, 'loyal'],
    ['5 orders, first 180 days − 1 ms ago: active', orders(5, 0, 44), ms(180, -1), false, 'active'],
    ['4 orders over a long time: active', orders(4, 0, 50), day(200), false, 'active'],
  ])('%s', (_name, events, now, flagged, expected) => {
    expect(stage(events, now, flagged)).toBe(expected);
  });
});

describe('stageSince', () => {
  const fallback = day(999);
  const since = (s: LifecycleStage, events: StoredEvent[], now: Date, atRisk: AtRiskStatus = NOT_AT_RISK) => {
    const metrics = computeMetrics(events, {}, now);
    const times = events.filter((e) => e.type === 'order').map((e) => e.occurredAt);
    return stageSince(s, metrics, atRisk, DEFAULT_LIFECYCLE, fallback, times);
  };

  it.each<[LifecycleStage, StoredEvent[], Date, Date]>([
    ['prospect', [], day(10), fallback],
    ['lapsed', [order(0, '10')], day(400), day(365)],
    ['new', [order(3, '10')], day(10), day(3)],
    ['reactivated', [order(0, '10'), order(400, '1')], day(401), day(400)],
    ['active', orders(3, 0, 10), day(30), day(20)],
    ['loyal', orders(5, 0, 10), day(200), day(180)], // tenure reached after the 5th order
    ['loyal', orders(6, 0, 50), day(300), day(200)], // the 5th order came after 180 days
  ])('%s', (stage, events, now, expected) => {
    expect(since(stage, events, now)).toEqual(expected);
  });

  it('at_risk uses the at-risk since, else the fallback', () => {
    const atRisk: AtRiskStatus = { flagged: true, since: day(7), reasons: [] };
    expect(since('at_risk', [order(0, '1')], day(10), atRisk)).toEqual(day(7));
    expect(since('at_risk', [order(0, '1')], day(10))).toEqual(fallback);
  });

  it('uses the same day length everywhere', () => {
    expect(day(1).getTime() - day(0).getTime()).toBe(DAY_MS);
  });
});
