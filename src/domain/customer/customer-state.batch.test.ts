import { describe, expect, it } from 'vitest';
import { day, order } from '../../../test/fixtures/events.fixtures.ts';
import { digestEvents } from '../facts/digest.ts';
import { DEFAULT_POLICY } from '../policy/policy.ts';
import { deriveBatch, type BatchContext, type CustomerPlan, type StoredCustomer } from './customer-state.batch.ts';

const stats: BatchContext['stats'] = {
  breakpoints: { recency_days: [10, 20, 30, 40], order_count: [1, 2, 3, 4], net_revenue: [50, 100, 150, 200] },
  abc: { a_min: '100', b_min: '50' },
  computedAt: day(0),
};
const context = (now: Date, segments: BatchContext['segments'] = []): BatchContext => ({ now, policy: DEFAULT_POLICY, policySince: day(0), stats, segments, fit: null });

const fresh = (id: string): StoredCustomer => ({
  id, traits: {}, stateHash: null, sequence: 0, computedAt: null, tier: null, pendingTier: null, pendingSince: null,
  lifecycleStage: null, atRisk: false, atRiskReasons: [], nextReviewAt: null, rScore: null, fScore: null, mScore: null,
  valueScore: null, rfmSegment: null, abcClass: null, segments: [],
});

/** The stored customer a plan's row leaves behind, as the next recompute reads it back. */
function storedAfter(plan: CustomerPlan, segments: string[]): StoredCustomer {
  const r = plan.row;
  return {
    id: r.id, traits: {}, stateHash: r.state_hash, sequence: r.sequence, computedAt: new Date(r.computed_at), tier: r.tier,
    pendingTier: r.pending_tier, pendingSince: r.pending_since ? new Date(r.pending_since) : null, lifecycleStage: r.lifecycle_stage,
    atRisk: r.at_risk, atRiskReasons: JSON.parse(JSON.stringify(r.at_risk_reasons ?? [])) as unknown[], nextReviewAt: r.next_review_at ? new Date(r.next_review_at) : null,
    rScore: r.r_score, fScore: r.f_score, mScore: r.m_score, valueScore: r.value_score, rfmSegment: r.rfm_segment, abcClass: r.abc_class, segments,
  };
}

const bigSpenders = [{ key: 'big', rule: { field: 'net_revenue', op: 'gte', value: 100 } }] as unknown as BatchContext['segments'];

describe('deriveBatch', () => {
  const digest = (now: Date, ...amounts: string[]) => digestEvents(amounts.map((a, i) => order(i + 1, a, { customerId: 'c1' })), now);

  it.each([
    { name: 'a first recompute writes and numbers the change', stored: fresh('c1'), amounts: ['120.00'], differs: true, changed: true, sequence: 1, entered: ['big'] },
    { name: 'a prospect is written once, with no tier', stored: fresh('c1'), amounts: [], differs: true, changed: true, sequence: 1, entered: [] },
  ])('$name', ({ stored, amounts, differs, changed, sequence, entered }) => {
    const now = day(5);
    const [plan] = deriveBatch({ customers: [stored], digests: new Map([['c1', digest(now, ...amounts)]]), context: context(now, bigSpenders) });
    expect(plan).toMatchObject({ id: 'c1', differs, changed, entered, exited: [] });
    expect(plan!.row.sequence).toBe(sequence);
    expect(plan!.history.filter((h) => h.kind === 'segment')).toHaveLength(entered.length);
  });

  it('derives the same state again from its own row: nothing differs, nothing changes', () => {
    const now = day(5);
    const digests = new Map([['c1', digest(now, '120.00')]]);
    const [first] = deriveBatch({ customers: [fresh('c1')], digests, context: context(now, bigSpenders) });
    const [again] = deriveBatch({ customers: [storedAfter(first!, first!.segments)], digests, context: context(new Date(now.getTime() + 1), bigSpenders) });
    expect(again).toMatchObject({ differs: false, changed: false, entered: [], exited: [], history: [] });
    expect(again!.row.sequence).toBe(first!.row.sequence);
  });

  it('keeps the order of the customers it is given', () => {
    const now = day(5);
    const ids = ['c3', 'c1', 'c2'];
    const plans = deriveBatch({ customers: ids.map(fresh), digests: new Map(ids.map((id) => [id, digestEvents([], now)])), context: context(now) });
    expect(plans.map((p) => p.id)).toEqual(ids);
  });
});
