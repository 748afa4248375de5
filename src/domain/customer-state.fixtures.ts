import type { DerivedState, PreviousState } from './customer-state.ts';
import { reasonSince } from './lifecycle.at-risk.ts';

/** A derived state as the next recompute reads it back from its stored row (reasons through their JSON). */
export function previousStateOf(s: DerivedState, computedAt: Date | null = null): PreviousState {
  const reasons = JSON.parse(JSON.stringify(s.at_risk.reasons)) as unknown[];
  return {
    tier: s.tier,
    lifecycle_stage: s.lifecycle_stage,
    at_risk: s.at_risk.flagged,
    at_risk_reasons: s.at_risk.reasons.map((r) => r.code),
    pending_tier: s.pending_tier,
    pending_since: s.pending_since,
    next_review_at: s.next_review_at,
    low_p_alive_since: reasonSince(reasons, 'low_p_alive'),
    computed_at: computedAt,
  };
}
