import type { CustomerDigest } from '../facts/digest.ts';
import { lifecycleStage, overdueThresholdDays, type AtRiskStatus } from '../lifecycle/lifecycle.ts';
import { INTERACTION_WINDOW_DAYS, ORDER_WINDOW_DAYS, type Metrics } from '../facts/metrics.ts';
import type { TierPolicy } from '../policy/policy.ts';
import type { Rule } from '../rules/rules.ts';
import type { Breakpoints } from '../scoring/scores.ts';
import { addDays, DAY_MS, firstInstantMs } from '../time.ts';

export interface NextReviewInput {
  digest: CustomerDigest;
  metrics: Metrics;
  breakpoints: Breakpoints | null;
  policy: TierPolicy;
  atRisk: AtRiskStatus;
  pendingDowngrade: { pendingSince: Date; graceDays: number } | null;
  now: Date;
  /** other rules evaluated on this customer (saved segments); tier rules are read from the policy */
  rules?: Rule[];
  /** when P(alive) crosses below the at-risk threshold with no new order (null: never, or no model) */
  pAliveBelowAt?: Date | null;
}

// The earliest instant strictly after now at which some customer-specific derived value (windowed
// counts, at-risk reasons, stage, tier) changes with no new event; null when none ever will. An R
// score crossing a population breakpoint is not one of them: breakpoints move with every
// statistics refresh, and the refresh re-scores the customers whose scores change (set-based,
// rescore.service.ts), so crossings take effect at the daily refresh. Each
// candidate is the first whole ms at which its comparison flips (strict thresholds one ms after
// base + days). Candidates that cannot change anything in the current state are left out (e.g.
// loyal tenure while at risk): whatever has to happen first to make them matter is itself a
// candidate, and the review at that instant will add them.
export function nextReviewAt(input: NextReviewInput): Date | null {
  const { digest, metrics, policy, atRisk, now } = input;
  const lc = policy.lifecycle;
  const next: Earliest = { nowMs: now.getTime(), best: Infinity };
  const last = metrics.last_order_at;

  if (metrics.order_count > 0 && last) {
    const lastMs = last.getTime();
    consider(next, firstInstantMs(lastMs, lc.lapsed_after_days, true));
    // Past the lapse threshold a customer cannot be at risk, so later at-risk thresholds are moot.
    const overdue = overdueThresholdDays(metrics, policy.at_risk);
    if (overdue !== null && overdue <= lc.lapsed_after_days) consider(next, firstInstantMs(lastMs, overdue, true));
    const oneTime = metrics.order_count === 1 ? policy.at_risk.one_time_buyer_days : null;
    if (oneTime !== null && oneTime <= lc.lapsed_after_days) consider(next, firstInstantMs(lastMs, oneTime, true));
    const stage = lifecycleStage(metrics, atRisk.flagged, lc, now);
    if (stage === 'reactivated') {
      consider(next, firstInstantMs(lastMs, lc.reactivated_window_days, true));
    }
    if (stage === 'active' && metrics.first_order_at && metrics.order_count >= lc.loyal_min_orders) {
      consider(next, firstInstantMs(metrics.first_order_at.getTime(), lc.loyal_min_tenure_days, false));
    }
  }

  windowExits(digest, next);
  consider(next, digest.validUntil?.getTime());
  consider(next, input.pAliveBelowAt?.getTime());
  if (input.pendingDowngrade) {
    consider(next, addDays(input.pendingDowngrade.pendingSince, input.pendingDowngrade.graceDays).getTime());
  }
  for (const tier of policy.tiers) if (tier.rule) ruleCrossings(tier.rule, metrics, next);
  for (const rule of input.rules ?? []) ruleCrossings(rule, metrics, next);

  return next.best === Infinity ? null : new Date(next.best);
}

/** The earliest candidate instant after now seen so far, as epoch ms (Infinity: none yet). */
interface Earliest {
  nowMs: number;
  best: number;
}

function consider(next: Earliest, t: number | null | undefined): void {
  if (t !== null && t !== undefined && t > next.nowMs && t < next.best) next.best = t;
}

/** the instants a counted order leaves the 365-day window and an interaction the 90-day one */
function windowExits(digest: CustomerDigest, next: Earliest): void {
  for (const o of digest.orders) if (o.counted) consider(next, o.occurredAt.getTime() + ORDER_WINDOW_DAYS * DAY_MS);
  for (const at of digest.interactions.interactions) consider(next, at.getTime() + INTERACTION_WINDOW_DAYS * DAY_MS);
}

// Rules may compare the two metrics that grow with time; each threshold they use is a potential
// flip. Strict comparisons flip 1 ms after base + days, inclusive ones at it.
function ruleCrossings(rule: Rule, metrics: Metrics, next: Earliest): void {
  if ('all' in rule) {
    for (const r of rule.all) ruleCrossings(r, metrics, next);
    return;
  }
  if ('any' in rule) {
    for (const r of rule.any) ruleCrossings(r, metrics, next);
    return;
  }
  if ('not' in rule) return ruleCrossings(rule.not, metrics, next);
  const base = rule.field === 'recency_days' ? metrics.last_order_at : rule.field === 'tenure_days' ? metrics.first_event_at : null;
  if (!base) return;
  const start = base.getTime();
  const values = (Array.isArray(rule.value) ? rule.value : [rule.value]).filter((v): v is number => typeof v === 'number');
  switch (rule.op) {
    case 'gt':
    case 'lte':
      for (const v of values) consider(next, firstInstantMs(start, v, true));
      return;
    case 'gte':
    case 'lt':
      for (const v of values) consider(next, firstInstantMs(start, v, false));
      return;
    case 'between':
      if (values[0] !== undefined) consider(next, firstInstantMs(start, values[0], false));
      if (values[1] !== undefined) consider(next, firstInstantMs(start, values[1], true));
      return;
    default:
      for (const v of values) {
        consider(next, firstInstantMs(start, v, false));
        consider(next, firstInstantMs(start, v, true));
      }
  }
}
