import type { CustomerDigest } from '../facts/digest.ts';
import { lifecycleStage, overdueThresholdDays, type AtRiskStatus } from '../lifecycle/lifecycle.ts';
import { INTERACTION_WINDOW_DAYS, ORDER_WINDOW_DAYS, type Metrics } from '../facts/metrics.ts';
import type { TierPolicy } from '../policy/policy.ts';
import type { Rule } from '../rules/rules.ts';
import type { Breakpoints } from '../scoring/scores.ts';
import { addDays, DAY_MS, instantAgeExceeds, instantAgeReaches, minDate } from '../time.ts';

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
  const candidates: (Date | null)[] = [];
  const last = metrics.last_order_at;

  if (metrics.order_count > 0 && last) {
    candidates.push(instantAgeExceeds(last, lc.lapsed_after_days));
    // Past the lapse threshold a customer cannot be at risk, so later at-risk thresholds are moot.
    const atRiskThresholds = [
      overdueThresholdDays(metrics, policy.at_risk),
      metrics.order_count === 1 ? policy.at_risk.one_time_buyer_days : null,
    ];
    for (const days of atRiskThresholds) {
      if (days !== null && days <= lc.lapsed_after_days) candidates.push(instantAgeExceeds(last, days));
    }
    const stage = lifecycleStage(metrics, atRisk.flagged, lc, now);
    if (stage === 'reactivated') {
      candidates.push(instantAgeExceeds(last, lc.reactivated_window_days));
    }
    if (stage === 'active' && metrics.first_order_at && metrics.order_count >= lc.loyal_min_orders) {
      candidates.push(instantAgeReaches(metrics.first_order_at, lc.loyal_min_tenure_days));
    }
  }

  candidates.push(nextWindowExit(digest, now), digest.validUntil, input.pAliveBelowAt ?? null);
  if (input.pendingDowngrade) {
    candidates.push(addDays(input.pendingDowngrade.pendingSince, input.pendingDowngrade.graceDays));
  }
  const rules = [...policy.tiers.flatMap((t) => (t.rule ? [t.rule] : [])), ...(input.rules ?? [])];
  for (const rule of rules) candidates.push(...ruleCrossings(rule, metrics));

  return minDate(candidates.filter((c) => c !== null && c.getTime() > now.getTime()));
}

/** the next instant a counted order leaves the 365-day window or an interaction the 90-day one */
function nextWindowExit(digest: CustomerDigest, now: Date): Date | null {
  const exits = [
    ...digest.orders.filter((o) => o.counted).map((o) => o.occurredAt.getTime() + ORDER_WINDOW_DAYS * DAY_MS),
    ...digest.interactions.interactions.map((at) => at.getTime() + INTERACTION_WINDOW_DAYS * DAY_MS),
  ];
  return minDate(exits.filter((t) => t > now.getTime()).map((t) => new Date(t)));
}

// Rules may compare the two metrics that grow with time; each threshold they use is a potential
// flip. Strict comparisons flip 1 ms after base + days, inclusive ones at it.
function ruleCrossings(rule: Rule, metrics: Metrics): Date[] {
  if ('all' in rule) return rule.all.flatMap((r) => ruleCrossings(r, metrics));
  if ('any' in rule) return rule.any.flatMap((r) => ruleCrossings(r, metrics));
  if ('not' in rule) return ruleCrossings(rule.not, metrics);
  const base = rule.field === 'recency_days' ? metrics.last_order_at : rule.field === 'tenure_days' ? metrics.first_event_at : null;
  if (!base) return [];
  const values = (Array.isArray(rule.value) ? rule.value : [rule.value]).filter((v): v is number => typeof v === 'number');
  const strict = (days: number) => instantAgeExceeds(base, days);
  const inclusive = (days: number) => instantAgeReaches(base, days);
  switch (rule.op) {
    case 'gt':
    case 'lte':
      return values.map(strict);
    case 'gte':
    case 'lt':
      return values.map(inclusive);
    case 'between':
      return [values[0] === undefined ? null : inclusive(values[0]), values[1] === undefined ? null : strict(values[1])].filter(
        (d): d is Date => d !== null,
      );
    default:
      return values.flatMap((v) => [inclusive(v), strict(v)]);
  }
}
