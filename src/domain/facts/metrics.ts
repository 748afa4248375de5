import type { StoredEvent } from '../events/events.types.ts';
import { digestEvents, type CustomerDigest, type DigestOrder } from './digest.ts';
import { divideMoney, sumMoneyString } from '../money.ts';
import { ageDays, DAY_MS } from '../time.ts';

export { interactionHistory, resolveOrders } from './metrics.orders.ts';
export type { InteractionHistory, ResolvedOrder } from './metrics.orders.ts';

export type PriceSensitivity = 'high' | 'medium' | 'low';
export const PRICE_SENSITIVITIES = ['high', 'medium', 'low'] as const;

// snake_case on purpose: these keys are also rule-language fields and the API shape.
export interface Metrics {
  order_count: number;
  net_revenue: string;
  avg_order_value: string | null;
  first_order_at: Date | null;
  last_order_at: Date | null;
  /** the counted order before the last one (reactivation needs the gap) */
  previous_order_at: Date | null;
  orders_365d: number;
  revenue_365d: string;
  recency_days: number | null;
  tenure_days: number;
  first_event_at: Date | null;
  cadence_days: number | null;
  distinct_categories: number;
  top_categories: string[];
  discount_order_share: number | null;
  price_sensitivity: PriceSensitivity | null;
  preferred_channel: string | null;
  region: string | null;
  interactions_90d: number;
  complaints_90d: number;
  last_interaction_at: Date | null;
  satisfaction_avg: number | null;
}

export const ORDER_WINDOW_DAYS = 365;
export const INTERACTION_WINDOW_DAYS = 90;
export const SATISFACTION_SAMPLE = 5;

/** The metrics of a customer's events as of now. */
export function computeMetrics(events: StoredEvent[], traits: Record<string, unknown>, now: Date): Metrics {
  return metricsFromDigest(digestEvents(events, now), traits, now);
}

/**
 * The metrics as of now from a digest that holds at now (digestHoldsAt). Every recompute and
 * rescore derives these, so it is one pass over the orders and the interactions, instants compared
 * as ms and money summed and divided in scaled integers (domain/money.ts).
 */
export function metricsFromDigest(digest: CustomerDigest, traits: Record<string, unknown>, now: Date): Metrics {
  const nowMs = now.getTime();
  const history = digest.interactions;
  let count = 0;
  let first: DigestOrder | null = null;
  let previous: DigestOrder | null = null;
  let last: DigestOrder | null = null;
  const recentNets: string[] = [];
  for (const o of digest.orders) {
    if (!o.counted) continue;
    count++;
    first ??= o;
    previous = last;
    last = o;
    if (withinMs(o.occurredAt, nowMs, ORDER_WINDOW_MS)) recentNets.push(o.net);
  }
  const discountShare = count === 0 ? null : digest.discountedOrders / count;
  const lastSatisfaction = history.satisfaction.slice(-SATISFACTION_SAMPLE);
  let satisfactionSum = 0;
  for (const s of lastSatisfaction) satisfactionSum += s.value;

  return {
    order_count: count,
    net_revenue: digest.netRevenue,
    // avg_order_value is the only division of money: rounded half-up to the 4 decimals amounts carry.
    avg_order_value: count === 0 ? null : divideMoney(digest.netRevenue, count),
    first_order_at: first?.occurredAt ?? null,
    last_order_at: last?.occurredAt ?? null,
    previous_order_at: previous?.occurredAt ?? null,
    orders_365d: recentNets.length,
    revenue_365d: sumMoneyString(recentNets),
    recency_days: last ? ageDays(last.occurredAt, now) : null,
    tenure_days: digest.firstEventAt ? ageDays(digest.firstEventAt, now) : 0,
    first_event_at: digest.firstEventAt,
    cadence_days:
      first && last && count >= 2
        ? (last.occurredAt.getTime() - first.occurredAt.getTime()) / DAY_MS / (count - 1)
        : null,
    distinct_categories: digest.distinctCategories,
    top_categories: digest.topCategories,
    discount_order_share: discountShare,
    price_sensitivity: priceSensitivity(discountShare),
    preferred_channel: digest.preferredChannel,
    region: pickRegion(traits, digest.orderRegion),
    interactions_90d: countWithin(history.interactions, nowMs, INTERACTION_WINDOW_MS),
    complaints_90d: countWithin(history.complaints, nowMs, INTERACTION_WINDOW_MS),
    last_interaction_at: history.interactions.at(-1) ?? null,
    satisfaction_avg: lastSatisfaction.length === 0 ? null : satisfactionSum / lastSatisfaction.length,
  };
}

const ORDER_WINDOW_MS = ORDER_WINDOW_DAYS * DAY_MS;
const INTERACTION_WINDOW_MS = INTERACTION_WINDOW_DAYS * DAY_MS;

/** isWithinDays(at, now, window / DAY_MS) on ms. */
function withinMs(at: Date, nowMs: number, windowMs: number): boolean {
  const age = nowMs - at.getTime();
  return age >= 0 && age < windowMs;
}

function countWithin(instants: readonly Date[], nowMs: number, windowMs: number): number {
  let n = 0;
  for (const at of instants) if (withinMs(at, nowMs, windowMs)) n++;
  return n;
}

export function priceSensitivity(discountShare: number | null): PriceSensitivity | null {
  if (discountShare === null) return null;
  if (discountShare >= 0.5) return 'high';
  if (discountShare >= 0.2) return 'medium';
  return 'low';
}

// Explicit trait first; else the most recent counted order that names a region; else any order
// (cancelled or fully refunded ones still tell us where the customer is).
function pickRegion(traits: Record<string, unknown>, orderRegion: string | null): string | null {
  const trait = traits['region'];
  if (typeof trait === 'string' && trait.trim() !== '') return trait;
  return orderRegion;
}
