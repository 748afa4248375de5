import { describe, expect, it } from 'vitest';
import { digestEvents } from '../facts/digest.ts';
import { deriveCustomerState, ruleRecordOf, type CustomerStateInput, type PreviousState } from './customer-state.ts';
import { day, interaction, order, orders } from '../../../test/fixtures/events.fixtures.ts';
import type { StoredEvent } from '../events/events.types.ts';
import { DEFAULT_POLICY, parsePolicy, type TierPolicy } from '../policy/policy.ts';
import { evaluateRule, type Rule } from '../rules/rules.ts';
import type { Breakpoints } from '../scoring/scores.ts';
import { previousStateOf } from '../../../test/fixtures/customer-state.fixtures.ts';

const BP: Breakpoints = { recency_days: [10, 30, 60, 120], order_count: [1, 2, 3, 5], net_revenue: [10, 20, 50, 100] };
const plusMs = (d: Date, ms: number) => new Date(d.getTime() + ms);

interface Scenario {
  events: StoredEvent[];
  now: Date;
  breakpoints?: Breakpoints | null;
  policy?: TierPolicy;
  segmentRules?: Rule[];
  previous?: PreviousState | null;
}

function derive(s: Scenario, now: Date) {
  const input: CustomerStateInput = {
    digest: digestEvents(s.events, now),
    traits: {},
    now,
    stats: { breakpoints: s.breakpoints ?? null, abc: null },
    policy: s.policy ?? DEFAULT_POLICY,
    previous: s.previous ?? null,
    segments: [],
    predictions: null,
    segmentRules: s.segmentRules ?? [],
  };
  return { state: deriveCustomerState(input), input };
}

// Everything a customer's stored state and webhooks depend on, minus the continuous metrics.
function observable(s: Scenario, now: Date) {
  const { state, input } = derive(s, now);
  const m = state.metrics;
  return {
    counts: [m.order_count, m.net_revenue, m.orders_365d, m.revenue_365d, m.interactions_90d, m.complaints_90d],
    scores: state.scores,
    rfm: state.rfm_segment,
    tier: [state.qualified_tier, state.tier, state.pending_tier],
    stage: state.lifecycle_stage,
    atRisk: state.at_risk.reasons.map((r) => r.code),
    segments: (s.segmentRules ?? []).map((rule) => evaluateRule(rule, ruleRecordOf(state, input))),
  };
}

const frequent = parsePolicy({ preset: 'frequency' });
const frequentGrace = parsePolicy({ preset: 'frequency', downgrade_grace_days: 10 });
if (!frequent.ok || !frequentGrace.ok) throw new Error('bad test policy');

const cadence20 = [...orders(6, 0, 20), interaction(30, 'complaint'), interaction(45, 'complaint')];

describe('nextReviewAt', () => {
  it.each<[string, Scenario, Date | null]>([
    ['one-time buyer becomes overdue', { events: [order(0, '15')], now: day(5) }, plusMs(day(90), 1)],
    ['the order leaves the 365-day window before the lapse', { events: [order(0, '15')], now: day(100) }, day(365)],
    ['lapse 1 ms after 365 days', { events: [order(0, '15')], now: day(365) }, plusMs(day(365), 1)],
    ['lapsed: never again', { events: [order(0, '15')], now: day(400) }, null],
    ['overdue vs cadence (threshold min_days 30)', { events: orders(3, 0, 10), now: day(25) }, plusMs(day(50), 1)],
    ['a complaint leaves the window and clears at-risk', { events: cadence20, now: day(110) }, day(120)],
    ['the next complaint exit', { events: cadence20, now: day(120) }, day(135)],
    ['reactivation window ends', { events: [order(0, '10'), order(400, '10')], now: day(410) }, plusMs(day(430), 1)],
    ['loyal tenure is reached (inclusive)', { events: orders(18, 0, 10), now: day(175) }, day(180)],
    ['frequency tier drops when an order leaves orders_365d', { events: orders(12, 0, 30), now: day(340), policy: frequent.policy }, day(365)],
    ['a segment rule on recency_days', { events: [order(0, '15')], now: day(3), segmentRules: [{ field: 'recency_days', op: 'lte', value: 7 }] }, plusMs(day(7), 1)],
    ['a segment rule on tenure_days (inclusive)', { events: [interaction(0)], now: day(3), segmentRules: [{ field: 'tenure_days', op: 'gte', value: 30 }] }, day(30)],
    ['a prospect whose interaction leaves the 90-day window', { events: [interaction(0)], now: day(10) }, day(90)],
    ['an event stamped slightly in the future', { events: [order(0, '15'), order(plusMs(day(5), 120_000), '15')], now: day(5) }, plusMs(day(5), 120_000)],
  ])('%s', (_name, scenario, expected) => {
    const { state } = derive(scenario, scenario.now);
    expect(state.next_review_at).toEqual(expected);
    if (!expected) return;
    const before = observable(scenario, scenario.now);
    const midway = new Date((scenario.now.getTime() + expected.getTime()) / 2);
    expect(observable(scenario, midway)).toEqual(before);
    expect(observable(scenario, plusMs(expected, -1))).toEqual(before);
    expect(observable(scenario, expected)).not.toEqual(before);
  });

  it.each<[string, Scenario]>([
    ['a prospect with nothing windowed', { events: [interaction(0), order(1, '0')], now: day(100) }],
    ['no events at all', { events: [], now: day(0) }],
  ])('is null for %s, and nothing changes later', (_name, scenario) => {
    expect(derive(scenario, scenario.now).state.next_review_at).toBeNull();
    expect(observable(scenario, day(5000))).toEqual(observable(scenario, scenario.now));
  });

  it('leaves R breakpoint crossings to the statistics refresh: breakpoints add no review instant', () => {
    for (const now of [day(5), day(11), day(200)]) {
      const withBreakpoints = derive({ events: [order(0, '15')], now, breakpoints: BP }, now).state;
      expect(withBreakpoints.scores).not.toBeNull();
      expect(withBreakpoints.next_review_at).toEqual(derive({ events: [order(0, '15')], now }, now).state.next_review_at);
    }
  });

  it('reviews when a downgrade grace ends', () => {
    // 12 orders 30 days apart: high (orders_365d ≥ 12) until the first leaves the window at day 365.
    const events = orders(12, 0, 30);
    const policy = frequentGrace.policy;
    const first = derive({ events, now: day(340), policy }, day(340)).state;
    expect(first.tier).toBe('high');
    const dueAt = first.next_review_at!;
    expect(dueAt).toEqual(day(365));
    const pending = derive({ events, now: dueAt, policy, previous: previousStateOf(first) }, dueAt).state;
    expect(pending).toMatchObject({ qualified_tier: 'medium', tier: 'high', pending_tier: 'medium', pending_since: dueAt });
    const graceEnd = plusMs(dueAt, 10 * 86_400_000);
    const scenario: Scenario = { events, now: dueAt, policy, previous: previousStateOf(pending) };
    expect(pending.next_review_at).toEqual(graceEnd);
    expect(derive(scenario, plusMs(graceEnd, -1)).state.tier).toBe('high');
    expect(derive(scenario, graceEnd).state).toMatchObject({ tier: 'medium', pending_tier: null });
  });

  describe('with a P(alive) crossing', () => {
    // orders on days 0, 10, 20; seen on day 25 the next review without a model is the overdue threshold
    const events = orders(3, 0, 10, '20');
    const now = day(25);
    const state = (pAliveBelowAt?: Date) =>
      deriveCustomerState({ digest: digestEvents(events, now), traits: {}, now, stats: { breakpoints: null, abc: null }, policy: DEFAULT_POLICY, previous: null, segments: [], predictions: null, pAliveBelowAt });
    const base = state().next_review_at!;

    it.each([
      ['reviews at the crossing when it comes first', day(30), day(30)],
      ['keeps the earlier threshold when the crossing is later', plusMs(base, 1), base],
      ['ignores a crossing in the past', day(24), base],
    ])('%s', (_name, crossing, expected) => {
      expect(base.getTime()).toBeGreaterThan(day(30).getTime());
      expect(state(crossing).next_review_at).toEqual(expected);
    });
  });
});
