import type { Decimal } from 'decimal.js';
import type { InteractionEvent, OrderEvent, OrderItem, StoredEvent } from '../events/events.types.ts';
import { money, moneyString, ZERO } from '../money.ts';
import { byTimeThenId } from '../time.ts';

export interface ResolvedOrder {
  id: string;
  orderId: string;
  occurredAt: Date;
  amount: string;
  /** amount minus every refund for this order, floored at 0 */
  net: string;
  cancelled: boolean;
  /** some refund (an amount or whole_order) applies to the order */
  refunded: boolean;
  /** not cancelled and net > 0: the orders every metric counts */
  counted: boolean;
  discounted: boolean;
  channel: string | null;
  region: string | null;
  items: OrderItem[];
}

export interface InteractionHistory {
  /** every interaction instant, ascending */
  interactions: Date[];
  /** instants of interactions of kind 'complaint', ascending */
  complaints: Date[];
  /** satisfaction values in (occurredAt, id) order */
  satisfaction: { at: Date; value: number }[];
}

// Events are only ever "as of now": anything stamped later is ignored (ingest allows a few
// minutes of skew), and a fixed (occurredAt, id) order makes every tie deterministic.
export function pastEvents(events: StoredEvent[], now: Date): StoredEvent[] {
  return memoized(pastCache, events, now, () => {
    const limit = now.getTime();
    return events.filter((e) => e.occurredAt.getTime() <= limit).sort(byTimeThenId);
  });
}

// One recompute reads a customer's past events, resolved orders and interactions from metrics,
// predictions, at-risk status, review instants and change detection, each time from the same
// events array and the same `now`. Event lists are never mutated once built (and the results
// handed out here are never mutated either), so each is computed once per (array, now) and
// forgotten with the array.
type Memo<T> = WeakMap<StoredEvent[], { at: number; value: T }>;
const pastCache: Memo<StoredEvent[]> = new WeakMap();
const resolvedCache: Memo<ResolvedOrder[]> = new WeakMap();
const interactionCache: Memo<InteractionHistory> = new WeakMap();

function memoized<T>(cache: Memo<T>, events: StoredEvent[], now: Date, compute: () => T): T {
  const at = now.getTime();
  const hit = cache.get(events);
  if (hit && hit.at === at) return hit.value;
  const value = compute();
  cache.set(events, { at, value });
  return value;
}

// Refunds and cancellations are collected before they are applied, so their arrival order (and
// their occurredAt relative to the order) never matters; those for unknown orders are dropped.
// A whole-order refund carries no amount (the sender may not know it, or the order may arrive
// later): it takes the order's net value to 0 whatever the order's amount turns out to be.
export function resolveOrders(events: StoredEvent[], now: Date): ResolvedOrder[] {
  return memoized(resolvedCache, events, now, () => resolveOrdersOnce(events, now));
}

function resolveOrdersOnce(events: StoredEvent[], now: Date): ResolvedOrder[] {
  const firsts = new Map<string, OrderEvent>();
  const refunds = new Map<string, Decimal>();
  const wholeRefunds = new Set<string>();
  const cancelled = new Set<string>();
  for (const e of pastEvents(events, now)) {
    if (e.type === 'order' && !firsts.has(e.orderId)) firsts.set(e.orderId, e);
    if (e.type === 'refund' && e.wholeOrder) wholeRefunds.add(e.orderId);
    if (e.type === 'refund' && e.amount !== null) refunds.set(e.orderId, (refunds.get(e.orderId) ?? ZERO).plus(money(e.amount)));
    if (e.type === 'order_cancelled') cancelled.add(e.orderId);
  }
  return [...firsts.values()].map((o) => {
    const net = wholeRefunds.has(o.orderId) ? ZERO : floorAtZero(money(o.amount).minus(refunds.get(o.orderId) ?? ZERO));
    const isCancelled = cancelled.has(o.orderId);
    return {
      id: o.id,
      orderId: o.orderId,
      occurredAt: o.occurredAt,
      amount: moneyString(o.amount),
      net: moneyString(net),
      cancelled: isCancelled,
      refunded: wholeRefunds.has(o.orderId) || refunds.has(o.orderId),
      counted: !isCancelled && net.gt(0),
      discounted: o.discountAmount !== null && money(o.discountAmount).gt(0),
      channel: o.channel,
      region: o.region,
      items: o.items,
    };
  });
}

export function interactionHistory(events: StoredEvent[], now: Date): InteractionHistory {
  return memoized(interactionCache, events, now, () => interactionHistoryOnce(events, now));
}

function interactionHistoryOnce(events: StoredEvent[], now: Date): InteractionHistory {
  const interactions = pastEvents(events, now).filter((e): e is InteractionEvent => e.type === 'interaction');
  return {
    interactions: interactions.map((e) => e.occurredAt),
    complaints: interactions.filter((e) => e.kind === 'complaint').map((e) => e.occurredAt),
    satisfaction: interactions.flatMap((e) =>
      e.satisfaction === null ? [] : [{ at: e.occurredAt, value: e.satisfaction }],
    ),
  };
}

function floorAtZero(value: Decimal): Decimal {
  return value.gt(0) ? value : ZERO;
}

// Category spend apportions each order's NET value to its items in proportion to their line
// value (quantity, default 1, times unit_price, default 0), so refunds and discounts shrink
// categories proportionally and the shares add up to what the customer actually paid. Items
// without any price split the order evenly.
export function categorySpend(orders: ResolvedOrder[]): Map<string, Decimal> {
  const spend = new Map<string, Decimal>();
  for (const order of orders) {
    if (order.items.length === 0) continue;
    const lines = order.items.map((item) => ({
      category: item.category?.trim() || null,
      value: lineValue(item),
    }));
    const total = lines.reduce((sum, l) => sum.plus(l.value), ZERO);
    const net = money(order.net);
    for (const line of lines) {
      if (line.category === null) continue;
      const share = total.gt(0) ? net.times(line.value).div(total) : net.div(lines.length);
      spend.set(line.category, (spend.get(line.category) ?? ZERO).plus(share));
    }
  }
  return spend;
}

function lineValue(item: OrderItem): Decimal {
  const value = money(item.unit_price ?? 0).times(item.quantity ?? 1);
  return value.gt(0) ? value : ZERO;
}

/**
 * The model's purchases: counted orders plus free orders (amount 0) with no refund. A free order (a
 * sample, a 100% voucher) still shows the customer is alive, and the CDNOW data the model is
 * checked against has such purchases. Cancelled orders, fully refunded ones (net 0 after refunds,
 * or any whole_order refund) and refunded free orders are not purchases. Spend is the net value,
 * floored at 0. countedOrdersAsOf({ freeOrders: true }) in store/stats.repo.ts is the same rule in SQL.
 */
export function modelPurchases(orders: readonly ResolvedOrder[]): ResolvedOrder[] {
  return orders.filter((o) => o.counted || (!o.cancelled && !o.refunded && money(o.amount).isZero()));
}
