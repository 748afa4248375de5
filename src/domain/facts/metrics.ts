import { Decimal } from 'decimal.js';
import type { StoredEvent } from '../events/events.types.ts';
import { digestEvents, type CustomerDigest } from './digest.ts';
import { money, moneyString, sumMoney } from '../money.ts';
import { ageDays, DAY_MS, isWithinDays } from '../time.ts';

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
// avg_order_value is the only division of money: rounded half-up to the 4 decimals amounts carry.
const AVG_DECIMALS = 4;

/** The metrics of a customer's events as of now. */
export function computeMetrics(events: StoredEvent[], traits: Record<string, unknown>, now: Date): Metrics {
  return metricsFromDigest(digestEvents(events, now), traits, now);
}

/** The metrics as of now from a digest that holds at now (digestHoldsAt). */
export function metricsFromDigest(digest: CustomerDigest, traits: Record<string, unknown>, now: Date): Metrics {
  const counted = digest.orders.filter((o) => o.counted);
  const history = digest.interactions;
  const first = counted[0] ?? null;
  const last = counted.at(-1) ?? null;
  const previous = counted.at(-2) ?? null;
  const recent = counted.filter((o) => isWithinDays(o.occurredAt, now, ORDER_WINDOW_DAYS));
  const discountShare = counted.length === 0 ? null : digest.discountedOrders / counted.length;
  const interactions90 = history.interactions.filter((at) => isWithinDays(at, now, INTERACTION_WINDOW_DAYS));
  const complaints90 = history.complaints.filter((at) => isWithinDays(at, now, INTERACTION_WINDOW_DAYS));
  const lastSatisfaction = history.satisfaction.slice(-SATISFACTION_SAMPLE).map((s) => s.value);

  return {
    order_count: counted.length,
    net_revenue: digest.netRevenue,
    avg_order_value:
      counted.length === 0
        ? null
        : moneyString(money(digest.netRevenue).div(counted.length).toDecimalPlaces(AVG_DECIMALS, Decimal.ROUND_HALF_UP)),
    first_order_at: first?.occurredAt ?? null,
    last_order_at: last?.occurredAt ?? null,
    previous_order_at: previous?.occurredAt ?? null,
    orders_365d: recent.length,
    revenue_365d: moneyString(sumMoney(recent.map((o) => o.net))),
    recency_days: last ? ageDays(last.occurredAt, now) : null,
    tenure_days: digest.firstEventAt ? ageDays(digest.firstEventAt, now) : 0,
    first_event_at: digest.firstEventAt,
    cadence_days:
      first && last && counted.length >= 2
        ? (last.occurredAt.getTime() - first.occurredAt.getTime()) / DAY_MS / (counted.length - 1)
        : null,
    distinct_categories: digest.distinctCategories,
    top_categories: digest.topCategories,
    discount_order_share: discountShare,
    price_sensitivity: priceSensitivity(discountShare),
    preferred_channel: digest.preferredChannel,
    region: pickRegion(traits, digest.orderRegion),
    interactions_90d: interactions90.length,
    complaints_90d: complaints90.length,
    last_interaction_at: history.interactions.at(-1) ?? null,
    satisfaction_avg:
      lastSatisfaction.length === 0 ? null : lastSatisfaction.reduce((a, b) => a + b, 0) / lastSatisfaction.length,
  };
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
