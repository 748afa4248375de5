import { Decimal } from 'decimal.js';
import type { StoredEvent } from './events.types.ts';
import { categorySpend, interactionHistory, pastEvents, resolveOrders, type ResolvedOrder } from './metrics.orders.ts';
import { moneyString, sumMoney } from './money.ts';
import { ageDays, DAY_MS, isWithinDays } from './time.ts';

export { countedOrders, interactionHistory, resolveOrders } from './metrics.orders.ts';
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

export function computeMetrics(events: StoredEvent[], traits: Record<string, unknown>, now: Date): Metrics {
  const past = pastEvents(events, now);
  const orders = resolveOrders(events, now);
  const counted = orders.filter((o) => o.counted);
  const history = interactionHistory(events, now);
  const first = counted[0] ?? null;
  const last = counted.at(-1) ?? null;
  const previous = counted.at(-2) ?? null;
  const netRevenue = sumMoney(counted.map((o) => o.net));
  const recent = counted.filter((o) => isWithinDays(o.occurredAt, now, ORDER_WINDOW_DAYS));
  const discountShare = counted.length === 0 ? null : counted.filter((o) => o.discounted).length / counted.length;
  const firstEvent = past[0] ?? null;
  const interactions90 = history.interactions.filter((at) => isWithinDays(at, now, INTERACTION_WINDOW_DAYS));
  const complaints90 = history.complaints.filter((at) => isWithinDays(at, now, INTERACTION_WINDOW_DAYS));
  const lastSatisfaction = history.satisfaction.slice(-SATISFACTION_SAMPLE).map((s) => s.value);
  const spend = categorySpend(counted);

  return {
    order_count: counted.length,
    net_revenue: moneyString(netRevenue),
    avg_order_value:
      counted.length === 0
        ? null
        : moneyString(netRevenue.div(counted.length).toDecimalPlaces(AVG_DECIMALS, Decimal.ROUND_HALF_UP)),
    first_order_at: first?.occurredAt ?? null,
    last_order_at: last?.occurredAt ?? null,
    previous_order_at: previous?.occurredAt ?? null,
    orders_365d: recent.length,
    revenue_365d: moneyString(sumMoney(recent.map((o) => o.net))),
    recency_days: last ? ageDays(last.occurredAt, now) : null,
    tenure_days: firstEvent ? ageDays(firstEvent.occurredAt, now) : 0,
    first_event_at: firstEvent?.occurredAt ?? null,
    cadence_days:
      first && last && counted.length >= 2
        ? (last.occurredAt.getTime() - first.occurredAt.getTime()) / DAY_MS / (counted.length - 1)
        : null,
    distinct_categories: countCategories(counted),
    top_categories: topCategories(spend),
    discount_order_share: discountShare,
    price_sensitivity: priceSensitivity(discountShare),
    preferred_channel: preferredChannel(counted),
    region: pickRegion(traits, counted, orders),
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

function countCategories(orders: ResolvedOrder[]): number {
  const names = new Set<string>();
  for (const o of orders) for (const item of o.items) if (item.category?.trim()) names.add(item.category.trim());
  return names.size;
}

// Categories that only appear on zero-priced lines got no spend and are not "top"; ties on spend
// are broken by name so the list is stable.
function topCategories(spend: Map<string, Decimal>): string[] {
  return [...spend.entries()]
    .filter(([, amount]) => amount.gt(0))
    .sort(([a, x], [b, y]) => y.cmp(x) || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, 3)
    .map(([name]) => name);
}

// Most counted orders wins; among tied channels, the one used most recently wins.
function preferredChannel(orders: ResolvedOrder[]): string | null {
  const stats = new Map<string, { count: number; lastIndex: number }>();
  orders.forEach((o, index) => {
    if (!o.channel) return;
    const s = stats.get(o.channel) ?? { count: 0, lastIndex: -1 };
    stats.set(o.channel, { count: s.count + 1, lastIndex: index });
  });
  let best: [string, { count: number; lastIndex: number }] | null = null;
  for (const entry of stats) {
    const [, s] = entry;
    if (!best || s.count > best[1].count || (s.count === best[1].count && s.lastIndex > best[1].lastIndex)) best = entry;
  }
  return best?.[0] ?? null;
}

// Explicit trait first; else the most recent counted order that names a region; else any order
// (cancelled or fully refunded ones still tell us where the customer is).
function pickRegion(traits: Record<string, unknown>, counted: ResolvedOrder[], all: ResolvedOrder[]): string | null {
  const trait = traits['region'];
  if (typeof trait === 'string' && trait.trim() !== '') return trait;
  const latest = (list: ResolvedOrder[]) => list.findLast((o) => o.region !== null && o.region !== '')?.region ?? null;
  return latest(counted) ?? latest(all);
}

