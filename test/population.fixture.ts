/**
 * A deterministic population of buyers with known orders, refunds and cancellations, and an
 * independent, deliberately plain computation of what Tierwise must derive from it (docs/architecture.md, Metrics to At-risk flag).
 */
import { mulberry32 } from './seeded-random.ts';

const DAY = 86_400_000;

export interface PlannedOrder {
  orderId: string;
  at: Date;
  cents: number;
  refundCents: number;
  cancelled: boolean;
}

export interface PlannedCustomer {
  id: string;
  orders: PlannedOrder[];
}

export function planPopulation(count: number, now: Date, seed = 7): PlannedCustomer[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, (_, c) => {
    const n = 1 + Math.floor(random() * random() * 14);
    const orders = Array.from({ length: n }, (_, i) => {
      const cents = Math.floor(random() * 40_000) + (random() < 0.05 ? 0 : 100);
      const roll = random();
      return {
        orderId: `ord-${c}-${i}`,
        at: new Date(now.getTime() - Math.floor(random() * 700 * DAY) - 60_000),
        cents,
        refundCents: roll < 0.08 ? cents : roll < 0.16 ? Math.floor(cents / 3) : 0,
        cancelled: roll > 0.95,
      };
    });
    return { id: `pop-${String(c).padStart(4, '0')}`, orders };
  });
}

export function toEvents(customers: PlannedCustomer[]) {
  const dec = (cents: number) => (cents / 100).toFixed(2);
  return customers.flatMap((c) =>
    c.orders.flatMap((o) => [
      { id: `${o.orderId}-o`, type: 'order', customer_id: c.id, occurred_at: o.at.toISOString(), order_id: o.orderId, amount: dec(o.cents) },
      ...(o.refundCents > 0
        ? [{ id: `${o.orderId}-r`, type: 'refund', customer_id: c.id, occurred_at: new Date(o.at.getTime() + DAY / 2).toISOString(), order_id: o.orderId, amount: dec(o.refundCents) }]
        : []),
      ...(o.cancelled
        ? [{ id: `${o.orderId}-c`, type: 'order_cancelled', customer_id: c.id, occurred_at: new Date(o.at.getTime() + 1_000).toISOString(), order_id: o.orderId }]
        : []),
    ]),
  );
}

/** percentile_cont: linear interpolation between the closest ranks. */
function percentileCont(sorted: number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

const GRID: Record<number, string[]> = {
  5: ['new', 'potential_loyalists', 'potential_loyalists', 'champions', 'champions'],
  4: ['promising', 'potential_loyalists', 'potential_loyalists', 'loyal', 'loyal'],
  3: ['about_to_sleep', 'about_to_sleep', 'need_attention', 'loyal', 'loyal'],
  2: ['hibernating', 'hibernating', 'at_risk', 'at_risk', 'cant_lose'],
  1: ['hibernating', 'hibernating', 'at_risk', 'at_risk', 'cant_lose'],
};

export interface Expected {
  order_count: number;
  net_cents: number;
  r: number;
  f: number;
  m: number;
  value_score: number;
  rfm_segment: string;
  abc_class: string;
  tier: string;
}

/** The scores docs/architecture.md defines, computed from the plan alone (money in integer cents). */
export function expectedScores(customers: PlannedCustomer[], now: Date): Map<string, Expected> {
  const buyers = customers
    .map((c) => {
      const counted = c.orders.filter((o) => !o.cancelled && o.cents - o.refundCents > 0);
      const net = counted.reduce((s, o) => s + o.cents - o.refundCents, 0);
      const last = Math.max(...counted.map((o) => o.at.getTime()));
      return { id: c.id, count: counted.length, net, recency: (now.getTime() - last) / DAY };
    })
    .filter((b) => b.count > 0);
  const quartet = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return [0.2, 0.4, 0.6, 0.8].map((q) => percentileCont(sorted, q));
  };
  const pR = quartet(buyers.map((b) => b.recency));
  const pF = quartet(buyers.map((b) => b.count));
  const pM = quartet(buyers.map((b) => b.net / 100));

  const byRevenue = [...buyers].sort((a, b) => b.net - a.net || a.id.localeCompare(b.id));
  const total = byRevenue.reduce((s, b) => s + b.net, 0);
  let cumulative = 0;
  let aMin = Infinity;
  let bMin = Infinity;
  byRevenue.forEach((b, i) => {
    cumulative += b.net;
    if (i === 0 || cumulative <= 0.8 * total) aMin = Math.min(aMin, b.net);
    else if (cumulative <= 0.95 * total) bMin = Math.min(bMin, b.net);
  });

  const result = new Map<string, Expected>();
  for (const b of buyers) {
    const r = 5 - pR.filter((p) => b.recency > p).length;
    const f = 1 + pF.filter((p) => b.count > p).length;
    const m = 1 + pM.filter((p) => b.net / 100 > p).length;
    const value = Math.round((100 * (r - 1 + (f - 1) + (m - 1))) / 12);
    result.set(b.id, {
      order_count: b.count,
      net_cents: b.net,
      r,
      f,
      m,
      value_score: value,
      rfm_segment: GRID[r]![f - 1]!,
      abc_class: b.net >= aMin ? 'A' : b.net >= bMin ? 'B' : 'C',
      tier: value >= 70 ? 'high' : value >= 40 ? 'medium' : 'low',
    });
  }
  return result;
}
