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
import { DEFAULT_POLICY, parsePolicy } from '../policy/policy.ts';
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
      { code: 'overdue_vs_cadence', detail: 'no order since 2024-01-21; usual cadence 10 days (threshold 30 days)' },
    ]);
  });

  // Four orders a day apart under the frequency preset: medium (orders_365d ≥ 4) until the first
  // order leaves the 365-day window at day 365, a review instant; at risk from day 33 meanwhile.
  const policyOf = (document: unknown) => {
    const parsed = parsePolicy(document);
    if (!parsed.ok) throw new Error('bad test policy');
    return parsed.policy;
  };
  const frequency = { policy: policyOf({ preset: 'frequency' }) };
  const frequencyGrace = { policy: policyOf({ preset: 'frequency', downgrade_grace_days: 10 }) };
  const fourOrders = orders(4, 0, 1, '20');
  /** Derived at day 4, then at day 40 (at risk), then at `now` with the previous reviews in between. */
  function throughTheYear(now: Date, over: Partial<CustomerStateInput> = {}) {
    const policy = over.policy ?? frequency.policy;
    const first = derive(fourOrders, day(4), null, { policy });
    const atRisk = derive(fourOrders, day(40), previousStateOf(first, day(4)), { policy });
    return { atRisk, state: derive(fourOrders, now, previousStateOf(atRisk, day(40)), { ...over, policy }) };
  }

  it('dates a sweep-driven tier change at the review instant', () => {
    const { atRisk, state } = throughTheYear(day(370));
    expect(atRisk.next_review_at).toEqual(day(365));
    const tier = state.changes.find((c) => c.kind === 'tier');
    expect([tier?.before, tier?.after, tier?.changed_at]).toEqual(['medium', 'low', day(365)]);
  });

  it('leaves R breakpoint crossings to the statistics refresh: the change is dated when the rescore after the refresh applies it', () => {
    const first = derive(orders(3, 0, 1, '20'), day(3)); // R5 → R4 at day 12 + 1 ms: value_score 75 → 67
    const refreshed = derive(orders(3, 0, 1, '20'), day(13), previousStateOf(first, day(3)), { inForceSince: { policy: null, stats: day(12.75) } });
    expect(summary(refreshed)).toEqual([['tier', 'high', 'medium', day(13).toISOString()]]);
  });

  it.each([
    ['a policy saved after the crossing', { policy: day(366), stats: null }, day(366)],
    ['statistics refreshed after the crossing', { policy: null, stats: day(367) }, day(367)],
    ['both, the later wins', { policy: day(366), stats: day(367) }, day(367)],
    ['both before the crossing', { policy: day(1), stats: day(2) }, day(365)],
  ])('never dates a tier change before %s', (_name, inForceSince, expected) => {
    const tier = throughTheYear(day(370), { inForceSince }).state.changes.find((c) => c.kind === 'tier');
    expect([tier?.before, tier?.after, tier?.changed_at]).toEqual(['medium', 'low', expected]);
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
    const { state: pending } = throughTheYear(day(370), { policy: frequencyGrace.policy });
    expect(pending).toMatchObject({ tier: 'medium', qualified_tier: 'low', pending_tier: 'low', pending_since: day(365) });
    expect(pending.changes.map((c) => c.kind)).not.toContain('tier');
    expect(pending.grace_ends_at).toEqual(day(375));
    const ended = derive(fourOrders, day(380), previousStateOf(pending, day(370)), { policy: frequencyGrace.policy });
    expect(summary(ended)).toEqual([['tier', 'medium', 'low', day(375).toISOString()]]);
    expect(ended.changes[0]?.reasons.map((r) => r.code)).toEqual(['fallback', 'scores', 'downgrade_grace_ended']);
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
