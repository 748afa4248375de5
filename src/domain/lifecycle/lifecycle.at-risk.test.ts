// low_p_alive's since across successive fits: the daily refit must not restart the reason
// (docs/architecture.md, At-risk flag: since is when the earliest current reason started to hold).
import { describe, expect, it } from 'vitest';
import { digestEvents } from '../facts/digest.ts';
import { deriveCustomerState, type DerivedState, type PreviousState } from '../customer/customer-state.ts';
import { order } from '../../../test/fixtures/events.fixtures.ts';
import { reasonSince } from './lifecycle.at-risk.ts';
import { CDNOW_BGNBD, CDNOW_GAMMA_GAMMA } from '../../../test/fixtures/model.fixtures.ts';
import { DEFAULT_POLICY, type TierPolicy } from '../policy/policy.ts';
import { predictCustomer, type ModelParams } from '../model/predictions.ts';
import { previousStateOf } from '../../../test/fixtures/customer-state.fixtures.ts';

const FIT: ModelParams = {
  bgnbd: { ...CDNOW_BGNBD, log_likelihood: -9582.43 },
  gamma_gamma: { ...CDNOW_GAMMA_GAMMA, log_likelihood: -4055.92 },
};
// the overdue reasons are pushed out of reach, so low_p_alive is the only one
const POLICY: TierPolicy = {
  ...DEFAULT_POLICY,
  lifecycle: { ...DEFAULT_POLICY.lifecycle, lapsed_after_days: 2000 },
  at_risk: { ...DEFAULT_POLICY.at_risk, min_days: 1500, one_time_buyer_days: 1500, p_alive_below: 0.3 },
};
const at = (iso: string) => new Date(iso);
// two orders a week apart, then nothing: P(alive) fell below 0.3 in 2025 (long before either fit)
const EVENTS = [order(at('2025-01-01T10:00:00Z'), '10'), order(at('2025-01-08T10:00:00Z'), '10')];
const ORDERS = EVENTS.map((e) => ({ occurredAt: e.occurredAt, net: e.amount }));

function state(now: Date, fittedAt: Date, previous: PreviousState | null, params: ModelParams = FIT): DerivedState {
  const prediction = predictCustomer(params, ORDERS, now, POLICY.at_risk.p_alive_below, fittedAt)!;
  return deriveCustomerState({
    digest: digestEvents(EVENTS, now),
    traits: {},
    now,
    stats: { breakpoints: null, abc: null },
    policy: POLICY,
    previous,
    segments: [],
    predictions: prediction.predictions,
    pAliveBelowAt: prediction.pAliveBelowAt,
    pAliveBelowSince: prediction.pAliveBelowSince,
  });
}

const lowPAlive = (s: DerivedState) => s.at_risk.reasons.find((r) => r.code === 'low_p_alive')?.since.toISOString() ?? null;
const SLIGHTLY_DIFFERENT: ModelParams = { ...FIT, bgnbd: { ...FIT.bgnbd, r: FIT.bgnbd.r * 1.01, a: FIT.bgnbd.a * 0.99 } };

describe('low_p_alive since across daily refits', () => {
  it.each<[string, { first: [string, string]; second: [string, string]; params?: ModelParams; dropBetween?: boolean }, string]>([
    ['same orders, refit next morning: since stays at the first fit', { first: ['2025-12-01T04:00:00Z', '2025-12-01T05:00:00Z'], second: ['2025-12-02T04:00:00Z', '2025-12-02T05:00:00Z'] }, '2025-12-01T04:00:00.000Z'],
    ['a week of refits later, still the first fit', { first: ['2025-12-01T04:00:00Z', '2025-12-01T05:00:00Z'], second: ['2025-12-08T04:00:00Z', '2025-12-08T04:30:00Z'] }, '2025-12-01T04:00:00.000Z'],
    ['a refit with slightly different parameters keeps it too', { first: ['2025-12-01T04:00:00Z', '2025-12-01T05:00:00Z'], second: ['2025-12-02T04:00:00Z', '2025-12-02T05:00:00Z'], params: SLIGHTLY_DIFFERENT }, '2025-12-01T04:00:00.000Z'],
    ['the reason did not hold at the previous recompute: it starts with the new fit', { first: ['2025-12-01T04:00:00Z', '2025-12-01T05:00:00Z'], second: ['2025-12-02T04:00:00Z', '2025-12-02T05:00:00Z'], dropBetween: true }, '2025-12-02T04:00:00.000Z'],
  ])('%s', (_name, { first, second, params, dropBetween }, expected) => {
    const [fitted1, now1] = first.map(at) as [Date, Date];
    const [fitted2, now2] = second.map(at) as [Date, Date];
    const s1 = state(now1, fitted1, null);
    expect(lowPAlive(s1)).toBe(fitted1.toISOString());
    const previous = previousStateOf(s1, now1);
    const s2 = state(now2, fitted2, dropBetween ? { ...previous, low_p_alive_since: null } : previous, params);
    expect(s2.at_risk.reasons.map((r) => r.code)).toEqual(['low_p_alive']);
    expect(lowPAlive(s2)).toBe(expected);
    expect(s2.at_risk.since?.toISOString()).toBe(expected);
    // no change is announced for a reason that merely persisted
    if (!dropBetween) expect(s2.changes.filter((c) => c.kind === 'at_risk')).toEqual([]);
  });

  it.each<[string, unknown[], string | null]>([
    ['a stored low_p_alive reason', [{ code: 'complaints', since: '2025-01-01T00:00:00.000Z' }, { code: 'low_p_alive', since: '2025-12-01T04:00:00.000Z' }], '2025-12-01T04:00:00.000Z'],
    ['no such reason', [{ code: 'complaints', since: '2025-01-01T00:00:00.000Z' }], null],
    ['an unreadable since', [{ code: 'low_p_alive', since: 'soon' }], null],
    ['no reasons', [], null],
  ])('reasonSince: %s', (_name, reasons, expected) => {
    expect(reasonSince(reasons, 'low_p_alive')?.toISOString() ?? null).toBe(expected);
  });
});
