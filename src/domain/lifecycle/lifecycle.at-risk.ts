import type { AtRiskParams, AtRiskReason, AtRiskStatus } from './lifecycle.types.ts';
import { INTERACTION_WINDOW_DAYS, SATISFACTION_SAMPLE, type InteractionHistory, type Metrics } from '../facts/metrics.ts';
import { addDays, DAY_MS, minDate } from '../time.ts';

export type AtRiskInput = AtRiskParams & { lapsed_after_days: number };

export const NOT_AT_RISK: AtRiskStatus = { flagged: false, since: null, reasons: [] };

// The usual gap between orders, stretched, but never less than min_days.
export function overdueThresholdDays(metrics: Metrics, params: AtRiskParams): number | null {
  if (metrics.order_count < 2 || metrics.cadence_days === null) return null;
  return Math.max(params.min_days, params.cadence_multiplier * metrics.cadence_days);
}

// Only buyers who have not lapsed can be at risk (a lapsed customer is past warning). Every reason
// that holds is reported with the instant it started to hold; the overdue reasons start at
// last_order_at + threshold as docs/architecture.md, At-risk flag, words it (the strict comparison first holds 1 ms later).
// low_p_alive starts when P(alive) fell below the bar under the model in force (pAliveSince, see
// predictCustomer), else "now"; a refit moves pAliveSince to the new fit, so while the reason held
// at the previous recompute its earlier since (previousPAliveSince) is kept.
export function atRiskStatus(
  metrics: Metrics,
  params: AtRiskInput,
  pAlive: number | null,
  now: Date,
  history: InteractionHistory,
  pAliveSince: Date | null = null,
  previousPAliveSince: Date | null = null,
): AtRiskStatus {
  const { recency_days: recency, last_order_at: last } = metrics;
  if (metrics.order_count === 0 || recency === null || last === null) return NOT_AT_RISK;
  if (recency > params.lapsed_after_days) return NOT_AT_RISK;

  const reasons: AtRiskReason[] = [];
  const overdue = overdueThresholdDays(metrics, params);
  if (overdue !== null && recency > overdue) {
    reasons.push({
      code: 'overdue_vs_cadence',
      detail: `no order for ${days(recency)} days; usual cadence ${round1(metrics.cadence_days ?? 0)} days (threshold ${round1(overdue)} days)`,
      since: addDays(last, overdue),
    });
  }
  if (metrics.order_count === 1 && recency > params.one_time_buyer_days) {
    reasons.push({
      code: 'one_time_buyer_overdue',
      detail: `a single order ${days(recency)} days ago (threshold ${params.one_time_buyer_days} days)`,
      since: addDays(last, params.one_time_buyer_days),
    });
  }
  const complaintsSince = complaintStreakStart(history.complaints, now, params.complaints_90d_threshold);
  if (metrics.complaints_90d >= params.complaints_90d_threshold && complaintsSince) {
    reasons.push({
      code: 'complaints',
      detail: `${metrics.complaints_90d} complaints in the last ${INTERACTION_WINDOW_DAYS} days (threshold ${params.complaints_90d_threshold})`,
      since: complaintsSince,
    });
  }
  const satisfactionSince = lowSatisfactionStart(history.satisfaction, params.max_satisfaction);
  if (metrics.satisfaction_avg !== null && metrics.satisfaction_avg <= params.max_satisfaction && satisfactionSince) {
    reasons.push({
      code: 'low_satisfaction',
      detail: `average satisfaction ${round1(metrics.satisfaction_avg)} over the last ${SATISFACTION_SAMPLE} ratings (at most ${params.max_satisfaction})`,
      since: satisfactionSince,
    });
  }
  if (pAlive !== null && pAlive < params.p_alive_below) {
    reasons.push({
      code: 'low_p_alive',
      detail: `probability of being alive ${pAlive.toFixed(2)} (below ${params.p_alive_below})`,
      since: minDate([pAliveSince && pAliveSince.getTime() <= now.getTime() ? pAliveSince : now, notAfter(previousPAliveSince, now)])!,
    });
  }
  return { flagged: reasons.length > 0, since: minDate(reasons.map((r) => r.since)), reasons };
}

// The complaint count in the 90-day window is a step function: +1 at each complaint, -1 when it
// leaves the window. The reason started when the count last rose to the threshold and has stayed
// there since, which may be before the oldest complaint still in the window.
export function complaintStreakStart(complaints: Date[], now: Date, threshold: number): Date | null {
  const windowMs = INTERACTION_WINDOW_DAYS * DAY_MS;
  const deltas = new Map<number, number>();
  for (const c of complaints) {
    const at = c.getTime();
    if (at > now.getTime()) continue;
    deltas.set(at, (deltas.get(at) ?? 0) + 1);
    if (at + windowMs <= now.getTime()) deltas.set(at + windowMs, (deltas.get(at + windowMs) ?? 0) - 1);
  }
  let count = 0;
  let start: number | null = null;
  for (const [at, delta] of [...deltas.entries()].sort(([a], [b]) => a - b)) {
    count += delta;
    if (count < threshold) start = null;
    else start ??= at;
  }
  return start === null ? null : new Date(start);
}

// The average of the last 5 ratings only moves when a rating arrives: the reason started with
// the rating after which the average has stayed at or below the maximum.
export function lowSatisfactionStart(ratings: { at: Date; value: number }[], max: number): Date | null {
  let start: Date | null = null;
  for (const [i, rating] of ratings.entries()) {
    const sample = ratings.slice(Math.max(0, i - SATISFACTION_SAMPLE + 1), i + 1);
    const avg = sample.reduce((sum, s) => sum + s.value, 0) / sample.length;
    if (avg > max) start = null;
    else start ??= rating.at;
  }
  return start;
}

/** When a stored state's reason `code` started, if it held (reasons as stored: since an ISO string). */
export function reasonSince(reasons: readonly unknown[], code: AtRiskReason['code']): Date | null {
  const found = reasons.find((r): r is { code: string; since: string | Date } => (r as { code?: unknown })?.code === code);
  const since = found ? new Date(found.since) : null;
  return since && !Number.isNaN(since.getTime()) ? since : null;
}

const notAfter = (at: Date | null, now: Date) => (at && at.getTime() <= now.getTime() ? at : null);
const days = (value: number) => Math.floor(value);
const round1 = (value: number) => Math.round(value * 10) / 10;
