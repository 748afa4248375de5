import type { AtRiskStatus, LifecycleParams, LifecycleStage } from './lifecycle.types.ts';
import type { Metrics } from '../facts/metrics.ts';
import { addDays, ageDays, maxDate } from '../time.ts';

export * from './lifecycle.types.ts';
export { atRiskStatus, complaintStreakStart, lowSatisfactionStart, NOT_AT_RISK, overdueThresholdDays } from './lifecycle.at-risk.ts';
export type { AtRiskInput } from './lifecycle.at-risk.ts';

// "≥" thresholds in docs/architecture.md, Lifecycle stage, are inclusive and ">" strict, exactly as written.
export function isLapsed(metrics: Metrics, params: LifecycleParams): boolean {
  return metrics.recency_days !== null && metrics.recency_days > params.lapsed_after_days;
}

/** the latest order came after a gap longer than lapsed_after_days */
export function followedLapse(metrics: Metrics, params: LifecycleParams): boolean {
  const { previous_order_at: prev, last_order_at: last } = metrics;
  return prev !== null && last !== null && ageDays(prev, last) > params.lapsed_after_days;
}

export function isReactivated(metrics: Metrics, params: LifecycleParams): boolean {
  return (
    followedLapse(metrics, params) &&
    metrics.recency_days !== null &&
    metrics.recency_days <= params.reactivated_window_days
  );
}

export function isLoyal(metrics: Metrics, params: LifecycleParams, now: Date): boolean {
  return (
    metrics.order_count >= params.loyal_min_orders &&
    metrics.first_order_at !== null &&
    ageDays(metrics.first_order_at, now) >= params.loyal_min_tenure_days
  );
}

export function lifecycleStage(metrics: Metrics, atRiskFlagged: boolean, params: LifecycleParams, now: Date): LifecycleStage {
  if (metrics.order_count === 0) return 'prospect';
  if (isLapsed(metrics, params)) return 'lapsed';
  if (atRiskFlagged) return 'at_risk';
  if (isReactivated(metrics, params)) return 'reactivated';
  if (metrics.order_count === 1) return 'new';
  if (isLoyal(metrics, params, now)) return 'loyal';
  return 'active';
}

// The instant the stage's own condition started to hold, when the data tells us; `fallback`
// otherwise (prospects, or at-risk without a since). A stage can also begin because an earlier
// stage in the list stopped holding (e.g. at_risk cleared); the caller bounds the result by the
// review that noticed it (see customer-state.ts).
export function stageSince(
  stage: LifecycleStage,
  metrics: Metrics,
  atRisk: AtRiskStatus,
  params: LifecycleParams,
  fallback: Date,
  countedOrderTimes: Date[],
): Date {
  const last = metrics.last_order_at;
  switch (stage) {
    case 'prospect':
      return fallback;
    case 'lapsed':
      return last ? addDays(last, params.lapsed_after_days) : fallback;
    case 'at_risk':
      return atRisk.since ?? fallback;
    case 'loyal': {
      const tenureReached = metrics.first_order_at ? addDays(metrics.first_order_at, params.loyal_min_tenure_days) : null;
      return maxDate([tenureReached, countedOrderTimes[params.loyal_min_orders - 1]]) ?? fallback;
    }
    case 'reactivated':
    case 'new':
    case 'active':
      return last ?? fallback;
  }
}

// Why a customer is in a stage, for history rows and webhooks.
export function stageReason(
  stage: LifecycleStage,
  metrics: Metrics,
  atRisk: AtRiskStatus,
  params: LifecycleParams,
): { code: string; detail: string } {
  const recency = Math.floor(metrics.recency_days ?? 0);
  const gap = metrics.previous_order_at && metrics.last_order_at ? Math.floor(ageDays(metrics.previous_order_at, metrics.last_order_at)) : 0;
  const details: Record<LifecycleStage, string> = {
    prospect: 'no counted orders',
    lapsed: `no order for ${recency} days (more than ${params.lapsed_after_days})`,
    at_risk: `at-risk flag set: ${atRisk.reasons.map((r) => r.code).join(', ')}`,
    reactivated: `ordered again after a ${gap}-day gap (more than ${params.lapsed_after_days}); last order ${recency} days ago`,
    new: 'exactly 1 counted order',
    loyal: `${metrics.order_count} orders (at least ${params.loyal_min_orders}) and first order at least ${params.loyal_min_tenure_days} days ago`,
    active: `${metrics.order_count} orders; not new, reactivated, loyal or at risk`,
  };
  return { code: stage, detail: details[stage] };
}
