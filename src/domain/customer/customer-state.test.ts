import { describe, expect, it } from 'vitest';
import { digestEvents } from '../facts/digest.ts';
import {
  buildRuleRecord,
  deriveCustomerState,
  ruleRecordOf,
  type CustomerStateInput,
  type DerivedState,
  type PreviousState,
} from './customer-state.ts';
import { day, interaction, order, orders, refund } from '../../../test/fixtures/events.fixtures.ts';
import type { StoredEvent } from '../events/events.types.ts';
import { DEFAULT_POLICY } from '../policy/policy.ts';
import { evaluateRule } from '../rules/rules.ts';
import type { Breakpoints } from '../scoring/scores.ts';
import { previousStateOf } from '../../../test/fixtures/customer-state.fixtures.ts';

const BP: Breakpoints = { recency_days: [10, 30, 60, 120], order_count: [1, 2, 3, 5], net_revenue: [10, 20, 50, 100] };
const plusMs = (d: Date, ms: number) => new Date(d.getTime() + ms);

function derive(events: StoredEvent[], now: Date, previous: PreviousState | null = null, over: Partial<CustomerStateInput> = {}) {
  return deriveCustomerState({
    digest: digestEvents(events, now),
    traits: {},
    now,
    stats: { breakpoints: BP, abc: { a_min: '100', b_min: '20' } },
    policy: DEFAULT_POLICY,
    previous,
    segments: [],
    predictions: null,
    ...over,
  });
}

const summary = (s: DerivedState) => s.changes.map((c) => [c.kind, c.before, c.after, c.changed_at.toISOString()]);

describe('deriveCustomerState', () => {
  it('derives scores, classes, tier, stage and playbook for a buyer', () => {
    const s = derive(orders(3, 0, 1, '20'), day(3));
    expect(s).toMatchObject({
      scores: { r_score: 5, f_score: 3, m_score: 4, value_score: 75 },
      rfm_segment: 'potential_loyalists',
      abc_class: 'B',
      qualified_tier: 'high',
      tier: 'high',
      lifecycle_stage: 'active',
      at_risk: { flagged: false, since: null, reasons: [] },
      playbook: DEFAULT_POLICY.tiers[0]?.playbook,
    });
  });

  it('has no scores without breakpoints; tier rules then fall through to the last tier', () => {
    const s = derive([order(0, '500')], day(1), null, { stats: { breakpoints: null, abc: null } });
    expect(s).toMatchObject({ scores: null, rfm_segment: null, abc_class: null, tier: 'low' });
  });

  it.each<[string, StoredEvent[], Date, (string | boolean | null)[][]]>([
    ['a prospect: only the stage is new', [interaction(0)], day(1), [['lifecycle_stage', null, 'prospect', day(1).toISOString()]]],
    [
      'a first buyer: tier now, stage at the order',
      [order(0, '15')],
      day(1),
      [
        ['tier', null, 'medium', day(1).toISOString()],
        ['lifecycle_stage', null, 'new', day(0).toISOString()],
      ],
    ],
    [
      'an imported history: stage since is historical, the flag starts at its threshold',
      orders(3, 0, 10),
      day(100),
      [
        ['tier', null, 'medium', day(100).toISOString()],
        ['lifecycle_stage', null, 'at_risk', day(50).toISOString()],
        ['at_risk', false, true, day(50).toISOString()],
      ],
    ],
  ])('initial assignment: %s', (_name, events, now, expected) => {
    expect(summary(derive(events, now))).toEqual(expected);
  });

  it('reports no change when nothing changed', () => {
    const first = derive(orders(3, 0, 1, '20'), day(3));
    expect(derive(orders(3, 0, 1, '20'), day(4), previousStateOf(first)).changes).toEqual([]);
  });

  it('dates time-driven changes at the instant they became true, even when noticed late', () => {
    const events = orders(3, 0, 10); // cadence 10: overdue after 30 days, at day 50
    const first = derive(events, day(45));
    expect(first.next_review_at).toEqual(plusMs(day(50), 1));
    const swept = derive(events, plusMs(day(50), 45_000), previousStateOf(first, day(45)));
    expect(summary(swept)).toEqual([
      ['lifecycle_stage', 'active', 'at_risk', day(50).toISOString()],
      ['at_risk', false, true, day(50).toISOString()],
    ]);
    expect(swept.changes[1]?.reasons).toEqual([
      { code: 'overdue_vs_cadence', detail: 'no order for 30 days; usual cadence 10 days (threshold 30 days)' },
    ]);
  });

  it('dates a sweep-driven tier change at the review instant', () => {
    const events = orders(3, 0, 1, '20'); // R5 → R4 at day 12 + 1 ms: value_score 75 → 67
    const first = derive(events, day(3));
    const swept = derive(events, day(13), previousStateOf(first, day(3)));
    expect(summary(swept)).toEqual([['tier', 'high', 'medium', plusMs(day(12), 1).toISOString()]]);
    expect(swept.changes[0]?.reasons.map((r) => r.code)).toEqual(['rule_matched', 'scores']);
  });

  it.each([
    ['a policy saved after the crossing', { policy: day(12.5), stats: null }, day(12.5)],
    ['statistics refreshed after the crossing', { policy: null, stats: day(12.75) }, day(12.75)],
    ['both, the later wins', { policy: day(12.5), stats: day(12.75) }, day(12.75)],
    ['both before the crossing', { policy: day(1), stats: day(2) }, plusMs(day(12), 1)],
  ])('never dates a tier change before %s', (_name, inForceSince, expected) => {
    const events = orders(3, 0, 1, '20');
    const first = derive(events, day(3));
    const swept = derive(events, day(13), previousStateOf(first, day(3)), { inForceSince });
    expect(summary(swept)).toEqual([['tier', 'high', 'medium', expected.toISOString()]]);
  });

  it('dates a lifecycle change no earlier than the policy, whatever the statistics', () => {
    const once = [order(0, '50')]; // one-time buyer: at risk from day 90
    const first = derive(once, day(10));
    const later = derive(once, day(100), previousStateOf(first, day(10)), { inForceSince: { policy: day(95), stats: day(99) } });
    const stage = later.changes.find((c) => c.kind === 'lifecycle_stage');
    expect(stage?.changed_at.toISOString()).toBe(day(95).toISOString());
  });

  it('dates a data-driven change now, and clears at-risk now', () => {
    const events = orders(3, 0, 10);
    const flagged = derive(events, day(60));
    const later = derive([...events, order(70, '10')], day(70), previousStateOf(flagged, day(60)));
    expect(summary(later)).toEqual([
      ['tier', 'medium', 'high', day(70).toISOString()],
      ['lifecycle_stage', 'at_risk', 'active', day(70).toISOString()],
      ['at_risk', true, false, day(70).toISOString()],
    ]);
    expect(later.changes[2]?.reasons).toEqual([{ code: 'cleared', detail: 'no at-risk reason holds any more' }]);
  });

  it('a fully refunded customer becomes a prospect at once', () => {
    const buyer = derive([order(0, '15', { orderId: 'o1' })], day(1));
    const refunded = derive([order(0, '15', { orderId: 'o1' }), refund(2, 'o1', '15')], day(2), previousStateOf(buyer, day(1)));
    expect(refunded).toMatchObject({ tier: null, lifecycle_stage: 'prospect', scores: null, playbook: null });
    expect(refunded.changes.map((c) => [c.kind, c.after, c.reasons[0]?.code])).toEqual([
      ['tier', null, 'no_counted_orders'],
      ['lifecycle_stage', 'prospect', 'prospect'],
    ]);
  });

  it('never dates a change before the previous computation or after now', () => {
    // a late-arriving old order turns a prospect into a lapsed buyer; the lapse itself is years old
    const prospect = derive([interaction(0)], day(500));
    const late = derive([interaction(0), order(1, '15')], day(501), previousStateOf(prospect, day(500)));
    expect(late.lifecycle_stage).toBe('lapsed');
    expect(late.changes.find((c) => c.kind === 'lifecycle_stage')?.changed_at).toEqual(day(500));
    const lowPAlive = derive([order(0, '15')], day(2), null, { predictions: { p_alive: 0.1, expected_orders_90d: null, clv_12m: null } });
    expect(lowPAlive.changes.every((c) => c.changed_at.getTime() <= day(2).getTime())).toBe(true);
  });

  it('holds a downgrade during the grace and dates it at the grace end', () => {
    const policy = { ...DEFAULT_POLICY, downgrade_grace_days: 10 };
    const events = orders(3, 0, 1, '20');
    const first = derive(events, day(3), null, { policy });
    const pending = derive(events, day(13), previousStateOf(first, day(3)), { policy });
    expect(pending).toMatchObject({ tier: 'high', qualified_tier: 'medium', pending_tier: 'medium', pending_since: plusMs(day(12), 1), changes: [] });
    expect(pending.grace_ends_at).toEqual(plusMs(day(22), 1));
    const ended = derive(events, day(23), previousStateOf(pending, day(13)), { policy });
    expect(summary(ended)).toEqual([['tier', 'high', 'medium', plusMs(day(22), 1).toISOString()]]);
    expect(ended.changes[0]?.reasons.map((r) => r.code)).toEqual(['rule_matched', 'scores', 'downgrade_grace_ended']);
  });

  it('builds the rule record segments are evaluated against', () => {
    const input = { segments: ['vip'], predictions: { p_alive: 0.9, expected_orders_90d: 1.5, clv_12m: '99.5' }, traits: { plan: 'pro' } };
    const state = derive(orders(3, 0, 1, '20'), day(3));
    const record = ruleRecordOf(state, input);
    expect(record).toMatchObject({ tier: 'high', at_risk: false, value_score: 75, segments: ['vip'], traits: { plan: 'pro' } });
    expect(evaluateRule({ all: [{ field: 'tier', op: 'eq', value: 'high' }, { field: 'predictions.clv_12m', op: 'gt', value: '99' }, { field: 'segment', op: 'eq', value: 'vip' }] }, record)).toBe(true);
    expect(buildRuleRecord({ ...state, at_risk: true, ...input }).at_risk).toBe(true);
  });
});
